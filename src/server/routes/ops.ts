import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../runtime.ts';

/** Liveness, readiness and Prometheus metrics. Not authenticated: bind them to a private interface. */
export function registerOps(app: FastifyInstance, runtime: Runtime): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    if (runtime.draining) return reply.code(503).send({ status: 'draining' });
    return { status: 'ready', providers: runtime.catalog.providers.size, models: runtime.catalog.models.length };
  });
  app.get('/metrics', async (_req, reply) => {
    runtime.refreshGauges();
    const text = await runtime.metrics.registry.metrics();
    return reply.type(runtime.metrics.registry.contentType).send(text);
  });
}
