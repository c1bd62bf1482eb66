import type { FastifyInstance, FastifyReply } from 'fastify';
import type { DashboardDeps } from '../deps.ts';
import { formField } from '../http.ts';
import type { Notice } from '../layout.ts';
import { redirect, sendHtml } from '../respond.ts';
import { type ClientContext, clientForForm, clientForPage } from './session.ts';
import { clientWebhooksPage } from './webhooks-page.ts';

/** `/client/webhooks`: the tenant's signing secret and webhook deliveries (the page of the /v1/webhooks API). */
export function registerClientWebhooks(app: FastifyInstance, deps: DashboardDeps): void {
  const { outbox, secrets, deliverer } = deps.webhooks;
  const render = async (ctx: ClientContext, reply: FastifyReply, status: number, notice?: Notice) => {
    const [secret, list] = await Promise.all([secrets.get(ctx.tenant.id), outbox.list(ctx.tenant.id, { limit: 50 })]);
    const attempts = await outbox.attemptsOf(
      ctx.tenant.id,
      list.rows.map((r) => r.id),
    );
    reply.header('cache-control', 'no-store');
    return sendHtml(
      reply,
      status,
      clientWebhooksPage({
        tenant: ctx.tenant,
        csrf: ctx.session.csrf,
        secret,
        deliveries: list.rows.map((row) => ({ row, attempts: attempts.get(row.id) ?? [] })),
        ...(notice ? { notice } : {}),
      }),
    );
  };

  app.get('/client/webhooks', async (req, reply) => {
    const ctx = await clientForPage(deps, req, reply);
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

  app.post('/client/webhooks/rotate', async (req, reply) => {
    const ctx = await clientForForm(deps, req, reply);
    if (!ctx) return;
    await secrets.rotate(ctx.tenant.id);
    return redirect(reply, '/client/webhooks?done=rotated');
  });

  app.post('/client/webhooks/redeliver', async (req, reply) => {
    const ctx = await clientForForm(deps, req, reply);
    if (!ctx) return;
    const row = await outbox.redeliver(ctx.tenant.id, formField(req, 'id') ?? '');
    if (!row) return render(ctx, reply, 404, { tone: 'bad', text: 'No such delivery.' });
    deliverer.wake();
    return redirect(reply, '/client/webhooks?done=redelivered');
  });
}
