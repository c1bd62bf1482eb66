import type { FastifyInstance } from 'fastify';
import { createKey, revokeKey } from '../../../tenancy/admin-operations.ts';
import { adminOps, type DashboardDeps } from '../../deps.ts';
import { adminForApi, jsonObject } from './request.ts';

/** `/admin/api/keys`: list (optionally of one tenant), create (the only answer that holds the key), revoke. */
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
    });
    return reply.code(201).send({ ...created.record, key: created.key });
  });

  app.post('/admin/api/keys/:id/revoke', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, true))) return;
    return revokeKey(ops, (req.params as { id: string }).id);
  });
}
