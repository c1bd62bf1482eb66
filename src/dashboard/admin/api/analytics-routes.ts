import type { FastifyInstance } from 'fastify';
import { queryTopTenants } from '../../../store/usage-queries.ts';
import { loadUsage, rangeOf } from '../../analytics.ts';
import type { DashboardDeps } from '../../deps.ts';
import { adminForApi } from './request.ts';

/** What the admin overview shows, as JSON: usage over a range (all tenants or one), top tenants, provider health. */
export function registerAdminApiAnalytics(app: FastifyInstance, deps: DashboardDeps): void {
  app.get('/admin/api/analytics', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, false))) return;
    const query = req.query as Record<string, unknown>;
    const range = rangeOf(query['range']);
    const tenant = typeof query['tenant'] === 'string' ? query['tenant'] : undefined;
    const [view, topTenants] = await Promise.all([
      loadUsage(deps.store.db, range, tenant),
      queryTopTenants(deps.store.db, { from: range.from, to: range.to, limit: 10 }),
    ]);
    return {
      range: { key: range.key, from: range.from, to: range.to, bucket: range.bucket },
      totals: view.totals,
      series: view.series,
      byTier: view.byTier,
      byModel: view.byModel,
      byProvider: view.byProvider,
      latency: view.latency,
      topTenants,
      health: deps.health.snapshot(deps.catalog.providers.values()),
    };
  });
}
