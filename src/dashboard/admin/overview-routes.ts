import type { FastifyInstance } from 'fastify';
import { queryTopTenants } from '../../store/usage-queries.ts';
import { loadUsage, rangeOf } from '../analytics.ts';
import type { DashboardDeps } from '../deps.ts';
import { sendHtml } from '../respond.ts';
import { computeSavings, deepTierModel, embeddingTotals } from '../savings.ts';
import { operatorPolicy } from '../tenant-routing.ts';
import { adminForPage } from './guards.ts';
import { adminOverviewPage } from './overview-page.ts';

/** `/admin`: analytics across tenants, top tenants, provider health. */
export function registerAdminOverview(app: FastifyInstance, deps: DashboardDeps): void {
  app.get('/admin', async (req, reply) => {
    const ctx = await adminForPage(deps, req, reply);
    if (!ctx) return;
    const range = rangeOf((req.query as Record<string, unknown>)['range']);
    const [view, topTenants, tenantCounts] = await Promise.all([
      loadUsage(deps.store.db, range),
      queryTopTenants(deps.store.db, { from: range.from, to: range.to, limit: 10 }),
      deps.tenancy.repo.countTenants(),
    ]);
    const deep = deepTierModel(deps.router, deps.config.routing.defaultPreset, operatorPolicy(deps));
    return sendHtml(
      reply,
      200,
      adminOverviewPage({
        username: ctx.user.username,
        csrf: ctx.session.csrf,
        view,
        topTenants,
        health: deps.health.snapshot(deps.catalog.providers.values()),
        tenantCounts,
        savings: computeSavings(view.totals, deep, embeddingTotals(view.byModel, deps.catalog)),
      }),
    );
  });
}
