import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createTenant } from '../../tenancy/admin-operations.ts';
import { parseTenantCursor, tenantCursor } from '../../tenancy/repository.ts';
import { adminOps, type DashboardDeps } from '../deps.ts';
import { formField } from '../http.ts';
import type { Notice } from '../layout.ts';
import { redirect, sendHtml } from '../respond.ts';
import { adminForForm, adminForPage } from './guards.ts';
import { noticeFrom, refusal } from './notices.ts';
import { type TenantListPage, tenantsPage } from './tenant-pages.ts';

/** Tenants per page of `/admin/tenants`. */
export const TENANT_PAGE = 100;

/**
 * `/admin/tenants`: the tenants, newest first, a page at a time (keyset paging: `after` / `before` a tenant's
 * cursor, so a page costs the same however deep it is and a tenant created meanwhile shifts nothing), searchable
 * by id or name (`q`); and the form that creates one.
 */
export function registerAdminTenantList(app: FastifyInstance, deps: DashboardDeps): void {
  const ops = adminOps(deps);
  const { repo } = deps.tenancy;

  async function listPage(req: FastifyRequest): Promise<TenantListPage> {
    const query = req.query as Record<string, unknown>;
    const text = (name: string) => (typeof query[name] === 'string' ? query[name] : '');
    const q = text('q').trim().slice(0, 100);
    const after = parseTenantCursor(text('after'));
    const before = after ? undefined : parseTenantCursor(text('before'));
    // One row more than a page tells whether there is another page in the direction read.
    const rows = await repo.listTenants({ q, after, before, limit: TENANT_PAGE + 1 });
    const extra = rows.length > TENANT_PAGE;
    // Read backwards (before), the extra row is the first one; forwards, the last one.
    const tenants = before ? rows.slice(extra ? 1 : 0) : rows.slice(0, TENANT_PAGE);
    const first = tenants[0];
    const last = tenants.at(-1);
    // Coming from a neighbouring page, that page exists; otherwise the extra row says.
    const hasPrevious = before ? extra : after !== undefined;
    const hasNext = before ? true : extra;
    return {
      q,
      tenants,
      previous: hasPrevious && first ? tenantCursor(first) : undefined,
      next: hasNext && last ? tenantCursor(last) : undefined,
    };
  }

  const render = async (
    reply: FastifyReply,
    csrf: string,
    status: number,
    notice: Notice | undefined,
    page: TenantListPage,
  ) => sendHtml(reply, status, tenantsPage({ csrf, page, defaultPreset: deps.config.routing.defaultPreset, notice }));

  app.get('/admin/tenants', async (req, reply) => {
    const ctx = await adminForPage(deps, req, reply);
    if (!ctx) return;
    return render(reply, ctx.session.csrf, 200, noticeFrom(req), await listPage(req));
  });

  app.post('/admin/tenants', async (req, reply) => {
    const ctx = await adminForForm(deps, req, reply);
    if (!ctx) return;
    try {
      const tenant = await createTenant(ops, {
        id: formField(req, 'id'),
        name: formField(req, 'name'),
        preset: formField(req, 'preset') ?? '',
      });
      return redirect(reply, `/admin/tenants/${encodeURIComponent(tenant.id)}?notice=created`);
    } catch (err) {
      const { status, notice } = refusal(err);
      return render(reply, ctx.session.csrf, status, notice, await listPage(req));
    }
  });
}
