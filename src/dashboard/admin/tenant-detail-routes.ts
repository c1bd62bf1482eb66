import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../../core/errors.ts';
import { TIERS } from '../../core/tiers.ts';
import { createKey, linesToList, revokeLinks, updateTenantSettings } from '../../tenancy/admin-operations.ts';
import { modelsTenantMayUse } from '../../tenancy/policy.ts';
import { loadUsage, rangeOf } from '../analytics.ts';
import { adminOps, type DashboardDeps } from '../deps.ts';
import { formField } from '../http.ts';
import { messagePage, type Notice } from '../layout.ts';
import { redirect, sendHtml } from '../respond.ts';
import { firstModelPerTier, tenantRouting } from '../tenant-routing.ts';
import { adminForForm, adminForPage } from './guards.ts';
import { keyLimitsFromForm } from './key-limits-form.ts';
import { noticeFrom, refusal } from './notices.ts';
import type { AdminContext } from './session.ts';
import { newKeyPage, secretPage, tenantDetailPage } from './tenant-pages.ts';

/** `/admin/tenants/:id`: one tenant's spend, routing policy, keys and dashboard links, and the forms that change them. */
export function registerAdminTenantDetail(app: FastifyInstance, deps: DashboardDeps): void {
  const ops = adminOps(deps);
  const { repo } = deps.tenancy;
  const idOf = (req: FastifyRequest) => (req.params as { id: string }).id;
  const pageOf = (id: string) => `/admin/tenants/${encodeURIComponent(id)}`;

  async function render(
    ctx: AdminContext,
    id: string,
    reply: FastifyReply,
    status: number,
    notice: Notice | undefined,
  ) {
    const tenant = await repo.getTenant(id);
    if (!tenant) return sendHtml(reply, 404, messagePage('Not found', `No tenant '${id}'.`, 'error'));
    const { policy, preset } = tenantRouting(deps, tenant);
    const [keys, view] = await Promise.all([
      repo.listKeys({ tenantId: id }),
      loadUsage(deps.store.db, rangeOf('30d'), id),
    ]);
    return sendHtml(
      reply,
      status,
      tenantDetailPage({
        csrf: ctx.session.csrf,
        tenant,
        keys,
        view,
        models: modelsTenantMayUse(deps.catalog, { ...policy, allowedModels: undefined }),
        current: firstModelPerTier(deps, preset, policy),
        defaultPreset: deps.config.routing.defaultPreset,
        billed: (await deps.ledger.view(id)) !== undefined,
        notice,
      }),
    );
  }

  app.get('/admin/tenants/:id', async (req, reply) => {
    const ctx = await adminForPage(deps, req, reply);
    if (!ctx) return;
    return render(ctx, idOf(req), reply, 200, noticeFrom(req));
  });

  app.post('/admin/tenants/:id/settings', async (req, reply) => {
    const ctx = await adminForForm(deps, req, reply);
    if (!ctx) return;
    const id = idOf(req);
    try {
      await updateTenantSettings(ops, id, {
        name: formField(req, 'name'),
        preset: formField(req, 'preset') ?? '',
        tierModels: Object.fromEntries(TIERS.map((tier) => [tier, formField(req, tier) ?? ''])),
        allowedModels: linesToList(formField(req, 'allowedModels')),
        // The form always sends the field; an empty one leaves every group.
        groups: linesToList(formField(req, 'groups')),
      });
    } catch (err) {
      const { status, notice } = refusal(err);
      return render(ctx, id, reply, status, notice);
    }
    return redirect(reply, `${pageOf(id)}?notice=saved`);
  });

  app.post('/admin/tenants/:id/keys', async (req, reply) => {
    const ctx = await adminForForm(deps, req, reply);
    if (!ctx) return;
    const id = idOf(req);
    try {
      const created = await createKey(ops, {
        tenantId: id,
        name: formField(req, 'name'),
        expiresInDays: formField(req, 'expiresInDays'),
        limits: keyLimitsFromForm(req),
      });
      return sendHtml(reply, 201, newKeyPage({ csrf: ctx.session.csrf, key: created.key, back: pageOf(id) }));
    } catch (err) {
      const { status, notice } = refusal(err);
      return render(ctx, id, reply, status, notice);
    }
  });

  app.post('/admin/tenants/:id/revoke-links', async (req, reply) => {
    const ctx = await adminForForm(deps, req, reply);
    if (!ctx) return;
    const id = idOf(req);
    await revokeLinks(ops, id);
    return redirect(reply, `${pageOf(id)}?notice=links-revoked`);
  });

  app.post('/admin/tenants/:id/link', async (req, reply) => {
    const ctx = await adminForForm(deps, req, reply);
    if (!ctx) return;
    const id = idOf(req);
    if (!(await repo.getTenant(id))) throw new GatewayError('not_found', `No tenant '${id}'`);
    const hours = Math.round(deps.tenancy.config.dashboard.linkTtlMs / 3_600_000);
    return sendHtml(
      reply,
      200,
      secretPage({
        csrf: ctx.session.csrf,
        title: 'Dashboard link',
        intro: `A signed link to ${id}'s dashboard, valid for ${hours} hours. Anyone holding it can open that dashboard.`,
        secret: deps.tenancy.links.issue(id),
        back: pageOf(id),
      }),
    );
  });
}
