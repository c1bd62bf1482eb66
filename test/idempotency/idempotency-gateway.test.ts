import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI, { APIError, toFile } from 'openai';
import { dropSchema, errorOf, PNG, postgresProblem, upload } from '../files/helpers.ts';
import { isCI } from '../helpers/ci.ts';
import { POSTGRES_TEST_URL } from '../helpers/databases.ts';
import { mockProvider, TEST_API_KEY, type TestGateway } from '../helpers/gateway.ts';
import { type GatewayProcess, removeDataDir, spawnGateway } from '../helpers/gateway-process.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import { type AdminClient, adminClient, chat, createKey, startTenancyGateway, waitFor } from '../tenancy/helpers.ts';

/**
 * Idempotency-Key through the gateway (docs/idempotency.md): the official `openai` SDK as the client, a mock
 * OpenAI upstream that counts calls, usage records and the ledger checked for one charge.
 */

/**
 * The SDK sends `Idempotency-Key` only when its client class names the header (Stainless' `idempotencyHeader`,
 * unset on `OpenAI` in openai 7.x); then every POST carries `idempotencyKey` (given, or generated once per
 * call and reused by the SDK's own retries).
 */
class IdempotentOpenAI extends OpenAI {
  protected override idempotencyHeader = 'Idempotency-Key';
}

const MODELS = [
  { name: 'gpt-4o-mini', qualityRank: 70, tiers: ['fast' as const], price: { input: 1000, output: 1000 } },
];
const ASK = {
  model: 'fast',
  max_tokens: 20,
  messages: [{ role: 'user' as const, content: 'hello idempotency' }],
};

describe('Idempotency-Key through the gateway [sqlite]', () => {
  let mock: MockOpenAI;
  let gw: TestGateway;
  let admin: AdminClient;
  let root: string;
  let key: string;
  let client: IdempotentOpenAI;
  let seq = 0;
  const fresh = () => `key-${process.pid}-${++seq}`;

  before(async () => {
    mock = await startMockOpenAI();
    root = mkdtempSync(join(tmpdir(), 'modro-idem-'));
    gw = await startTenancyGateway({
      demo: { enabled: false },
      providers: [mockProvider('up', mock.url, MODELS)],
      billing: { flushIntervalMs: 20 },
      files: { root },
    });
    admin = await adminClient(gw);
    await admin.json('POST', '/admin/api/tenants', { id: 'billed' });
    await admin.json('POST', '/admin/api/tenants/billed/account');
    await admin.json('POST', '/admin/api/tenants/billed/ledger', { kind: 'credit', amountUsd: '5', reason: 'test' });
    key = (await createKey(admin, 'billed')).key;
    client = new IdempotentOpenAI({ baseURL: gw.baseURL, apiKey: key, maxRetries: 0 });
  });
  after(async () => {
    await gw?.close();
    await mock?.close();
    rmSync(root, { recursive: true, force: true });
  });

  const usageRows = async (requestId: string) => {
    await gw.runtime.usage.flush();
    return gw.runtime.store.db
      .selectFrom('usage_record')
      .select('request_id')
      .where('request_id', '=', requestId)
      .execute();
  };

  /** `modro_idempotency_requests_total` of one outcome, from /metrics. */
  const outcomes = async (outcome: string) => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    return Number(new RegExp(`modro_idempotency_requests_total\\{outcome="${outcome}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
  };

  test('a retry with the same key gets the same answer, metered and charged once', async () => {
    const idempotencyKey = fresh();
    const calls = mock.requests.length;
    const first = await client.chat.completions.create(ASK, { idempotencyKey }).withResponse();
    const second = await client.chat.completions.create(ASK, { idempotencyKey }).withResponse();
    assert.deepEqual(second.data, first.data, 'identical body');
    assert.equal(second.response.status, first.response.status);
    assert.equal(first.response.headers.get('idempotent-replayed'), null);
    assert.equal(second.response.headers.get('idempotent-replayed'), 'true');
    const requestId = first.response.headers.get('x-request-id')!;
    assert.equal(second.response.headers.get('x-request-id'), requestId, 'the original request id');
    assert.equal(second.response.headers.get('x-model-router-cost'), first.response.headers.get('x-model-router-cost'));
    assert.equal(mock.requests.length - calls, 1, 'one upstream call');
    assert.equal((await usageRows(requestId)).length, 1, 'one usage record');
    await gw.runtime.ledger.flush();
    const acct = await admin.json<{ entries: Array<{ kind: string; hold_id: string | null }> }>(
      'GET',
      '/admin/api/tenants/billed/account',
    );
    const mine = acct.entries.filter((e) => e.hold_id === requestId);
    assert.deepEqual(mine.map((e) => e.kind).sort(), ['hold', 'settle'], 'one hold settled once');
    assert.equal(acct.entries.filter((e) => e.kind === 'settle').length, 1, 'charged once');
  });

  test('the plain SDK client sends the key given in the request headers', async () => {
    const plain = new OpenAI({ baseURL: gw.baseURL, apiKey: key, maxRetries: 0 });
    const headers = { 'Idempotency-Key': fresh() };
    const calls = mock.requests.length;
    const first = await plain.chat.completions.create(ASK, { headers });
    const second = await plain.chat.completions.create(ASK, { headers }).withResponse();
    assert.equal(second.data.id, first.id);
    assert.equal(second.response.headers.get('idempotent-replayed'), 'true');
    assert.equal(mock.requests.length - calls, 1);
  });

  test('the same key with a different body: 409 idempotency_conflict, and nothing runs', async () => {
    const idempotencyKey = fresh();
    await client.chat.completions.create(ASK, { idempotencyKey });
    const calls = mock.requests.length;
    const err = await client.chat.completions
      .create({ ...ASK, messages: [{ role: 'user', content: 'something else' }] }, { idempotencyKey })
      .then(
        () => assert.fail('accepted'),
        (e: unknown) => e,
      );
    assert.ok(err instanceof APIError);
    assert.equal(err.status, 409);
    assert.equal((err.error as { code: string }).code, 'idempotency_conflict');
    assert.match(err.message, /different request/);
    assert.equal(mock.requests.length, calls);
  });

  test('20 concurrent duplicates: one upstream call, one answer, 19 clear 409s', async () => {
    const idempotencyKey = fresh();
    const calls = mock.requests.length;
    // The upstream answers once the duplicates have been answered (a 400 ms delay was over before all 20 arrived on
    // a loaded machine: 9 got the replay). A duplicate that reached the upstream would be answered at once.
    let open = () => {};
    mock.faults.push({ kind: 'gate', open: new Promise<void>((resolve) => (open = resolve)) });
    let answered = 0;
    const calls20 = Array.from({ length: 20 }, () =>
      chat(gw, key, ASK, { 'idempotency-key': idempotencyKey }).then((res) => {
        answered++;
        return res;
      }),
    );
    const deadline = Date.now() + 60_000;
    while (answered < 19 && Date.now() < deadline) await sleep(20);
    open();
    const results = await Promise.all(calls20);
    const statuses = results.map((r) => r.status).sort();
    assert.equal(statuses.filter((s) => s === 200).length, 1, String(statuses));
    const conflicts = results.filter((r) => r.status === 409);
    assert.equal(conflicts.length, 19);
    const e = await errorOf(conflicts[0]!);
    assert.equal(e.code, 'idempotency_conflict');
    assert.match(e.message, /still in progress/);
    for (const r of results) await r.text().catch(() => {});
    assert.equal(mock.requests.length - calls, 1);
    // Once it has finished, a duplicate gets the answer.
    const after = await chat(gw, key, ASK, { 'idempotency-key': idempotencyKey });
    assert.equal(after.status, 200);
    assert.equal(after.headers.get('idempotent-replayed'), 'true');
    await after.text();
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    const count = (outcome: string) =>
      Number(new RegExp(`modro_idempotency_requests_total\\{outcome="${outcome}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
    assert.ok(count('in_progress') >= 19, metrics);
    assert.ok(count('new') >= 1 && count('replay') >= 1);
  });

  test("the SDK's own retries: it waits out an in-progress 409 and gets the answer; a mismatch it does not retry", async () => {
    const retrying = new IdempotentOpenAI({ baseURL: gw.baseURL, apiKey: key, maxRetries: 3 });
    const idempotencyKey = fresh();
    const calls = mock.requests.length;
    // Ordered by conditions, not sleeps: the first request is upstream (its key taken) before the SDK sends, and the
    // SDK has had its 409 "in progress" before the upstream answers. (A 150 ms head start could be too short on a
    // loaded machine, and the SDK's request would then have taken the key first.)
    let open = () => {};
    mock.faults.push({ kind: 'gate', open: new Promise<void>((resolve) => (open = resolve)) });
    const first = chat(gw, key, ASK, { 'idempotency-key': idempotencyKey });
    await waitFor(() => mock.requests.length > calls, 'the first request upstream');
    const inProgressBefore = await outcomes('in_progress');
    const retriedCall = retrying.chat.completions.create(ASK, { idempotencyKey }).withResponse();
    await waitFor(async () => (await outcomes('in_progress')) > inProgressBefore, "the SDK's 409 in progress");
    open();
    const retried = await retriedCall;
    const original = await first;
    assert.equal(original.status, 200);
    assert.equal(retried.response.headers.get('idempotent-replayed'), 'true');
    assert.equal(retried.data.id, ((await original.json()) as { id: string }).id);
    assert.equal(mock.requests.length - calls, 1);

    const conflict = await chat(gw, key, { ...ASK, max_tokens: 3 }, { 'idempotency-key': idempotencyKey });
    assert.equal(conflict.headers.get('x-should-retry'), 'false');
    await conflict.text();
    const before = await outcomes('mismatch');
    await assert.rejects(retrying.chat.completions.create({ ...ASK, max_tokens: 3 }, { idempotencyKey }), APIError);
    assert.equal((await outcomes('mismatch')) - before, 1, 'sent once, not retried');
  });

  test('an upstream 5xx is not stored: the retry with the same key runs again', async () => {
    const idempotencyKey = fresh();
    const calls = mock.requests.length;
    mock.faults.sticky = { kind: 'status', status: 500 };
    try {
      const failed = await chat(gw, key, ASK, { 'idempotency-key': idempotencyKey });
      assert.ok(failed.status >= 500, String(failed.status));
      await failed.text();
    } finally {
      mock.faults.clear();
    }
    const upstreamCalls = mock.requests.length - calls;
    assert.ok(upstreamCalls >= 1);
    const retry = await chat(gw, key, ASK, { 'idempotency-key': idempotencyKey });
    assert.equal(retry.status, 200);
    assert.equal(retry.headers.get('idempotent-replayed'), null, 'ran, not replayed');
    await retry.text();
    assert.equal(mock.requests.length - calls, upstreamCalls + 1);
  });

  test('a request refused by validation does not take the key (Stripe: nothing ran)', async () => {
    const idempotencyKey = fresh();
    const bad = await chat(gw, key, { model: 'fast', messages: 'not a list' }, { 'idempotency-key': idempotencyKey });
    assert.equal(bad.status, 400);
    await bad.text();
    const good = await chat(gw, key, ASK, { 'idempotency-key': idempotencyKey });
    assert.equal(good.status, 200);
    await good.text();
  });

  test('streaming requests ignore the header: each one runs', async () => {
    const idempotencyKey = fresh();
    const calls = mock.requests.length;
    for (let i = 0; i < 2; i++) {
      const res = await chat(gw, key, { ...ASK, stream: true }, { 'idempotency-key': idempotencyKey });
      assert.equal(res.status, 200);
      assert.match(await res.text(), /\[DONE\]/);
    }
    assert.equal(mock.requests.length - calls, 2);
  });

  test('POST /v1/messages takes the key too (the same codec-agnostic stage)', async () => {
    const idempotencyKey = fresh();
    const calls = mock.requests.length;
    const send = () =>
      fetch(`${gw.url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': key, 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
        body: JSON.stringify({ model: 'fast', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] }),
      });
    const first = await send();
    const firstBody = await first.text();
    assert.equal(first.status, 200, firstBody);
    const second = await send();
    assert.equal(await second.text(), firstBody);
    assert.equal(second.headers.get('idempotent-replayed'), 'true');
    assert.equal(mock.requests.length - calls, 1);
  });

  test('POST /v1/responses takes the key when not streaming', async () => {
    const idempotencyKey = fresh();
    const calls = mock.requests.length;
    const first = await client.responses.create(
      { model: 'fast', input: 'hello responses', max_output_tokens: 20 },
      { idempotencyKey },
    );
    const second = await client.responses
      .create({ model: 'fast', input: 'hello responses', max_output_tokens: 20 }, { idempotencyKey })
      .withResponse();
    assert.equal(second.data.id, first.id);
    assert.equal(second.data.output_text, first.output_text);
    assert.equal(second.response.headers.get('idempotent-replayed'), 'true');
    assert.equal(mock.requests.length - calls, 1);
  });

  test('POST /v1/executions: a retried submission gets the same execution; an invalid one does not take the key', async () => {
    const submit = (body: unknown, idempotencyKey: string) =>
      fetch(`${gw.url}/v1/executions`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
          'idempotency-key': idempotencyKey,
        },
        body: JSON.stringify(body),
      });
    const body = { model: 'fast', input: { max_tokens: 20, messages: [{ role: 'user', content: 'run once' }] } };
    const k = fresh();
    const first = await submit(body, k);
    const created = (await first.json()) as { id: string; status: string };
    assert.equal(first.status, 202, JSON.stringify(created));
    const again = await submit(body, k);
    assert.equal(again.status, 202);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(((await again.json()) as { id: string }).id, created.id);
    const rows = await gw.runtime.store.db
      .selectFrom('execution')
      .select('id')
      .where('tenant_id', '=', 'billed')
      .where('id', '=', created.id)
      .execute();
    assert.equal(rows.length, 1);
    const other = await submit({ ...body, input: { ...body.input, max_tokens: 5 } }, k);
    assert.equal((await errorOf(other)).code, 'idempotency_conflict');

    const k2 = fresh();
    const invalid = await submit({ input: body.input }, k2);
    assert.equal(invalid.status, 400);
    await invalid.text();
    const fixed = await submit(body, k2);
    assert.equal(fixed.status, 202, 'the invalid submission did not take the key');
    assert.notEqual(((await fixed.json()) as { id: string }).id, created.id);
  });

  test('an over-long key is refused with 400', async () => {
    const res = await chat(gw, key, ASK, { 'idempotency-key': 'k'.repeat(256) });
    const e = await errorOf(res);
    assert.equal(e.status, 400);
    assert.match(e.message, /1 to 255 characters/);
  });

  test('POST /v1/files: the same upload under one key is one file; another file under it is a conflict', async () => {
    const idempotencyKey = fresh();
    const make = async () =>
      client.files.create(
        { file: await toFile(PNG, 'p.png'), purpose: 'execution_input' as 'user_data' },
        { idempotencyKey },
      );
    const first = await make();
    const second = await make();
    assert.equal(second.id, first.id);
    const listed = await client.files.list();
    assert.equal(listed.data.filter((f) => f.filename === 'p.png').length, 1, 'one file stored');
    const other = await upload(
      gw,
      key,
      [
        { name: 'purpose', value: 'execution_input' },
        { name: 'file', bytes: Buffer.concat([PNG, Buffer.from('x')]), filename: 'p.png' },
      ],
      { 'idempotency-key': idempotencyKey },
    );
    assert.equal((await errorOf(other)).code, 'idempotency_conflict');
  });
});

/**
 * Expiry on its own gateway with a short `idempotency.ttlMs`: the suite above keeps the default (a day), so that
 * none of its keys expires between two requests of one test however slow the machine (with 1.5 s for the whole
 * suite, the SDK-retries test once saw its mismatched request accepted: the key had expired under load).
 */
describe('Idempotency-Key expiry [sqlite]', () => {
  const TTL_MS = 1_500;
  let mock: MockOpenAI;
  let gw: TestGateway;
  let client: IdempotentOpenAI;

  before(async () => {
    mock = await startMockOpenAI();
    gw = await startTenancyGateway({
      demo: { enabled: false },
      providers: [mockProvider('up', mock.url, MODELS)],
      idempotency: { ttlMs: TTL_MS },
    });
    const admin = await adminClient(gw);
    await admin.json('POST', '/admin/api/tenants', { id: 'expiring' });
    client = new IdempotentOpenAI({
      baseURL: gw.baseURL,
      apiKey: (await createKey(admin, 'expiring')).key,
      maxRetries: 0,
    });
  });
  after(async () => {
    await gw?.close();
    await mock?.close();
  });

  test('keys expire after idempotency.ttlMs: the same key then runs again', async () => {
    const idempotencyKey = `expiring-${process.pid}`;
    const calls = mock.requests.length;
    await client.chat.completions.create(ASK, { idempotencyKey });
    await sleep(TTL_MS + 100);
    const res = await client.chat.completions.create(ASK, { idempotencyKey }).withResponse();
    assert.equal(res.response.headers.get('idempotent-replayed'), null);
    assert.equal(mock.requests.length - calls, 2);
  });
});

const pgProblem = await postgresProblem();

describe('Idempotency-Key shared by two gateway processes [postgres]', {
  skip: pgProblem !== undefined && !isCI() ? `PostgreSQL unreachable (${pgProblem})` : false,
}, () => {
  const schema = `t_idem_procs_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  let mock: MockOpenAI;
  const gateways: GatewayProcess[] = [];

  before(async () => {
    mock = await startMockOpenAI();
    const config = {
      demo: { enabled: false },
      auth: { keys: [{ id: 'test', key: TEST_API_KEY }] },
      providers: [mockProvider('up', mock.url, MODELS)],
      storage: { kind: 'postgres' as const, url: POSTGRES_TEST_URL, schema },
    };
    // One after the other: the first creates the schema and migrates. Each keeps its files in its own folder.
    for (let i = 0; i < 2; i++) {
      const dataDir = mkdtempSync(join(tmpdir(), 'modro-idem-proc-'));
      gateways.push(await spawnGateway({ ...config, files: { root: join(dataDir, 'files') } }, dataDir));
    }
  });
  after(async () => {
    for (const g of gateways) {
      await g.stop();
      removeDataDir(g.dataDir);
    }
    await mock?.close();
    if (!pgProblem) await dropSchema(schema);
  });

  const post = (g: GatewayProcess, idempotencyKey: string, body: unknown = ASK) =>
    fetch(`${g.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${TEST_API_KEY}`,
        'content-type': 'application/json',
        'idempotency-key': idempotencyKey,
      },
      body: JSON.stringify(body),
    });

  test('a key used on one process is replayed by the other; in progress on one is a 409 on the other', async () => {
    const [a, b] = gateways as [GatewayProcess, GatewayProcess];
    const calls = mock.requests.length;
    const first = await post(a, 'shared-1');
    const firstBody = await first.text();
    assert.equal(first.status, 200, firstBody);
    const second = await post(b, 'shared-1');
    assert.equal(second.status, 200);
    assert.equal(await second.text(), firstBody);
    assert.equal(second.headers.get('idempotent-replayed'), 'true');
    assert.equal(mock.requests.length - calls, 1);

    mock.faults.push({ kind: 'delay', ms: 800 });
    const slow = post(a, 'shared-2');
    await sleep(300);
    const dup = await post(b, 'shared-2');
    assert.equal((await errorOf(dup)).code, 'idempotency_conflict');
    const done = await slow;
    assert.equal(done.status, 200);
    const doneBody = await done.text();
    const replay = await post(b, 'shared-2');
    assert.equal(await replay.text(), doneBody);
    const conflict = await post(a, 'shared-2', { ...ASK, max_tokens: 5 });
    assert.equal((await errorOf(conflict)).status, 409);
    assert.equal(mock.requests.length - calls, 2);
  });
});
