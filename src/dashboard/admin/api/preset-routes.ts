import type { FastifyInstance } from 'fastify';
import { PRESETS, TIERS } from '../../../core/tiers.ts';
import type { DashboardDeps } from '../../deps.ts';
import { operatorPolicy } from '../../tenant-routing.ts';
import { adminForApi } from './request.ts';

/** `/admin/api/presets`: the models each preset routes each tier to, for the operator's own callers, in order. */
export function registerAdminApiPresets(app: FastifyInstance, deps: DashboardDeps): void {
  app.get('/admin/api/presets', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, false))) return;
    const policy = operatorPolicy(deps);
    return {
      default: deps.config.routing.defaultPreset,
      presets: Object.fromEntries(
        PRESETS.map((preset) => [
          preset,
          Object.fromEntries(TIERS.map((tier) => [tier, deps.router.listFor(preset, tier, policy).map((m) => m.id)])),
        ]),
      ),
    };
  });
}
