import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import OpenAI, { NotFoundError } from 'openai';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { validateSchema } from '../helpers/openai-schema.ts';
import { MOCK_API_KEY, type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import { adminClient, createTenantWithKey, startTenancyGateway } from '../tenancy/helpers.ts';

/**
 * Stored responses (`responses.store`, docs/responses.md) over real HTTP with OpenAI's SDK as the client:
 * off by default (previous_response_id refused); on, a later request continues a stored conversation (the
 * upstream sees the earlier turns, a function call and its output included, without the earlier
 * instructions), per tenant, until it expires; `store: false` and streams; GET and DELETE by id.
 */

const MODEL = 'openai/gpt-4o-mini';
const FULL = { tools: true, vision: true, jsonSchema: true, streaming: true };
const TOOLS: OpenAI.Responses.FunctionTool[] = [
  {
    type: 'function',
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    strict: false,
  },
];

function provider(openai: MockOpenAI) {
  return {
    id: 'openai',
    kind: 'openai',
    baseUrl: openai.url,
    keys: [MOCK_API_KEY],
    models: [{ name: 'gpt-4o-mini', qualityRank: 70, price: { input: 1, output: 2 }, capabilities: FULL }],
  };
}

/** The chat messages of the upstream's last request, reduced to what these tests compare. */
function upstreamMessages(openai: MockOpenAI): Array<Record<string, unknown>> {
  const body = openai.requests.at(-1)?.body as { messages: Array<Record<string, unknown>> };
  return body.messages.map((m) => {
    const content = m['content'];
    const text =
      typeof content === 'string'
        ? content
        : Array.isArray(content)
          ? content.map((p: { text?: string }) => p.text ?? '').join('')
          : null;
    const out: Record<string, unknown> = { role: m['role'], text };
    const calls = m['tool_calls'] as Array<{ id: string; function: { name: string } }> | undefined;
    if (calls?.length) out['calls'] = calls.map((c) => `${c.id}:${c.function.name}`);
    if (m['tool_call_id']) out['callId'] = m['tool_call_id'];
    return out;
  });
}

async function errorOf(res: Response) {
  return ((await res.json()) as { error: { type: string; code: string; param: string | null; message: string } }).error;
}

describe('stored responses off (the default)', () => {
  let openai: MockOpenAI;
  let gw: TestGateway;
  before(async () => {
    openai = await startMockOpenAI();
    gw = await startGateway({ providers: [provider(openai)] as never });
  });
  after(async () => {
    await gw.close();
    await openai.close();
  });

  test('previous_response_id is refused with 400 saying storage is off; answers say store: false', async () => {
    const first = await gw.client.responses.create({ model: MODEL, input: 'Hello' });
    assert.equal((first as unknown as { store: boolean }).store, false);
    const res = await gw.post('/v1/responses', { model: MODEL, input: 'again', previous_response_id: first.id });
    assert.equal(res.status, 400);
    const error = await errorOf(res);
    assert.equal(error.param, 'previous_response_id');
    assert.match(error.message, /storage is off/);
    assert.equal(gw.runtime.responses, undefined);
    await assert.rejects(gw.client.responses.retrieve(first.id), NotFoundError);
  });
});

describe('stored responses on', () => {
  let openai: MockOpenAI;
  let gw: TestGateway;
  let other: OpenAI;

  before(async () => {
    openai = await startMockOpenAI();
    gw = await startTenancyGateway({ providers: [provider(openai)] as never, responses: { store: true } });
    const admin = await adminClient(gw);
    const { key } = await createTenantWithKey(admin, { id: 'acme' });
    other = new OpenAI({ baseURL: gw.baseURL, apiKey: key, maxRetries: 0 });
  });
  after(async () => {
    await gw.close();
    await openai.close();
  });

  test('a continued response sends the stored turns (function call, then its output) before the new input', async () => {
    const first = await gw.client.responses.create({
      model: MODEL,
      instructions: 'First instructions.',
      input: 'Call get_weather for Paris',
      tools: TOOLS,
    });
    assert.equal((first as unknown as { store: boolean }).store, true);
    const call = first.output.find((item) => item.type === 'function_call');
    assert.ok(call && call.type === 'function_call', 'the mock calls the tool');

    const second = await gw.client.responses.create({
      model: MODEL,
      instructions: 'Second instructions.',
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: 'sunny, 21°C' }],
      tools: TOOLS,
    });
    assert.ok(validateSchema('Response', second).ok);
    assert.equal(second.previous_response_id, first.id);
    assert.equal((second as unknown as { store: boolean }).store, true);
    assert.equal(second.output_text, 'Tool result: sunny, 21°C');
    // OpenAI's rule: the earlier request's instructions are not carried over; the new ones come first.
    assert.deepEqual(upstreamMessages(openai), [
      { role: 'system', text: 'Second instructions.' },
      { role: 'user', text: 'Call get_weather for Paris' },
      { role: 'assistant', text: null, calls: [`${call.call_id}:get_weather`] },
      { role: 'tool', text: 'sunny, 21°C', callId: call.call_id },
    ]);

    // A chain: the third sees the whole conversation, the second answer included.
    const third = await gw.client.responses.create({ model: MODEL, previous_response_id: second.id, input: 'Thanks' });
    assert.equal(third.output_text, 'Echo: Thanks');
    assert.deepEqual(
      upstreamMessages(openai).map((m) => `${m['role']}:${m['text'] ?? ''}`),
      [
        'user:Call get_weather for Paris',
        'assistant:',
        'tool:sunny, 21°C',
        'assistant:Tool result: sunny, 21°C',
        'user:Thanks',
      ],
    );
  });

  test('GET returns the stored Response; DELETE removes it; both only for its tenant', async () => {
    const created = await gw.client.responses.create({ model: MODEL, input: 'Keep this', metadata: { k: 'v' } });
    const fetched = await gw.client.responses.retrieve(created.id);
    assert.deepEqual(fetched, created);
    await assert.rejects(other.responses.retrieve(created.id), NotFoundError);
    await assert.rejects(other.responses.delete(created.id), NotFoundError);
    await gw.client.responses.delete(created.id);
    await assert.rejects(gw.client.responses.retrieve(created.id), NotFoundError);
    await assert.rejects(gw.client.responses.delete(created.id), NotFoundError);
  });

  test("another tenant's, an unknown and an expired id are the same 404 not_found on previous_response_id", async () => {
    const mine = await gw.client.responses.create({ model: MODEL, input: 'Secret plans' });
    const requests = openai.requests.length;
    const attempt = (client: OpenAI, id: string) =>
      fetch(`${gw.baseURL}/responses`, {
        method: 'POST',
        headers: { authorization: `Bearer ${client.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, input: 'continue', previous_response_id: id }),
      });
    const theirs = await attempt(other, mine.id);
    const unknown = await attempt(gw.client, 'resp_doesnotexist');
    await gw.runtime.store.db.updateTable('stored_response').set({ expires_at: 1 }).where('id', '=', mine.id).execute();
    const expired = await attempt(gw.client, mine.id);
    for (const res of [theirs, unknown, expired]) {
      assert.equal(res.status, 404);
      const error = await errorOf(res);
      assert.equal(error.type, 'not_found_error');
      assert.equal(error.code, 'not_found');
      assert.equal(error.param, 'previous_response_id');
      assert.doesNotMatch(error.message, /Secret|acme|default/);
    }
    assert.equal(openai.requests.length, requests, 'nothing reached the upstream');
    // Retention prunes the expired row.
    assert.ok((await gw.runtime.responses!.prune()) >= 1);
    const left = await gw.runtime.store.db
      .selectFrom('stored_response')
      .select('id')
      .where('id', '=', mine.id)
      .execute();
    assert.deepEqual(left, []);
  });

  test('store: false is answered but not stored', async () => {
    const unstored = await gw.client.responses.create({ model: MODEL, input: 'Forget this', store: false });
    assert.equal((unstored as unknown as { store: boolean }).store, false);
    await gw.runtime.responses!.flush();
    const rows = await gw.runtime.store.db
      .selectFrom('stored_response')
      .select('id')
      .where('id', '=', unstored.id)
      .execute();
    assert.deepEqual(rows, []);
    const res = await gw.post('/v1/responses', { model: MODEL, input: 'again', previous_response_id: unstored.id });
    assert.equal(res.status, 404);
  });

  test('a stream is stored when it completes, and can be continued', async () => {
    const stream = await gw.client.responses.create({ model: MODEL, input: 'Stream me', stream: true });
    let completed: OpenAI.Responses.Response | undefined;
    for await (const event of stream) {
      if (event.type === 'response.created') assert.equal((event.response as { store?: boolean }).store, true);
      if (event.type === 'response.completed') completed = event.response;
    }
    assert.ok(completed);
    assert.equal((completed as unknown as { store: boolean }).store, true);
    const next = await gw.client.responses.create({ model: MODEL, previous_response_id: completed.id, input: 'More' });
    assert.equal(next.previous_response_id, completed.id);
    assert.deepEqual(
      upstreamMessages(openai).map((m) => `${m['role']}:${m['text']}`),
      ['user:Stream me', 'assistant:Echo: Stream me', 'user:More'],
    );
    const fetched = await gw.client.responses.retrieve(completed.id);
    assert.equal(fetched.output_text, 'Echo: Stream me');
  });

  test('a failed write is logged without content and never touches the answer', async () => {
    const { db } = gw.runtime.store;
    await sql`alter table stored_response rename to stored_response_broken`.execute(db);
    try {
      const answered = await gw.client.responses.create({ model: MODEL, input: 'Unwritable words' });
      assert.equal(answered.status, 'completed');
      assert.equal(answered.output_text, 'Echo: Unwritable words');
      await gw.runtime.responses!.flush();
      const line = gw.logs.find((l) => l.includes('stored responses problem'));
      assert.ok(line, 'the failure is logged');
      assert.match(line, /"during":"save"/);
      assert.ok(!line.includes('Unwritable words'));
    } finally {
      await sql`alter table stored_response_broken rename to stored_response`.execute(db);
    }
  });

  test('no message content reaches the logs', () => {
    const logs = gw.logs.join('');
    for (const secret of ['Secret plans', 'Forget this', 'sunny, 21°C', 'Unwritable words'])
      assert.ok(!logs.includes(secret), secret);
  });
});
