import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../runtime.ts';

/** Liveness, readiness and Prometheus metrics. Not authenticated: bind them to a private interface. */
export function registerOps(app: FastifyInstance, runtime: Runtime): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    if (runtime.draining) return reply.code(503).send({ status: 'draining' });
    const redis = runtime.redisStatus();
    // failMode closed: without Redis, limited keys are refused, so a load balancer should send traffic elsewhere.
    // failMode open: this replica still serves (limits counted locally, modro_limits_degraded_total counts them).
    if (redis && !redis.up && redis.failMode === 'closed') {
      return reply.code(503).send({ status: 'redis unreachable', redis: 'down', failMode: 'closed' });
    }
    return {
      status: 'ready',
      providers: runtime.catalog.providers.size,
      models: runtime.catalog.models.length,
      ...(redis ? { redis: redis.up ? 'up' : 'degraded' } : {}),
    };
  });
  app.get('/metrics', async (_req, reply) => {
    runtime.refreshGauges();
    const text = await runtime.metrics.registry.metrics();
    return reply.type(runtime.metrics.registry.contentType).send(text);
  });
}
