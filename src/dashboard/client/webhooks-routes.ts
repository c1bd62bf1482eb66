import type { FastifyInstance, FastifyReply } from 'fastify';
import type { DashboardDeps } from '../deps.ts';
import { formField } from '../http.ts';
import type { Notice } from '../layout.ts';
import type { PageSession } from '../page-session.ts';
import { redirect, sendHtml } from '../respond.ts';
import { clientForForm, clientForPage } from './session.ts';
import { clientWebhooksPage, type WebhooksPageInput } from './webhooks-page.ts';

export type WebhooksSession<C> = PageSession<C, WebhooksPageInput>;

/** `/client/webhooks`: the tenant's signing secret and webhook deliveries (the page of the /v1/webhooks API). */
export function registerClientWebhooks(app: FastifyInstance, deps: DashboardDeps): void {
  registerWebhooksPages(app, deps, {
    base: '/client/webhooks',
    forPage: clientForPage,
    forForm: clientForForm,
    tenant: (ctx) => ctx.tenant,
    csrf: (ctx) => ctx.session.csrf,
    page: (_ctx, input) => clientWebhooksPage(input),
  });
}

/** The webhooks page and its two forms (rotate the secret, redeliver), under `session.base`. */
export function registerWebhooksPages<C>(app: FastifyInstance, deps: DashboardDeps, session: WebhooksSession<C>): void {
  const { outbox, secrets, deliverer } = deps.webhooks;
  const { base } = session;
  const render = async (ctx: C, reply: FastifyReply, status: number, notice?: Notice) => {
    const tenant = session.tenant(ctx);
    const [secret, list] = await Promise.all([secrets.get(tenant.id), outbox.list(tenant.id, { limit: 50 })]);
    const attempts = await outbox.attemptsOf(
      tenant.id,
      list.rows.map((r) => r.id),
    );
    reply.header('cache-control', 'no-store');
    return sendHtml(
      reply,
      status,
      session.page(ctx, {
        tenant,
        csrf: session.csrf(ctx),
        base,
        secret,
        deliveries: list.rows.map((row) => ({ row, attempts: attempts.get(row.id) ?? [] })),
        ...(notice ? { notice } : {}),
      }),
    );
  };

  app.get(base, async (req, reply) => {
    const ctx = await session.forPage(deps, req, reply);
    if (!ctx) return;
    const done = (req.query as Record<string, unknown>)['done'];
    const notice: Notice | undefined =
      done === 'rotated'
        ? { tone: 'good', text: 'New secret made. The previous one keeps signing beside it for a day.' }
        : done === 'redelivered'
          ? { tone: 'good', text: 'Redelivery queued: one more attempt now, with the same webhook-id.' }
          : undefined;
    return render(ctx, reply, 200, notice);
  });

  app.post(`${base}/rotate`, async (req, reply) => {
    const ctx = await session.forForm(deps, req, reply);
    if (!ctx) return;
    await secrets.rotate(session.tenant(ctx).id);
    return redirect(reply, `${base}?done=rotated`);
  });

  app.post(`${base}/redeliver`, async (req, reply) => {
    const ctx = await session.forForm(deps, req, reply);
    if (!ctx) return;
    const row = await outbox.redeliver(session.tenant(ctx).id, formField(req, 'id') ?? '');
    if (!row) return render(ctx, reply, 404, { tone: 'bad', text: 'No such delivery.' });
    deliverer.wake();
    return redirect(reply, `${base}?done=redelivered`);
  });
}
