import type { FastifyInstance, FastifyReply } from 'fastify';
import { createTenant } from '../../tenancy/admin-operations.ts';
import { adminOps, type DashboardDeps } from '../deps.ts';
import { formField } from '../http.ts';
import type { Notice } from '../layout.ts';
import { redirect, sendHtml } from '../respond.ts';
import { adminForForm, adminForPage } from './guards.ts';
import { noticeFrom, refusal } from './notices.ts';
import { tenantsPage } from './tenant-pages.ts';

/** `/admin/tenants`: every tenant, and the form that creates one. */
export function registerAdminTenantList(app: FastifyInstance, deps: DashboardDeps): void {
  const ops = adminOps(deps);
  const render = async (reply: FastifyReply, csrf: string, status: number, notice: Notice | undefined) =>
    sendHtml(
      reply,
      status,
      tenantsPage({
        csrf,
        tenants: await deps.tenancy.repo.listTenants({ limit: 500 }),
        defaultPreset: deps.config.routing.defaultPreset,
        notice,
      }),
    );

  app.get('/admin/tenants', async (req, reply) => {
    const ctx = await adminForPage(deps, req, reply);
    if (!ctx) return;
    return render(reply, ctx.session.csrf, 200, noticeFrom(req));
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
      return render(reply, ctx.session.csrf, status, notice);
    }
  });
}
