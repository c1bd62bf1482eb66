import type { FastifyInstance } from 'fastify';
import { queryRecentRequests } from '../../store/usage-queries.ts';
import { loadUsage, rangeOf } from '../analytics.ts';
import type { DashboardDeps } from '../deps.ts';
import { sendHtml } from '../respond.ts';
import { computeSavings, deepTierModel, embeddingTotals } from '../savings.ts';
import { tenantRouting } from '../tenant-routing.ts';
import { clientOverviewPage } from './overview-page.ts';
import { clientForPage } from './session.ts';

/** `/client`: the tenant's usage over a range, its latest requests and what routing saved it. */
export function registerClientOverview(app: FastifyInstance, deps: DashboardDeps): void {
  app.get('/client', async (req, reply) => {
    const ctx = await clientForPage(deps, req, reply);
    if (!ctx) return;
    const range = rangeOf((req.query as Record<string, unknown>)['range']);
    const [view, recent] = await Promise.all([
      loadUsage(deps.store.db, range, ctx.tenant.id),
      queryRecentRequests(deps.store.db, { tenantId: ctx.tenant.id, limit: 25 }),
    ]);
    const { policy, preset } = tenantRouting(deps, ctx.tenant);
    return sendHtml(
      reply,
      200,
      clientOverviewPage({
        tenant: ctx.tenant,
        csrf: ctx.session.csrf,
        view,
        recent,
        savings: computeSavings(
          view.totals,
          deepTierModel(deps.router, preset, policy),
          embeddingTotals(view.byModel, deps.catalog),
        ),
        preset: ctx.tenant.preset ?? `${preset} (default)`,
      }),
    );
  });
}
