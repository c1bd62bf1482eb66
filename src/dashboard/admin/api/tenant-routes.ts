import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GatewayError } from '../../../core/errors.ts';
import { createTenant, revokeLinks, setSuspended, updateTenantSettings } from '../../../tenancy/admin-operations.ts';
import { adminOps, type DashboardDeps } from '../../deps.ts';
import { adminForApi, jsonObject } from './request.ts';

/** `/admin/api/tenants`: list, create, read (with its keys), change a policy, issue and revoke dashboard links. */
export function registerAdminApiTenants(app: FastifyInstance, deps: DashboardDeps): void {
  const ops = adminOps(deps);
  const { repo } = deps.tenancy;
  const idOf = (req: FastifyRequest) => (req.params as { id: string }).id;

  app.get('/admin/api/tenants', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, false))) return;
    const kind = (req.query as Record<string, unknown>)['kind'];
    return { data: await repo.listTenants(kind === 'managed' || kind === 'byok' ? { kind } : {}) };
  });

  app.post('/admin/api/tenants', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, true))) return;
    const input = jsonObject(req);
    const tenant = await createTenant(ops, {
      id: input['id'],
      name: input['name'],
      preset: input['preset'],
      tierModels: input['tierModels'] as Record<string, unknown> | undefined,
      allowedModels: input['allowedModels'],
      groups: input['groups'],
    });
    return reply.code(201).send(tenant);
  });

  app.get('/admin/api/tenants/:id', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, false))) return;
    const id = idOf(req);
    const tenant = await repo.getTenant(id);
    if (!tenant) throw new GatewayError('not_found', `No tenant '${id}'`);
    return { ...tenant, keys: await repo.listKeys({ tenantId: id }) };
  });

  app.patch('/admin/api/tenants/:id', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, true))) return;
    const input = jsonObject(req);
    return updateTenantSettings(ops, idOf(req), {
      name: input['name'],
      preset: input['preset'],
      tierModels: input['tierModels'] as Record<string, unknown> | undefined,
      allowedModels: input['allowedModels'],
      groups: input['groups'],
    });
  });

  // Suspension (docs/billing.md): the tenant's keys get 403 on every /v1 route, on every replica.
  app.post('/admin/api/tenants/:id/suspend', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, true))) return;
    return setSuspended(ops, idOf(req), { suspended: true, reason: jsonObject(req)['reason'] });
  });

  app.post('/admin/api/tenants/:id/unsuspend', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, true))) return;
    return setSuspended(ops, idOf(req), { suspended: false });
  });

  app.post('/admin/api/tenants/:id/revoke-links', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, true))) return;
    return { linksValidAfter: await revokeLinks(ops, idOf(req)) };
  });

  app.post('/admin/api/tenants/:id/link', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, true))) return;
    const id = idOf(req);
    if (!(await repo.getTenant(id))) throw new GatewayError('not_found', `No tenant '${id}'`);
    return { url: deps.tenancy.links.issue(id) };
  });
}
