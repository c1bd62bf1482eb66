import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mockProvider, type TestGateway } from '../helpers/gateway.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import {
  type AdminClient,
  adminClient,
  adminFormLogin,
  chat,
  createKey,
  csrfOf,
  getPage,
  postForm,
  startTenancyGateway,
} from '../tenancy/helpers.ts';

/**
 * The operator's accounts pages (docs/billing.md, "Admin pages"), through HTTP like a browser: search, the
 * statement (paged, CSV), manual credits and debits with their validation, plans, suspension; and the plans a
 * user chooses through `/v1/account/plan(s)`. A real gateway on loopback and a mock OpenAI upstream.
 */

const USD = 1_000_000_000;
const MODELS = [
  { name: 'gpt-4o-mini', qualityRank: 70, tiers: ['fast' as const], price: { input: 1000, output: 1000 } },
  { name: 'gpt-4o', qualityRank: 90, tiers: ['deep' as const], price: { input: 1000, output: 1000 } },
  { name: 'text-embedding-3-small', qualityRank: 50, mode: 'embedding' as const, price: { input: 1000, output: 0 } },
];
const ASK = { model: 'fast', max_tokens: 20, messages: [{ role: 'user', content: 'hello there' }] };

interface Account {
  balanceNano: number;
  heldNano: number;
  planId: string | null;
  entries: Array<{ kind: string; amount_nano: number; admin: string | null; reason: string | null }>;
}

describe('admin accounts pages and user-chosen plans', () => {
  let mock: MockOpenAI;
  let gw: TestGateway;
  let admin: AdminClient;
  let cookie: string;
  let csrf: string;
  let seq = 0;

  const account = (id: string) => admin.json<Account>('GET', `/admin/api/tenants/${id}/account`);

  async function billed(name: string, usd = '10'): Promise<{ id: string; key: string }> {
    const id = `acct${++seq}`;
    await admin.json('POST', '/admin/api/tenants', { id, name });
    await admin.json('POST', `/admin/api/tenants/${id}/account`);
    if (usd !== '0') {
      await admin.json('POST', `/admin/api/tenants/${id}/ledger`, { kind: 'credit', amountUsd: usd, reason: 'seed' });
    }
    const key = await createKey(admin, id);
    return { id, key: key.key };
  }

  before(async () => {
    mock = await startMockOpenAI();
    gw = await startTenancyGateway({
      demo: { enabled: false },
      providers: [mockProvider('up', mock.url, MODELS)],
      billing: { flushIntervalMs: 20 },
    });
    admin = await adminClient(gw);
    cookie = await adminFormLogin(gw);
    csrf = csrfOf((await getPage(gw, '/admin/accounts', cookie)).html);
  });
  after(async () => {
    await gw?.close();
    await mock?.close();
  });

  test('the list shows billed tenants only, with balance, holds and plan, and searches id and name', async () => {
    const a = await billed('Zephyr_Labs', '12.5');
    const b = await billed('Other Co', '3');
    await admin.json('POST', '/admin/api/tenants', { id: 'notbilled', name: 'Zephyr unbilled' });
    const all = await getPage(gw, '/admin/accounts', cookie);
    assert.equal(all.status, 200);
    assert.match(all.html, new RegExp(`href="/admin/accounts/${a.id}"`));
    assert.match(all.html, new RegExp(`href="/admin/accounts/${b.id}"`));
    assert.doesNotMatch(all.html, /notbilled/, 'a tenant without an account is not listed');
    assert.match(all.html, /\$12\.50/);

    const byName = await getPage(gw, '/admin/accounts?q=zephyr', cookie);
    assert.match(byName.html, new RegExp(a.id));
    assert.doesNotMatch(byName.html, new RegExp(`/admin/accounts/${b.id}"`));
    const byId = await getPage(gw, `/admin/accounts?q=${b.id}`, cookie);
    assert.match(byId.html, new RegExp(`/admin/accounts/${b.id}"`));
    assert.doesNotMatch(byId.html, new RegExp(`/admin/accounts/${a.id}"`));
    // `_` is a literal in the search, not LIKE's any-character.
    const literal = await getPage(gw, '/admin/accounts?q=r_l', cookie);
    assert.match(literal.html, new RegExp(a.id));
    const none = await getPage(gw, '/admin/accounts?q=rxl', cookie);
    assert.match(none.html, /No billed account matches/);
    // Not signed in: the login page.
    const anon = await getPage(gw, '/admin/accounts', '');
    assert.equal(anon.status, 303);
  });

  test('manual credit and debit: exact amounts, a reason, the admin named; bad input is a clear 400 and no entry', async () => {
    const { id } = await billed('Credit Co', '1');
    const page = `/admin/accounts/${id}`;
    const ok = await postForm(gw, `${page}/adjust`, cookie, {
      _csrf: csrf,
      kind: 'credit',
      amount: '2.000001',
      reason: 'goodwill',
    });
    await ok.text();
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get('location'), `${page}?notice=credited`);
    let acct = await account(id);
    assert.equal(acct.balanceNano, 3 * USD + 1_000);
    assert.deepEqual(
      [acct.entries[0]!.kind, acct.entries[0]!.amount_nano, acct.entries[0]!.admin, acct.entries[0]!.reason],
      ['adjustment', 2 * USD + 1_000, 'root', 'goodwill'],
    );
    const debit = await postForm(gw, `${page}/adjust`, cookie, {
      _csrf: csrf,
      kind: 'debit',
      amount: '0.5',
      reason: 'correction',
    });
    await debit.text();
    assert.equal(debit.status, 303);
    acct = await account(id);
    assert.equal(acct.balanceNano, 2.5 * USD + 1_000);

    const bad: Array<[Record<string, string>, RegExp]> = [
      [{ kind: 'credit', amount: '-5', reason: 'x' }, /positive number of dollars/],
      [{ kind: 'credit', amount: '0', reason: 'x' }, /more than \$0/],
      [{ kind: 'credit', amount: '0.0000001', reason: 'x' }, /at most 6 decimals/],
      [{ kind: 'credit', amount: '1e3', reason: 'x' }, /positive number of dollars/],
      [{ kind: 'credit', amount: '1,000', reason: 'x' }, /positive number of dollars/],
      [{ kind: 'credit', amount: '1000001', reason: 'x' }, /at most \$1,000,000/],
      [{ kind: 'credit', amount: '', reason: 'x' }, /Enter an amount/],
      [{ kind: 'credit', amount: '5', reason: '   ' }, /reason/i],
      [{ kind: 'refund', amount: '5', reason: 'x' }, /credit or debit/],
      [{ kind: 'debit', amount: '100', reason: 'too much' }, /more than the \$2\.500001000 available/],
    ];
    for (const [fields, message] of bad) {
      const res = await postForm(gw, `${page}/adjust`, cookie, { _csrf: csrf, ...fields });
      const html = await res.text();
      assert.equal(res.status, 400, `${JSON.stringify(fields)} → ${res.status}`);
      assert.match(html, message, JSON.stringify(fields));
      // What was typed is kept in the form.
      if (fields['amount']) assert.ok(html.includes(`value="${fields['amount']}"`));
    }
    // No CSRF token: refused before anything happens.
    const forged = await postForm(gw, `${page}/adjust`, cookie, { kind: 'credit', amount: '100', reason: 'x' });
    await forged.text();
    assert.equal(forged.status, 403);
    const unknown = await postForm(gw, '/admin/accounts/nobody/adjust', cookie, {
      _csrf: csrf,
      kind: 'credit',
      amount: '1',
      reason: 'x',
    });
    await unknown.text();
    assert.equal(unknown.status, 404);
    const after = await account(id);
    assert.equal(after.balanceNano, 2.5 * USD + 1_000, 'no refused form moved money');
    assert.equal(after.entries.length, acct.entries.length);
    const verify = await admin.json<{ ok: boolean }>('GET', '/admin/api/ledger/verify');
    assert.equal(verify.ok, true);
  });

  test('the statement pages by 50 and exports every entry as CSV', async () => {
    const { id } = await billed('Statement Co', '0');
    for (let i = 0; i < 60; i++) {
      await admin.json('POST', `/admin/api/tenants/${id}/ledger`, {
        kind: 'credit',
        amountUsd: `0.${String(i + 1).padStart(2, '0')}`,
        reason: i === 0 ? '=HYPERLINK("x"), "quoted"' : `credit ${i}`,
      });
    }
    const first = await getPage(gw, `/admin/accounts/${id}`, cookie);
    const rows = (html: string) => html.split('<tbody>')[1]?.split('</tbody>')[0]?.match(/<tr>/g)?.length ?? 0;
    // The statement is the last table on the page.
    const statementOf = (html: string) => html.slice(html.indexOf('class="statement"'));
    assert.equal(rows(statementOf(first.html)), 50);
    assert.match(first.html, /credit 59/);
    const older = /href="(\/admin\/accounts\/[^"]+\?before=\d+)"/.exec(first.html);
    assert.ok(older, 'a link to older entries');
    const second = await getPage(gw, older[1]!, cookie);
    assert.equal(rows(statementOf(second.html)), 10);
    assert.doesNotMatch(second.html, /href="[^"]+\?before=/, 'no older page after the last');

    const csv = await getPage(gw, `/admin/accounts/${id}/ledger.csv`, cookie);
    assert.equal(csv.status, 200);
    assert.match(csv.res.headers.get('content-type') ?? '', /^text\/csv/);
    assert.match(csv.res.headers.get('content-disposition') ?? '', /attachment; filename="ledger-acct\d+\.csv"/);
    const lines = csv.html.trimEnd().split('\r\n');
    assert.equal(lines[0], 'id,time_utc,kind,amount_nano,amount_usd,held_nano,request_id,payment_id,admin,reason');
    assert.equal(lines.length, 61);
    assert.match(lines.at(-1)!, /,adjustment,10000000,0\.010000000,0,,,root,"'=HYPERLINK\(""x""\), ""quoted"""$/);
    const sum = lines.slice(1).reduce((s, l) => s + Number(l.split(',')[3]), 0);
    assert.equal(sum, (await account(id)).balanceNano, 'the CSV sums to the balance');
  });

  test('plans: assigned on the page; users list public ones and choose one, and /v1/models follows at once', async () => {
    await admin.json('PUT', '/admin/api/plans/starter', {
      name: 'Starter',
      monthlyCapUsd: '5',
      models: ['up/gpt-4o-mini'],
      public: true,
    });
    await admin.json('PUT', '/admin/api/plans/pro', { name: 'Pro', monthlyCapUsd: '100', public: true });
    await admin.json('PUT', '/admin/api/plans/vip', { name: 'VIP', monthlyCapUsd: null });
    const { id, key } = await billed('Plan Co');
    const page = `/admin/accounts/${id}`;
    const assigned = await postForm(gw, `${page}/plan`, cookie, { _csrf: csrf, planId: 'vip' });
    await assigned.text();
    assert.equal(assigned.status, 303);
    assert.equal((await account(id)).planId, 'vip');
    const unknown = await postForm(gw, `${page}/plan`, cookie, { _csrf: csrf, planId: 'nope' });
    assert.equal(unknown.status, 404);
    assert.match(await unknown.text(), /No plan &#39;nope&#39;/);

    const v1 = (method: string, path: string, body?: unknown, token = key) =>
      fetch(`${gw.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
    const listed = (await (await v1('GET', '/v1/account/plans')).json()) as {
      current: string;
      data: Array<{ id: string; current: boolean; monthly_cap_usd: string | null }>;
    };
    assert.equal(listed.current, 'vip');
    assert.deepEqual(
      listed.data.map((p) => [p.id, p.current, p.monthly_cap_usd]),
      [
        ['pro', false, '100.000000000'],
        ['starter', false, '5.000000000'],
        ['vip', true, null],
      ],
      'public plans and the current one',
    );
    const models = async () =>
      ((await (await v1('GET', '/v1/models')).json()) as { data: Array<{ id: string }> }).data.map((m) => m.id);
    assert.ok((await models()).includes('up/gpt-4o'));

    const chosen = await v1('POST', '/v1/account/plan', { plan: 'starter' });
    assert.equal(chosen.status, 200, await chosen.clone().text());
    assert.equal(((await chosen.json()) as { plan: { id: string } }).plan.id, 'starter');
    assert.equal((await account(id)).planId, 'starter');
    const now = await models();
    assert.ok(now.includes('up/gpt-4o-mini'));
    assert.ok(!now.includes('up/gpt-4o'), 'the plan narrows /v1/models at once');
    const deep = await chat(gw, key, { ...ASK, model: 'up/gpt-4o' });
    assert.equal(deep.status, 403);
    assert.equal(((await deep.json()) as { error: { code: string } }).error.code, 'permission_denied');
    assert.equal((await chat(gw, key, ASK)).status, 200);

    const refusals: Array<[unknown, number, RegExp]> = [
      [{ plan: 'vip' }, 404, /No public plan 'vip'/],
      [{ plan: 'nope' }, 404, /No public plan/],
      [{}, 400, /Send \{"plan":"<plan id>"\}/],
    ];
    for (const [body, status, message] of refusals) {
      const res = await v1('POST', '/v1/account/plan', body);
      const answer = (await res.json()) as { error: { message: string } };
      assert.equal(res.status, status, JSON.stringify(body));
      assert.match(answer.error.message, message);
    }
    assert.equal((await account(id)).planId, 'starter', 'refused choices change nothing');

    // A tenant without an account has no plan; a scoped key may read but not switch.
    await admin.json('POST', '/admin/api/tenants', { id: 'freebie' });
    const free = await createKey(admin, 'freebie');
    const notBilled = await v1('POST', '/v1/account/plan', { plan: 'pro' }, free.key);
    assert.equal(notBilled.status, 400);
    const scoped = await createKey(admin, id, { limits: { scopes: ['chat', 'models'] } });
    assert.equal((await v1('GET', '/v1/account/plans', undefined, scoped.key)).status, 200);
    const denied = await v1('POST', '/v1/account/plan', { plan: 'pro' }, scoped.key);
    assert.equal(denied.status, 403);
    assert.equal((await v1('GET', '/v1/account/plans', undefined, 'mdro_nonsense')).status, 401);
  });

  test('plans on the Accounts page: saved with a cap, models and the public flag; bad input refused and kept', async () => {
    const save = (fields: Record<string, string>) =>
      postForm(gw, '/admin/accounts/plans', cookie, { _csrf: csrf, ...fields });
    const ok = await save({
      id: 'team',
      name: 'Team',
      cap: '25.5',
      models: 'up/gpt-4o-mini, up/gpt-4o',
      public: 'yes',
    });
    await ok.text();
    assert.equal(ok.status, 303);
    const plans = await admin.json<{ data: Array<Record<string, unknown>> }>('GET', '/admin/api/plans');
    assert.deepEqual(
      plans.data.find((p) => p['id'] === 'team'),
      {
        id: 'team',
        name: 'Team',
        monthlyCapNano: 25_500_000_000,
        models: ['up/gpt-4o-mini', 'up/gpt-4o'],
        public: true,
      },
    );
    const page = await getPage(gw, '/admin/accounts', cookie);
    assert.match(page.html, /<div class="sub mono">team<\/div><\/td>\s*<td class="num mono">\$25\.50<\/td>/);
    // Saved again without the box ticked: no longer public.
    const again = await save({ id: 'team', name: 'Team', cap: '', models: '' });
    await again.text();
    const saved = (await admin.json<{ data: Array<Record<string, unknown>> }>('GET', '/admin/api/plans')).data.find(
      (p) => p['id'] === 'team',
    );
    assert.deepEqual([saved?.['public'], saved?.['monthlyCapNano'], saved?.['models']], [false, null, null]);
    for (const [fields, message] of [
      [{ id: 'Bad Id', cap: '5' }, /A plan id is 1-64 lowercase/],
      [{ id: 'cheap', cap: '-5' }, /Monthly cap: The amount must be a positive number/],
      [{ id: 'cheap', cap: '1.1234567' }, /at most 6 decimals/],
    ] as const) {
      const res = await save(fields);
      const text = await res.text();
      assert.equal(res.status, 400, JSON.stringify(fields));
      assert.match(text, message);
      assert.ok(text.includes(`value="${fields.cap}"`), 'what was typed is kept');
    }
    const forged = await postForm(gw, '/admin/accounts/plans', cookie, { id: 'evil' });
    await forged.text();
    assert.equal(forged.status, 403);
    assert.ok(
      !(await admin.json<{ data: Array<{ id: string }> }>('GET', '/admin/api/plans')).data.some((p) => p.id === 'evil'),
    );
  });

  test('suspension: every /v1 route refuses the account’s keys with 403 until lifted; the balance is kept', async () => {
    const { id, key } = await billed('Suspended Co', '4');
    const page = `/admin/accounts/${id}`;
    assert.equal((await chat(gw, key, ASK)).status, 200);
    const noReason = await postForm(gw, `${page}/suspend`, cookie, { _csrf: csrf, reason: '' });
    assert.equal(noReason.status, 400);
    assert.match(await noReason.text(), /reason/);
    const suspended = await postForm(gw, `${page}/suspend`, cookie, { _csrf: csrf, reason: 'chargeback' });
    await suspended.text();
    assert.equal(suspended.status, 303);
    const detail = await getPage(gw, page, cookie);
    assert.match(detail.html, /badge bad">suspended/);
    assert.match(detail.html, /chargeback/);
    const balance = (await account(id)).balanceNano;
    const tenantPage = await getPage(gw, `/admin/tenants/${id}`, cookie);
    assert.match(tenantPage.html, new RegExp(`href="/admin/accounts/${id}">billed account</a>`));
    assert.match(tenantPage.html, /badge bad">suspended/);

    const calls: Array<[string, string, unknown]> = [
      ['POST', '/v1/chat/completions', ASK],
      ['POST', '/v1/messages', { model: 'fast', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }],
      ['POST', '/v1/messages/count_tokens', { model: 'fast', messages: [{ role: 'user', content: 'hi' }] }],
      ['POST', '/v1/responses', { model: 'fast', input: 'hi' }],
      ['POST', '/v1/embeddings', { model: 'up/text-embedding-3-small', input: 'hi' }],
      ['GET', '/v1/models', undefined],
      ['GET', '/v1/account/plans', undefined],
    ];
    for (const [method, path, body] of calls) {
      const res = await fetch(`${gw.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      assert.equal(res.status, 403, `${path}: ${text}`);
      assert.match(text, /permission_denied|permission_error/, path);
      assert.match(text, /account is suspended/, path);
    }
    assert.equal((await account(id)).balanceNano, balance, 'nothing was held or charged');

    const lifted = await postForm(gw, `${page}/unsuspend`, cookie, { _csrf: csrf });
    await lifted.text();
    assert.equal(lifted.status, 303);
    assert.equal((await chat(gw, key, ASK)).status, 200);
  });
});
