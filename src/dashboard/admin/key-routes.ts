import type { FastifyInstance, FastifyReply } from 'fastify';
import { createKey, revokeKey, rotateKey } from '../../tenancy/admin-operations.ts';
import { adminOps, type DashboardDeps } from '../deps.ts';
import { formField } from '../http.ts';
import type { Notice } from '../layout.ts';
import { redirect, sendHtml } from '../respond.ts';
import { adminForForm, adminForPage } from './guards.ts';
import { keyLimitsFromForm } from './key-limits-form.ts';
import { noticeFrom, refusal } from './notices.ts';
import { keysPage, newKeyPage } from './tenant-pages.ts';

/** `/admin/keys`: every managed key, the form that creates one, and revocation (also from a tenant's page). */
export function registerAdminKeys(app: FastifyInstance, deps: DashboardDeps): void {
  const ops = adminOps(deps);
  const render = async (reply: FastifyReply, csrf: string, status: number, notice: Notice | undefined) =>
    sendHtml(
      reply,
      status,
      keysPage({
        csrf,
        keys: await deps.tenancy.repo.listKeys(),
        tenants: await deps.tenancy.repo.listTenants({ kind: 'managed' }),
        notice,
      }),
    );

  app.get('/admin/keys', async (req, reply) => {
    const ctx = await adminForPage(deps, req, reply);
    if (!ctx) return;
    return render(reply, ctx.session.csrf, 200, noticeFrom(req));
  });

  app.post('/admin/keys', async (req, reply) => {
    const ctx = await adminForForm(deps, req, reply);
    if (!ctx) return;
    try {
      const created = await createKey(ops, {
        tenantId: formField(req, 'tenantId'),
        name: formField(req, 'name'),
        expiresInDays: formField(req, 'expiresInDays'),
        limits: keyLimitsFromForm(req),
      });
      return sendHtml(reply, 201, newKeyPage({ csrf: ctx.session.csrf, key: created.key, back: '/admin/keys' }));
    } catch (err) {
      const { status, notice } = refusal(err);
      return render(reply, ctx.session.csrf, status, notice);
    }
  });

  app.post('/admin/keys/:id/rotate', async (req, reply) => {
    const ctx = await adminForForm(deps, req, reply);
    if (!ctx) return;
    try {
      const rotated = await rotateKey(ops, (req.params as { id: string }).id);
      const back = (req.headers.referer ?? '').includes('/admin/tenants/')
        ? `/admin/tenants/${encodeURIComponent(rotated.record.tenantId)}`
        : '/admin/keys';
      return sendHtml(
        reply,
        200,
        newKeyPage({
          csrf: ctx.session.csrf,
          key: rotated.key,
          back,
          ...(rotated.record.previousValidUntil !== null ? { rotatedUntil: rotated.record.previousValidUntil } : {}),
        }),
      );
    } catch (err) {
      const { status, notice } = refusal(err);
      return render(reply, ctx.session.csrf, status, notice);
    }
  });

  app.post('/admin/keys/:id/revoke', async (req, reply) => {
    const ctx = await adminForForm(deps, req, reply);
    if (!ctx) return;
    const key = await revokeKey(ops, (req.params as { id: string }).id);
    const back = (req.headers.referer ?? '').includes('/admin/tenants/')
      ? `/admin/tenants/${encodeURIComponent(key.tenantId)}`
      : '/admin/keys';
    return redirect(reply, `${back}?notice=revoked`);
  });
}
