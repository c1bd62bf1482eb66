import type { FastifyInstance } from 'fastify';
import { createKey, revokeKey, rotateKey, setKeyLimits } from '../../../tenancy/admin-operations.ts';
import { adminOps, type DashboardDeps } from '../../deps.ts';
import { adminForApi, jsonObject } from './request.ts';

/**
 * `/admin/api/keys`: list (optionally of one tenant), create (with limits; the only answer that holds the
 * key), change a key's limits, rotate (a new secret, the old one valid for a grace period), revoke.
 */
export function registerAdminApiKeys(app: FastifyInstance, deps: DashboardDeps): void {
  const ops = adminOps(deps);

  app.get('/admin/api/keys', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, false))) return;
    const tenant = (req.query as Record<string, unknown>)['tenant'];
    return { data: await deps.tenancy.repo.listKeys(typeof tenant === 'string' ? { tenantId: tenant } : {}) };
  });

  app.post('/admin/api/keys', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, true))) return;
    const input = jsonObject(req);
    const created = await createKey(ops, {
      tenantId: input['tenantId'],
      name: input['name'],
      expiresInDays: input['expiresInDays'],
      expiresAt: input['expiresAt'],
      limits: input['limits'],
    });
    return reply.code(201).send({ ...created.record, key: created.key });
  });

  app.patch('/admin/api/keys/:id', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, true))) return;
    const input = jsonObject(req);
    return setKeyLimits(ops, (req.params as { id: string }).id, input['limits']);
  });

  app.post('/admin/api/keys/:id/rotate', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, true))) return;
    const input = req.body === undefined || req.body === null ? {} : jsonObject(req);
    const rotated = await rotateKey(ops, (req.params as { id: string }).id, input['graceHours']);
    return { ...rotated.record, key: rotated.key };
  });

  app.post('/admin/api/keys/:id/revoke', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, true))) return;
    return revokeKey(ops, (req.params as { id: string }).id);
  });
}
