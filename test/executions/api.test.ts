import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import OpenAI from 'openai';
import { verifyLedger } from '../../src/billing/verify.ts';
import { mockProvider, type TestGateway } from '../helpers/gateway.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import { type AdminClient, adminClient, createKey, startTenancyGateway } from '../tenancy/helpers.ts';

/**
 * The execution API end to end on one gateway (docs/executions.md): submissions through the official `openai`
 * SDK (`client.post('/executions')`), the in-process worker running them through the pipeline against a mock
 * OpenAI upstream, polling, cancel, list, tenant isolation, bad input, retries, the deadline and balance holds.
 */

interface Execution {
  id: string;
  object: string;
  status: string;
  model: string;
  created_at: number;
  started_at: number | null;
  completed_at: number | null;
  attempts: number;
  estimated_cost: string;
  output: { text?: string; data?: Record<string, unknown> } | null;
  usage: { input_tokens?: number; output_tokens?: number } | null;
  cost: string | null;
  error: { code: string; message: string; retryable: boolean } | null;
  metadata: Record<string, string> | null;
  webhook_url: string | null;
}

const MODELS = [
  { name: 'gpt-4o-mini', qualityRank: 70, tiers: ['fast' as const], price: { input: 1000, output: 1000 } },
  { name: 'gpt-4o', qualityRank: 90, tiers: ['deep' as const], price: { input: 1000, output: 1000 } },
];
const ASK = { max_tokens: 20, messages: [{ role: 'user', content: 'hello there' }] };

describe('executions API', () => {
  let mock: MockOpenAI;
  let gw: TestGateway;
  let admin: AdminClient;
  let acme: { id: string; key: string };
  let other: { id: string; key: string };
  let acmeClient: OpenAI;

  const clientOf = (key: string) => new OpenAI({ baseURL: gw.baseURL, apiKey: key, maxRetries: 0 });
  const call = (key: string, method: string, path: string, body?: unknown) =>
    fetch(`${gw.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
  const get = async (key: string, id: string) =>
    (await (await call(key, 'GET', `/v1/executions/${id}`)).json()) as Execution;
  async function until(key: string, id: string, done: (e: Execution) => boolean, ms = 10_000): Promise<Execution> {
    const deadline = Date.now() + ms;
    for (;;) {
      const e = await get(key, id);
      if (done(e)) return e;
      if (Date.now() > deadline) assert.fail(`execution ${id} stuck at ${JSON.stringify(e)}`);
      await sleep(20);
    }
  }
  const ended = (e: Execution) => ['COMPLETED', 'FAILED', 'CANCELLED'].includes(e.status);

  before(async () => {
    mock = await startMockOpenAI();
    gw = await startTenancyGateway({
      demo: { enabled: false },
      providers: [mockProvider('up', mock.url, MODELS)],
      billing: { flushIntervalMs: 20 },
      server: { bodyLimitBytes: 64 * 1024 },
      executions: { backoffMs: 20, maxBackoffMs: 100, pollMs: 100 },
    });
    admin = await adminClient(gw);
    await admin.json('POST', '/admin/api/tenants', { id: 'acme' });
    acme = { id: 'acme', key: (await createKey(admin, 'acme')).key };
    await admin.json('POST', '/admin/api/tenants', { id: 'other' });
    other = { id: 'other', key: (await createKey(admin, 'other')).key };
    acmeClient = clientOf(acme.key);
  });
  after(async () => {
    await gw?.close();
    await mock?.close();
  });

  test('a text execution: 202 with the SDK, then PENDING/PROCESSING → COMPLETED with output, usage and cost', async () => {
    const { data, response } = await acmeClient
      .post<Execution>('/executions', {
        body: { model: 'fast', input: ASK, metadata: { order: '42' } },
      })
      .withResponse();
    assert.equal(response.status, 202);
    assert.match(data.id, /^exec_[0-9a-f]{32}$/);
    assert.equal(data.status, 'PENDING');
    assert.equal(data.model, 'fast');
    assert.ok(Number(data.estimated_cost) > 0, 'the cost is estimated at submission');
    assert.ok(Math.abs(data.created_at - Date.now() / 1000) < 5);
    const done = await until(acme.key, data.id, ended);
    assert.equal(done.status, 'COMPLETED', JSON.stringify(done));
    assert.equal(done.output?.text, 'Echo: hello there');
    assert.equal((done.output!.data!['message'] as { role: string }).role, 'assistant');
    assert.equal(done.attempts, 1);
    assert.ok((done.usage?.input_tokens ?? 0) > 0 && (done.usage?.output_tokens ?? 0) > 0);
    assert.equal(Number(done.cost), ((done.usage!.input_tokens! + done.usage!.output_tokens!) * 1000) / 1e6);
    assert.ok(Number(done.cost) <= Number(done.estimated_cost));
    assert.deepEqual(done.metadata, { order: '42' });
    assert.ok(done.started_at !== null && done.completed_at !== null && done.completed_at >= done.started_at);
    assert.equal(done.error, null);
    assert.equal((done as unknown as { served_by: string }).served_by, 'up/gpt-4o-mini');
    // The run is recorded like a chat request; its usage record carries the execution id and the attempt.
    await gw.runtime.usage.flush();
    const record = await gw.runtime.store.db
      .selectFrom('usage_record')
      .select(['request_id', 'cost_nano_usd', 'status'])
      .where('request_id', '=', `${data.id}-1`)
      .executeTakeFirst();
    assert.ok(record, 'usage record of the run');
    assert.equal(record.status, 200);
    assert.equal(Number(record.cost_nano_usd), Math.round(Number(done.cost) * 1e9));
  });

  test('tool calls come back in output.data.message; a concrete provider/model slug runs that model', async () => {
    const tools = [
      { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } },
    ];
    const { id } = await acmeClient.post<Execution>('/executions', {
      body: { model: 'up/gpt-4o', input: { messages: [{ role: 'user', content: 'call get_weather' }], tools } },
    });
    const done = await until(acme.key, id, ended);
    assert.equal(done.status, 'COMPLETED', JSON.stringify(done));
    const message = done.output?.data?.['message'] as { tool_calls?: Array<{ function: { name: string } }> };
    assert.equal(message.tool_calls?.[0]?.function.name, 'get_weather');
    assert.equal(done.output?.data?.['finish_reason'], 'tool_calls');
    assert.equal(mock.requests.at(-1)?.body && (mock.requests.at(-1)!.body as { model: string }).model, 'gpt-4o');
  });

  test('auto and a tier with a preset route like chat; the run is served by a catalog model', async () => {
    for (const model of ['auto', 'deep:cheapest']) {
      const { id } = await acmeClient.post<Execution>('/executions', { body: { model, input: ASK } });
      const done = await until(acme.key, id, ended);
      assert.equal(done.status, 'COMPLETED', JSON.stringify(done));
      assert.equal(done.model, model);
    }
    const db = gw.runtime.store.db;
    const served = await db
      .selectFrom('execution')
      .select(['served_by', 'provider'])
      .where('model', '=', 'deep:cheapest')
      .execute();
    assert.deepEqual(
      served.map((r) => [r.served_by, r.provider]),
      [['up/gpt-4o', 'up']],
      'the provider routing put first is what per-provider concurrency counts',
    );
  });

  test("another tenant's execution is 404 on every route, with the body of an unknown id", async () => {
    const { id } = await acmeClient.post<Execution>('/executions', { body: { model: 'fast', input: ASK } });
    await until(acme.key, id, ended);
    const unknown = `exec_${'0'.repeat(32)}`;
    for (const [method, path] of [
      ['GET', `/v1/executions/${id}`],
      ['POST', `/v1/executions/${id}/cancel`],
    ] as const) {
      const theirs = await call(other.key, method, path);
      const none = await call(other.key, method, path.replace(id, unknown));
      assert.equal(theirs.status, 404);
      assert.equal(none.status, 404);
      const a = (await theirs.json()) as { error: { message: string; code: string } };
      const b = (await none.json()) as { error: { message: string; code: string } };
      assert.equal(a.error.code, 'not_found');
      assert.equal(a.error.message.replace(id, 'X'), b.error.message.replace(unknown, 'X'));
    }
    const list = (await (await call(other.key, 'GET', '/v1/executions')).json()) as { data: Execution[] };
    assert.ok(!list.data.some((e) => e.id === id), "the other tenant's list does not show it");
  });

  test('bad input: unknown model, wrong input shape, stream, unknown field, bad webhook_url, oversized body', async () => {
    const cases: Array<[unknown, number, string, string | null]> = [
      [{ model: 'no-such-model', input: ASK }, 404, 'not_found', 'model'],
      [{ model: 'fast', input: 'hello' }, 400, 'invalid_request', 'input'],
      [{ model: 'fast', input: { prompt: 'a cat' } }, 400, 'invalid_request', 'input.messages'],
      [{ model: 'fast', input: { ...ASK, stream: true } }, 400, 'invalid_request', 'input.stream'],
      [{ model: 'fast' }, 400, 'invalid_request', 'input'],
      [{ model: 'fast', input: ASK, priority: 1 }, 400, 'invalid_request', 'priority'],
      [{ model: 'fast', input: ASK, webhook_url: 'ftp://example.com/x' }, 400, 'invalid_request', 'webhook_url'],
      [{ model: 'fast', input: ASK, metadata: { a: 1 } }, 400, 'invalid_request', 'metadata.a'],
      [{ model: 42, input: ASK }, 400, 'invalid_request', 'model'],
    ];
    for (const [body, status, code, param] of cases) {
      const res = await call(acme.key, 'POST', '/v1/executions', body);
      const got = (await res.json()) as { error: { code: string; param: string | null; retryable: boolean } };
      assert.equal(res.status, status, JSON.stringify({ body, got }));
      assert.equal(got.error.code, code);
      assert.equal(got.error.param, param, JSON.stringify(body));
      assert.equal(got.error.retryable, false);
    }
    const big = { model: 'fast', input: { messages: [{ role: 'user', content: 'x'.repeat(70 * 1024) }] } };
    const res = await call(acme.key, 'POST', '/v1/executions', big);
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'invalid_request');
    const unauth = await call('wrong-key', 'POST', '/v1/executions', { model: 'fast', input: ASK });
    assert.equal(unauth.status, 401);
  });

  test('a key without the executions scope is refused (403); one with it is served', async () => {
    const chatOnly = await admin.json<{ key: string }>('POST', '/admin/api/keys', {
      tenantId: 'acme',
      limits: { scopes: ['chat'] },
    });
    const res = await call(chatOnly.key, 'POST', '/v1/executions', { model: 'fast', input: ASK });
    assert.equal(res.status, 403);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'permission_denied');
    assert.equal((await call(chatOnly.key, 'GET', '/v1/executions')).status, 403);
    const scoped = await admin.json<{ key: string }>('POST', '/admin/api/keys', {
      tenantId: 'acme',
      limits: { scopes: ['executions'] },
    });
    const ok = await call(scoped.key, 'POST', '/v1/executions', { model: 'fast', input: ASK });
    assert.equal(ok.status, 202);
    const { id } = (await ok.json()) as Execution;
    assert.equal((await until(scoped.key, id, ended)).status, 'COMPLETED');
  });

  test('a key with rates is counted at submission (x-ratelimit headers on the 202), and refused past them', async () => {
    const limited = await admin.json<{ key: string }>('POST', '/admin/api/keys', {
      tenantId: 'acme',
      limits: { rpm: 2, tpm: 100_000 },
    });
    const first = await call(limited.key, 'POST', '/v1/executions', { model: 'fast', input: ASK });
    assert.equal(first.status, 202, await first.clone().text());
    assert.equal(first.headers.get('x-ratelimit-limit-requests'), '2');
    assert.equal(first.headers.get('x-ratelimit-remaining-requests'), '1');
    assert.ok(Number(first.headers.get('x-ratelimit-remaining-tokens')) < 100_000, 'the prompt was counted');
    assert.equal((await call(limited.key, 'POST', '/v1/executions', { model: 'fast', input: ASK })).status, 202);
    const third = await call(limited.key, 'POST', '/v1/executions', { model: 'fast', input: ASK });
    assert.equal(third.status, 429);
    assert.equal(((await third.json()) as { error: { code: string } }).error.code, 'rate_limited');
  });

  test('cancel of a PROCESSING execution stops its run; it stays CANCELLED; cancel again answers the same', async () => {
    mock.faults.sticky = { kind: 'delay', ms: 1_500 };
    try {
      const { id } = await acmeClient.post<Execution>('/executions', { body: { model: 'fast', input: ASK } });
      await until(acme.key, id, (e) => e.status === 'PROCESSING');
      const res = await call(acme.key, 'POST', `/v1/executions/${id}/cancel`);
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as Execution).status, 'CANCELLED');
      await sleep(1_700);
      const after = await get(acme.key, id);
      assert.equal(after.status, 'CANCELLED');
      assert.equal(after.output, null);
      assert.equal(gw.runtime.executions.worker.running, 0, 'the run was stopped');
      const again = await call(acme.key, 'POST', `/v1/executions/${id}/cancel`);
      assert.equal(again.status, 200);
    } finally {
      mock.faults.clear();
    }
  });

  test('retryable upstream failures are retried with backoff; a non-retryable one fails at once', async () => {
    mock.faults.push({ kind: 'status', status: 503 }, { kind: 'status', status: 503 });
    const { id } = await acmeClient.post<Execution>('/executions', { body: { model: 'fast', input: ASK } });
    const done = await until(acme.key, id, ended);
    assert.equal(done.status, 'COMPLETED', JSON.stringify(done));
    assert.equal(done.attempts, 3, 'two failed runs, then one that succeeded');
    mock.faults.push({ kind: 'status', status: 400 });
    const bad = await acmeClient.post<Execution>('/executions', { body: { model: 'fast', input: ASK } });
    const failed = await until(acme.key, bad.id, ended);
    assert.equal(failed.status, 'FAILED');
    assert.equal(failed.attempts, 1);
    assert.equal(failed.error?.code, 'context_length_exceeded', "the mock's 400 body, mapped by the provider table");
    assert.equal(failed.error?.retryable, false);
    const done2 = await acmeClient.post<Execution>('/executions', { body: { model: 'fast', input: ASK } });
    assert.equal((await until(acme.key, done2.id, ended)).status, 'COMPLETED');
  });

  test('the worker shows in /metrics: running, ended by status, retries', async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    const value = (line: string) =>
      Number(new RegExp(`^${line.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
    assert.ok(value('modro_executions_ended_total{status="completed"}') >= 5, text.slice(0, 200));
    assert.ok(value('modro_executions_ended_total{status="failed"}') >= 1);
    assert.ok(value('modro_execution_retries_total') >= 2);
    assert.equal(value('modro_executions_running'), 0);
    assert.equal(value('modro_executions_queued'), 0);
  });

  test('storing executions moved SQLite checkpoints off the event loop (decision 0041)', async () => {
    const own = await sql<{ wal_autocheckpoint: number }>`PRAGMA wal_autocheckpoint`.execute(gw.runtime.store.db);
    assert.equal(own.rows[0]?.wal_autocheckpoint, 0, 'the worker thread checkpoints, not the commits');
  });

  test('a completed execution cannot be cancelled (400, its status named)', async () => {
    const { id } = await acmeClient.post<Execution>('/executions', { body: { model: 'fast', input: ASK } });
    await until(acme.key, id, ended);
    const res = await call(acme.key, 'POST', `/v1/executions/${id}/cancel`);
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /COMPLETED/);
  });

  test('cancels racing completions: each execution ends once, its hold closed once, as its final state says', async (t) => {
    await admin.json('POST', '/admin/api/tenants', { id: 'racer' });
    await admin.json('POST', '/admin/api/tenants/racer/account');
    await admin.json('POST', '/admin/api/tenants/racer/ledger', { kind: 'credit', amountUsd: '50', reason: 'test' });
    const key = (await createKey(admin, 'racer')).key;
    const c = clientOf(key);
    mock.faults.sticky = { kind: 'delay', ms: 15 };
    const ids: string[] = [];
    try {
      await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const { id } = await c.post<Execution>('/executions', { body: { model: 'fast', input: ASK } });
          ids.push(id);
          await sleep((i % 8) * 5);
          await call(key, 'POST', `/v1/executions/${id}/cancel`);
        }),
      );
      for (const id of ids) await until(key, id, ended);
    } finally {
      mock.faults.clear();
    }
    const db = gw.runtime.store.db;
    const rows = await db
      .selectFrom('execution')
      .select(['id', 'status', 'cost_nano'])
      .where('tenant_id', '=', 'racer')
      .execute();
    const entries = await db
      .selectFrom('ledger_entry')
      .select(['hold_id', 'kind', 'amount_nano'])
      .where('tenant_id', '=', 'racer')
      .where('kind', 'in', ['settle', 'release'])
      .execute();
    const statuses = new Set<string>();
    for (const row of rows) {
      statuses.add(row.status);
      const closes = entries.filter((e) => e.hold_id === row.id);
      assert.equal(closes.length, 1, `${row.id} (${row.status}) closed ${closes.length} times`);
      assert.equal(closes[0]!.kind, row.status === 'COMPLETED' ? 'settle' : 'release');
      if (row.status === 'COMPLETED') assert.equal(-Number(closes[0]!.amount_nano), Number(row.cost_nano));
    }
    assert.equal(rows.length, 40);
    const count = (status: string) => rows.filter((r) => r.status === status).length;
    t.diagnostic(`${count('COMPLETED')} completed, ${count('CANCELLED')} cancelled`);
    assert.ok(statuses.has('CANCELLED'), [...statuses].join());
    await gw.runtime.ledger.flush();
    assert.deepEqual((await verifyLedger(db)).problems, []);
    assert.equal(gw.runtime.ledger.account('racer')!.heldNano, 0);
  });

  test('billed: the hold is placed at submission and settled at the cost in the terminal transaction; 402 beyond the balance', async () => {
    await admin.json('POST', '/admin/api/tenants', { id: 'payer' });
    await admin.json('POST', '/admin/api/tenants/payer/account');
    await admin.json('POST', '/admin/api/tenants/payer/ledger', { kind: 'credit', amountUsd: '0.2', reason: 'test' });
    const key = (await createKey(admin, 'payer')).key;
    const c = clientOf(key);
    const { id, estimated_cost } = await c.post<Execution>('/executions', { body: { model: 'fast', input: ASK } });
    const db = gw.runtime.store.db;
    const done = await until(key, id, ended);
    assert.equal(done.status, 'COMPLETED');
    const entries = await db
      .selectFrom('ledger_entry')
      .select(['kind', 'amount_nano', 'held_nano'])
      .where('hold_id', '=', id)
      .orderBy('id')
      .execute();
    assert.deepEqual(
      entries.map((e) => [e.kind, Number(e.amount_nano), Number(e.held_nano)]),
      [
        ['hold', 0, Math.round(Number(estimated_cost) * 1e9)],
        ['settle', -Math.round(Number(done.cost) * 1e9), -Math.round(Number(estimated_cost) * 1e9)],
      ],
    );
    // A cancelled one is released.
    mock.faults.sticky = { kind: 'delay', ms: 1_000 };
    const pending = await c.post<Execution>('/executions', { body: { model: 'fast', input: ASK } });
    await call(key, 'POST', `/v1/executions/${pending.id}/cancel`);
    mock.faults.clear();
    const released = await db.selectFrom('ledger_entry').select(['kind']).where('hold_id', '=', pending.id).execute();
    assert.deepEqual(released.map((e) => e.kind).sort(), ['hold', 'release']);
    // Far more than the balance: refused before anything is queued.
    const greedy = await call(key, 'POST', '/v1/executions', { model: 'fast', input: { ...ASK, max_tokens: 16_000 } });
    assert.equal(greedy.status, 402);
    assert.equal(((await greedy.json()) as { error: { code: string } }).error.code, 'quota_exceeded');
    // A key whose own quota is smaller than the hold: refused naming the key's quota.
    const small = await admin.json<{ key: string }>('POST', '/admin/api/keys', {
      tenantId: 'payer',
      limits: { quota: { usd: 0.00001, period: 'monthly' } },
    });
    const capped = await call(small.key, 'POST', '/v1/executions', { model: 'fast', input: ASK });
    assert.equal(capped.status, 402);
    assert.match(((await capped.json()) as { error: { message: string } }).error.message, /key's .* quota/);
    await gw.runtime.ledger.flush();
    await sleep(1_200);
    const verified = await verifyLedger(db);
    assert.deepEqual(verified.problems, []);
    assert.equal(gw.runtime.ledger.account('payer')!.heldNano, 0);
  });
});

describe('executions: queue order, list cursor and filter, cancel of PENDING, deadline', () => {
  let mock: MockOpenAI;
  let gw: TestGateway;
  before(async () => {
    mock = await startMockOpenAI();
    gw = await startTenancyGateway({
      demo: { enabled: false },
      providers: [mockProvider('up', mock.url, MODELS)],
      executions: { enabled: false, deadlineMs: 1_000, pollMs: 50 },
    });
  });
  after(async () => {
    await gw?.close();
    await mock?.close();
  });

  test('list: newest first, limit and cursor, status filter; cancel of PENDING; the deadline ends one FAILED timeout', async () => {
    const key = (gw.runtime.config.auth.keys[0] as { key: string }).key;
    const c = new OpenAI({ baseURL: gw.baseURL, apiKey: key, maxRetries: 0 });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await c.post<Execution>('/executions', { body: { model: 'fast', input: ASK } })).id);
    }
    const page1 = await c.get<{ data: Execution[]; has_more: boolean; last_id: string }>('/executions', {
      query: { limit: 2 },
    });
    assert.deepEqual(
      page1.data.map((e) => e.id),
      [ids[4], ids[3]],
    );
    assert.equal(page1.has_more, true);
    const page2 = await c.get<{ data: Execution[]; has_more: boolean }>('/executions', {
      query: { limit: 10, after: page1.last_id },
    });
    assert.deepEqual(
      page2.data.map((e) => e.id),
      [ids[2], ids[1], ids[0]],
    );
    assert.equal(page2.has_more, false);
    const cancelled = await c.post<Execution>(`/executions/${ids[1]}/cancel`);
    assert.equal(cancelled.status, 'CANCELLED');
    const onlyCancelled = await c.get<{ data: Execution[] }>('/executions', { query: { status: 'CANCELLED' } });
    assert.deepEqual(
      onlyCancelled.data.map((e) => e.id),
      [ids[1]],
    );
    const bad = await fetch(`${gw.url}/v1/executions?status=DONE`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(bad.status, 400);
    // Nothing ran (no worker in this process). Past the 1 s deadline, a worker ends the rest FAILED timeout.
    assert.equal(mock.requests.length, 0);
    await sleep(1_100);
    gw.runtime.executions.worker.start();
    const deadline = Date.now() + 5_000;
    let failed: Execution[] = [];
    while (Date.now() < deadline) {
      failed = (await c.get<{ data: Execution[] }>('/executions', { query: { status: 'FAILED' } })).data;
      if (failed.length === 4) break;
      await sleep(50);
    }
    assert.equal(failed.length, 4);
    for (const e of failed) assert.equal(e.error?.code, 'timeout');
    assert.equal(mock.requests.length, 0, 'an execution past its deadline is not run');
    const stillCancelled = await c.get<Execution>(`/executions/${ids[1]}`);
    assert.equal(stillCancelled.status, 'CANCELLED');
  });

  test('an execution whose key was revoked while it waited does not run (FAILED permission_denied)', async () => {
    const admin = await adminClient(gw);
    await admin.json('POST', '/admin/api/tenants', { id: 'leaver' });
    const key = await createKey(admin, 'leaver');
    await gw.runtime.executions.worker.stop();
    const requests = mock.requests.length;
    const res = await fetch(`${gw.url}/v1/executions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'fast', input: ASK }),
    });
    assert.equal(res.status, 202);
    const { id } = (await res.json()) as Execution;
    await admin.json('POST', `/admin/api/keys/${key.id}/revoke`);
    gw.runtime.executions.worker.start();
    const db = gw.runtime.store.db;
    const deadline = Date.now() + 5_000;
    let row: { status: string; error_code: string | null } | undefined;
    do {
      await sleep(20);
      row = await db.selectFrom('execution').select(['status', 'error_code']).where('id', '=', id).executeTakeFirst();
    } while (row?.status !== 'FAILED' && Date.now() < deadline);
    assert.deepEqual({ ...row }, { status: 'FAILED', error_code: 'permission_denied' });
    assert.equal(mock.requests.length, requests, 'nothing was sent upstream');
  });
});

describe('executions: the walkthrough against the built-in demo provider', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTenancyGateway({});
  });
  after(async () => {
    await gw?.close();
  });

  test('a text execution with model fast completes with the demo answer', async () => {
    const { id, status } = await gw.client.post<Execution>('/executions', {
      body: { model: 'fast', input: { messages: [{ role: 'user', content: 'Write a haiku about queues' }] } },
    });
    assert.equal(status, 'PENDING');
    const deadline = Date.now() + 10_000;
    let e: Execution;
    do {
      await sleep(20);
      e = await gw.client.get<Execution>(`/executions/${id}`);
    } while (e.status !== 'COMPLETED' && e.status !== 'FAILED' && Date.now() < deadline);
    assert.equal(e.status, 'COMPLETED', JSON.stringify(e));
    assert.ok((e.output?.text ?? '').length > 0);
  });
});
