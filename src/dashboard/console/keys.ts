import type { FastifyInstance, FastifyReply } from 'fastify';
import { GatewayError } from '../../core/errors.ts';
import { createKey, revokeKey, rotateKey } from '../../tenancy/admin-operations.ts';
import type { ApiKeyRecord } from '../../tenancy/tenant.ts';
import { keyLimitFields, keyLimitsFromForm } from '../admin/key-limits-form.ts';
import { keysTable } from '../admin/tenant-pages.ts';
import { adminOps, type DashboardDeps } from '../deps.ts';
import { dateTime } from '../format.ts';
import { html, type SafeHtml } from '../html.ts';
import { formField } from '../http.ts';
import { type Notice, noticeBox } from '../layout.ts';
import { redirect, sendHtml } from '../respond.ts';
import { consoleLayout, csrfField } from './layout.ts';
import { type ConsoleContext, consoleForForm, consoleForPage, SUSPENDED_TEXT } from './session.ts';

/**
 * `/console/keys`: the account's API keys, created with the same limits as the admin pages (src/limits/),
 * rotated, revoked; a new secret is shown once. Only a verified account creates or rotates keys. Every key
 * operation first checks that the key belongs to the session's tenant.
 */
export function registerConsoleKeys(app: FastifyInstance, deps: DashboardDeps): void {
  const ops = adminOps(deps);
  const render = async (ctx: ConsoleContext, reply: FastifyReply, status: number, notice?: Notice) =>
    sendHtml(reply, status, keysPage(ctx, await deps.tenancy.repo.listKeys({ tenantId: ctx.tenant.id }), notice));
  /** Keys are created and rotated only by a verified account that is not suspended. */
  const refused = (ctx: ConsoleContext, reply: FastifyReply) => {
    if (ctx.tenant.suspendedAt != null) {
      return render(ctx, reply, 403, { tone: 'bad', text: SUSPENDED_TEXT });
    }
    if (ctx.account.verifiedAt === null) {
      return render(ctx, reply, 403, {
        tone: 'bad',
        text: 'Confirm your address first: API keys need a verified account.',
      });
    }
    return undefined;
  };
  /** The key, when it is this account's (anything else is answered 404 as if it did not exist). */
  const ownKey = async (ctx: ConsoleContext, id: string): Promise<ApiKeyRecord | undefined> => {
    const key = await deps.tenancy.repo.getKey(id);
    return key && key.tenantId === ctx.tenant.id ? key : undefined;
  };
  const noSuchKey = (ctx: ConsoleContext, reply: FastifyReply) =>
    render(ctx, reply, 404, { tone: 'bad', text: 'No such key.' });

  app.get('/console/keys', async (req, reply) => {
    const ctx = await consoleForPage(deps, req, reply);
    if (!ctx) return;
    const revoked = (req.query as Record<string, unknown>)['notice'] === 'revoked';
    return render(ctx, reply, 200, revoked ? { tone: 'good', text: 'Key revoked.' } : undefined);
  });

  app.post('/console/keys', async (req, reply) => {
    const ctx = await consoleForForm(deps, req, reply);
    if (!ctx) return;
    const refusal = refused(ctx, reply);
    if (refusal) return refusal;
    try {
      const created = await createKey(ops, {
        tenantId: ctx.tenant.id,
        name: formField(req, 'name'),
        expiresInDays: formField(req, 'expiresInDays'),
        limits: keyLimitsFromForm(req),
      });
      return sendHtml(reply, 201, shownOncePage(ctx, created.key, created.record, deps.tenancy.links.baseUrl));
    } catch (err) {
      if (!(err instanceof GatewayError) || err.code !== 'invalid_request') throw err;
      return render(ctx, reply, 400, { tone: 'bad', text: err.message });
    }
  });

  app.post('/console/keys/:id/rotate', async (req, reply) => {
    const ctx = await consoleForForm(deps, req, reply);
    if (!ctx) return;
    const refusal = refused(ctx, reply);
    if (refusal) return refusal;
    const key = await ownKey(ctx, (req.params as { id: string }).id);
    if (!key || key.revokedAt !== null) return noSuchKey(ctx, reply);
    const rotated = await rotateKey(ops, key.id);
    return sendHtml(reply, 200, shownOncePage(ctx, rotated.key, rotated.record, deps.tenancy.links.baseUrl));
  });

  app.post('/console/keys/:id/revoke', async (req, reply) => {
    const ctx = await consoleForForm(deps, req, reply);
    if (!ctx) return;
    const key = await ownKey(ctx, (req.params as { id: string }).id);
    if (!key) return noSuchKey(ctx, reply);
    await revokeKey(ops, key.id);
    return redirect(reply, '/console/keys?notice=revoked');
  });
}

function keysPage(ctx: ConsoleContext, keys: ApiKeyRecord[], notice?: Notice): SafeHtml {
  const csrf = ctx.session.csrf;
  const verified = ctx.account.verifiedAt !== null;
  return consoleLayout('keys', ctx, {
    title: 'API keys',
    body: html`
<div class="page-head"><div><h1>API keys</h1><p>Use a key as the Bearer token of any OpenAI- or Anthropic-compatible client. Requests are charged to your balance.</p></div></div>
${noticeBox(notice)}
<section class="card">
  <div class="card-head"><h2>New key</h2><span class="hint">${verified ? 'the secret is shown once' : 'confirm your address first'}</span></div>
  <form class="stack" method="post" action="/console/keys">
    ${csrfField(csrf)}
    <div class="row">
      <div class="field"><label for="name">Name</label><input id="name" name="name" type="text" maxlength="100" placeholder="production"></div>
      <div class="field"><label for="expires">Expires in (days)</label><input id="expires" name="expiresInDays" type="number" min="1" max="3650" placeholder="never"></div>
    </div>
    ${keyLimitFields()}
    <div class="actions"><button class="button" type="submit"${verified ? '' : html` disabled`}>Create key</button></div>
  </form>
</section>
<section class="card" id="keys">
  <div class="card-head"><h2>Your keys</h2><span class="hint">${keys.length} in all</span></div>
  ${keysTable(keys, csrf, { showTenant: false, showId: false, actionBase: '/console/keys' })}
</section>`,
  });
}

function shownOncePage(ctx: ConsoleContext, secret: string, record: ApiKeyRecord, baseUrl: string): SafeHtml {
  const base = `${baseUrl}/v1`;
  return consoleLayout('keys', ctx, {
    title: 'Your new key',
    body: html`
<div class="page-head"><div><h1>Your new key</h1><p>Copy it now: it is shown only this once.</p></div></div>
<section class="card">
  <div class="field"><label for="secret">${record.name}</label><input id="secret" class="secret mono" type="text" readonly value="${secret}"></div>
  ${
    record.previousValidUntil !== null
      ? html`<p>The previous secret keeps working until ${dateTime(record.previousValidUntil)} UTC.</p>`
      : ''
  }
  <p>OpenAI base URL: <span class="mono">${base}</span></p>
  <div class="actions"><a class="button" href="/console/keys">Done</a></div>
</section>`,
  });
}
