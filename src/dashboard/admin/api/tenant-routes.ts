import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GatewayError } from '../../../core/errors.ts';
import { createTenant, revokeLinks, setSuspended, updateTenantSettings } from '../../../tenancy/admin-operations.ts';
import { parseTenantCursor, type TenantCursor, tenantCursor } from '../../../tenancy/repository.ts';
import { adminOps, type DashboardDeps } from '../../deps.ts';
import { adminForApi, jsonObject } from './request.ts';

const MAX_PAGE = 500;

/** `<createdAt>.<id>`, as `next` gives it. */
function parseCursor(value: unknown): TenantCursor {
  const cursor = parseTenantCursor(typeof value === 'string' ? value : '');
  if (!cursor) throw new GatewayError('invalid_request', 'after must be the `next` cursor of a previous page');
  return cursor;
}

/** `/admin/api/tenants`: list, create, read (with its keys), change a policy, issue and revoke dashboard links. */
export function registerAdminApiTenants(app: FastifyInstance, deps: DashboardDeps): void {
  const ops = adminOps(deps);
  const { repo } = deps.tenancy;
  const idOf = (req: FastifyRequest) => (req.params as { id: string }).id;

  // Pages of `limit` (default and most 500), newest first; `next` is the cursor of the following page (null: last).
  app.get('/admin/api/tenants', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, false))) return;
    const query = req.query as Record<string, unknown>;
    const kind = query['kind'];
    const limit = query['limit'] === undefined ? MAX_PAGE : Number(query['limit']);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
      throw new GatewayError('invalid_request', `limit must be an integer from 1 to ${MAX_PAGE}`);
    }
    const after = query['after'] === undefined ? undefined : parseCursor(query['after']);
    const data = await repo.listTenants({
      limit,
      ...(kind === 'managed' || kind === 'byok' ? { kind } : {}),
      ...(after ? { after } : {}),
    });
    const last = data.length === limit ? data.at(-1) : undefined;
    return { data, next: last ? tenantCursor(last) : null };
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
