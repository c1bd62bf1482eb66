import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type OpenAI from 'openai';
import { APIError } from 'openai';
import type { GatewayError } from '../../src/core/errors.ts';
import { parseResponsesRequest } from '../../src/protocols/openai-responses/parse-responses-request.ts';
import { startGateway, TEST_API_KEY, type TestGateway } from '../helpers/gateway.ts';
import { validateResponseStreamEvent, validateSchema } from '../helpers/openai-schema.ts';
import { type MockAnthropic, startMockAnthropic } from '../mocks/anthropic.ts';
import { MOCK_BEDROCK_CREDENTIALS, startMockBedrock } from '../mocks/bedrock.ts';
import { MOCK_GEMINI_KEY, startMockGemini } from '../mocks/gemini.ts';
import { fixturePath, readChunkPayloads } from '../mocks/openai-compatible/replay.ts';
import { MOCK_API_KEY, type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';

const RECORDED_BODY = 'openai/responses/openai-reasoning-encrypted-content.1';
const RECORDED_STREAM = 'openai/responses/openai-phase.1';

/**
 * `POST /v1/responses` through the pipeline, with OpenAI's official SDK as the client: answers, streams and
 * errors in the Responses format (each body and event validated against OpenAI's own schemas), translated to
 * an OpenAI-compatible upstream and to Claude, with tools, structured output, reasoning passed back, and an
 * upstream failing mid-stream; passed through to an upstream that serves the Responses API itself (OpenAI).
 */

const FULL = { tools: true, vision: true, jsonSchema: true, streaming: true };
const OPENAI_MODEL = 'openai/gpt-4o-mini';
const CLAUDE_MODEL = 'anthropic/claude-sonnet-4-5';

const TOOLS: OpenAI.Responses.FunctionTool[] = [
  {
    type: 'function',
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    strict: false,
  },
  {
    type: 'function',
    name: 'get_time',
    description: 'Local time',
    parameters: { type: 'object', properties: { city: { type: 'string' } } },
    strict: false,
  },
];

function assertSchema(name: string, value: unknown) {
  const check = validateSchema(name, value);
  assert.ok(check.ok, check.errors);
}

/** The raw SSE of a Responses stream: event names and their JSON payloads. */
async function rawEvents(res: Response): Promise<Array<{ event: string; data: Record<string, unknown> }>> {
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((block) => block.trim())
    .map((block) => {
      const event = /^event: (.+)$/m.exec(block)?.[1] ?? '';
      const data = JSON.parse(
        block
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice(6))
          .join('\n'),
      ) as Record<string, unknown>;
      return { event, data };
    });
}

describe('POST /v1/responses', () => {
  let openai: MockOpenAI;
  let anthropic: MockAnthropic;
  let gw: TestGateway;

  before(async () => {
    openai = await startMockOpenAI();
    anthropic = await startMockAnthropic();
    gw = await startGateway({
      server: { bodyLimitBytes: 1_000_000 },
      providers: [
        {
          // A server of the OpenAI-compatible family without a Responses API: every request is translated.
          id: 'openai',
          kind: 'openai-compatible',
          baseUrl: openai.url,
          keys: [MOCK_API_KEY],
          models: [{ name: 'gpt-4o-mini', qualityRank: 70, price: { input: 1, output: 2 }, capabilities: FULL }],
        },
        {
          id: 'anthropic',
          kind: 'anthropic',
          baseUrl: anthropic.url,
          keys: [anthropic.apiKey],
          models: [
            {
              name: 'claude-sonnet-4-5',
              qualityRank: 60,
              price: { input: 3, output: 15 },
              contextWindow: 200_000,
              capabilities: { ...FULL, reasoning: true },
            },
          ],
        },
      ] as never,
    });
  });
  after(async () => {
    await gw.close();
    await openai.close();
    await anthropic.close();
  });

  test('a plain answer: output_text, usage with cost, routing headers, a valid Response', async () => {
    const { data, response } = await gw.client.responses
      .create({ model: OPENAI_MODEL, input: 'Hello there', instructions: 'Be brief.', metadata: { run: 'a' } })
      .withResponse();
    assertSchema('Response', data);
    assert.equal(data.object, 'response');
    assert.equal(data.status, 'completed');
    assert.match(data.id, /^resp_/);
    assert.ok(data.output_text.length > 0, 'the SDK finds the text');
    assert.equal(data.instructions, 'Be brief.');
    assert.deepEqual(data.metadata, { run: 'a' });
    assert.equal((data as unknown as { store: boolean }).store, false);
    const usage = data.usage as OpenAI.Responses.ResponseUsage & { cost: number };
    assert.ok(usage.input_tokens > 0 && usage.output_tokens > 0);
    assert.equal(usage.total_tokens, usage.input_tokens + usage.output_tokens);
    assert.ok(usage.cost > 0);
    assert.equal(response.headers.get('x-model-router-model'), OPENAI_MODEL);
    assert.ok(response.headers.get('x-client-dashboard-url'));
    const upstream = openai.requests.at(-1)!;
    assert.equal(upstream.path, '/v1/chat/completions');
    const body = upstream.body as { messages: Array<{ role: string; content: unknown }> };
    assert.deepEqual(
      body.messages.map((m) => m.role),
      ['system', 'user'],
    );
  });

  test('input items: messages of every role, images, function calls and their outputs reach the upstream', async () => {
    const first = await gw.client.responses.create({
      model: OPENAI_MODEL,
      input: [{ role: 'user', content: 'Please use tools get_weather and get_time for Paris' }],
      tools: TOOLS,
    });
    assertSchema('Response', first);
    const calls = first.output.filter((item) => item.type === 'function_call');
    assert.ok(calls.length >= 2, `parallel calls expected, got ${JSON.stringify(first.output)}`);
    for (const call of calls) {
      assert.match(call.call_id, /./);
      assert.equal(typeof JSON.parse(call.arguments), 'object');
    }
    const second = await gw.client.responses.create({
      model: OPENAI_MODEL,
      tools: TOOLS,
      input: [
        { role: 'developer', content: 'Answer in English.' },
        {
          role: 'user',
          content: [
            { type: 'input_text', text: 'Please use tools get_weather and get_time for Paris' },
            { type: 'input_image', image_url: 'https://example.com/paris.png', detail: 'low' },
          ],
        },
        ...(first.output as OpenAI.Responses.ResponseInputItem[]),
        ...calls.map((call) => ({
          type: 'function_call_output' as const,
          call_id: call.call_id,
          output: '{"result":"sunny"}',
        })),
      ],
    });
    assertSchema('Response', second);
    assert.ok(second.output_text.length > 0);
    const body = openai.requests.at(-1)!.body as {
      messages: Array<{ role: string; content: unknown; tool_calls?: Array<{ id: string }>; tool_call_id?: string }>;
    };
    assert.deepEqual(
      body.messages.map((m) => m.role),
      ['system', 'user', 'assistant', ...calls.map(() => 'tool')],
    );
    assert.deepEqual(
      body.messages[2]!.tool_calls!.map((c) => c.id),
      calls.map((c) => c.call_id),
    );
    assert.deepEqual(
      body.messages.slice(3).map((m) => m.tool_call_id),
      calls.map((c) => c.call_id),
    );
    assert.ok(JSON.stringify(body.messages[1]!.content).includes('https://example.com/paris.png'));
  });

  test('structured output, token limit and sampling reach the upstream; a cut answer is incomplete', async () => {
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
    const answer = await gw.client.responses.create({
      model: OPENAI_MODEL,
      input: 'Name a city',
      text: { format: { type: 'json_schema', name: 'city', schema, strict: true } },
      temperature: 0.2,
      top_p: 0.9,
    });
    assertSchema('Response', answer);
    const body = openai.requests.at(-1)!.body as Record<string, unknown>;
    assert.deepEqual(body['response_format'], {
      type: 'json_schema',
      json_schema: { name: 'city', schema, strict: true },
    });
    assert.equal(body['temperature'], 0.2);
    assert.equal(body['top_p'], 0.9);
    assert.equal(typeof JSON.parse(answer.output_text), 'object');

    const cut = await gw.client.responses.create({
      model: OPENAI_MODEL,
      input: 'Tell me a long story about the sea and the mountains',
      max_output_tokens: 3,
    });
    assertSchema('Response', cut);
    assert.equal(cut.status, 'incomplete');
    assert.deepEqual(cut.incomplete_details, { reason: 'max_output_tokens' });
  });

  test('a stream: the semantic events in order, numbered, valid, adding up to the final response', async () => {
    const stream = await gw.client.responses.create({ model: OPENAI_MODEL, input: 'Hello there', stream: true });
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    for (const event of events) {
      const check = validateResponseStreamEvent(event);
      assert.ok(check.ok, check.errors);
    }
    assert.deepEqual(
      events.map((e) => e.sequence_number),
      events.map((_, i) => i),
    );
    const types = events.map((e) => e.type);
    const deltas = types.filter((t) => t === 'response.output_text.delta').length;
    assert.ok(deltas >= 2, 'text arrives in several deltas');
    assert.deepEqual(
      types.filter((t) => t !== 'response.output_text.delta'),
      [
        'response.created',
        'response.in_progress',
        'response.output_item.added',
        'response.content_part.added',
        'response.output_text.done',
        'response.content_part.done',
        'response.output_item.done',
        'response.completed',
      ],
    );
    const text = events
      .filter((e) => e.type === 'response.output_text.delta')
      .map((e) => (e as OpenAI.Responses.ResponseTextDeltaEvent).delta)
      .join('');
    const done = events.find((e) => e.type === 'response.output_text.done') as OpenAI.Responses.ResponseTextDoneEvent;
    assert.equal(done.text, text);
    const completed = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
    assert.equal(completed.response.status, 'completed');
    const message = completed.response.output[0] as OpenAI.Responses.ResponseOutputMessage;
    assert.equal((message.content[0] as OpenAI.Responses.ResponseOutputText).text, text);
    const usage = completed.response.usage as OpenAI.Responses.ResponseUsage & { cost: number };
    assert.ok(usage.output_tokens > 0 && usage.cost > 0);
    assert.ok((openai.requests.at(-1)!.body as { stream: boolean }).stream);
  });

  test('a streamed function call: argument deltas add up, the SDK helper gives the final response', async () => {
    const stream = gw.client.responses.stream({
      model: OPENAI_MODEL,
      input: 'Please use tools get_weather for Paris',
      tools: TOOLS,
    });
    const argumentDeltas: string[] = [];
    stream.on('response.function_call_arguments.delta', (e) => argumentDeltas.push(e.delta));
    const final = await stream.finalResponse();
    assertSchema('Response', final);
    const call = final.output.find((item) => item.type === 'function_call');
    assert.ok(call, JSON.stringify(final.output));
    assert.equal(call.name, 'get_weather');
    assert.equal(argumentDeltas.join(''), call.arguments);
    assert.equal(typeof JSON.parse(call.arguments), 'object');
  });

  test('through Claude: reasoning streams as summary text, and passed back it keeps its signature', async () => {
    const stream = gw.client.responses.stream({
      model: CLAUDE_MODEL,
      input: 'Please use tools get_weather for Paris',
      tools: TOOLS,
      reasoning: { effort: 'low' },
    });
    const types: string[] = [];
    stream.on('event', (e) => types.push(e.type));
    const final = await stream.finalResponse();
    assertSchema('Response', final);
    assert.ok(types.includes('response.reasoning_summary_text.delta'), types.join(' '));
    const reasoning = final.output.find((item) => item.type === 'reasoning');
    assert.ok(reasoning?.summary[0]?.text, 'the thinking text is in the summary');
    assert.match(reasoning.encrypted_content ?? '', /^mdr1\./);
    const call = final.output.find((item) => item.type === 'function_call');
    assert.ok(call);
    const sent = anthropic.requests.at(-1)!.body as Record<string, unknown>;
    assert.ok(sent['thinking'], 'reasoning.effort turned thinking on');

    const second = await gw.client.responses.create({
      model: CLAUDE_MODEL,
      tools: TOOLS,
      reasoning: { effort: 'low' },
      input: [
        { role: 'user', content: 'Please use tools get_weather for Paris' },
        ...(final.output as OpenAI.Responses.ResponseInputItem[]),
        { type: 'function_call_output', call_id: call.call_id, output: '{"result":"sunny"}' },
      ],
    });
    assertSchema('Response', second);
    const messages = (anthropic.requests.at(-1)!.body as { messages: Array<{ role: string; content: unknown }> })
      .messages;
    const assistant = messages.find((m) => m.role === 'assistant')!;
    const blocks = assistant.content as Array<Record<string, unknown>>;
    const thinking = blocks.find((b) => b['type'] === 'thinking');
    assert.ok(thinking, JSON.stringify(blocks));
    assert.equal(thinking['thinking'], reasoning.summary[0]!.text);
    assert.ok(typeof thinking['signature'] === 'string' && thinking['signature'].length > 0);
    assert.ok(blocks.some((b) => b['type'] === 'tool_use' && b['id'] === call.call_id));
  });

  test('an upstream failing mid-stream ends in an error event and response.failed, never a short answer', async () => {
    openai.faults.push({ kind: 'reset-mid-stream', afterEvents: 4 });
    const res = await gw.post('/v1/responses', { model: OPENAI_MODEL, input: 'Hello there', stream: true });
    assert.equal(res.status, 200);
    const events = await rawEvents(res);
    const names = events.map((e) => e.event);
    assert.equal(names[0], 'response.created');
    assert.ok(!names.includes('response.completed'), names.join(' '));
    assert.deepEqual(names.slice(-2), ['error', 'response.failed']);
    for (const { event, data } of events) {
      assert.equal(data['type'], event);
      const check = validateResponseStreamEvent(data);
      assert.ok(check.ok, check.errors);
    }
    const failed = events.at(-1)!.data['response'] as { status: string; error: { code: string } };
    assert.equal(failed.status, 'failed');
    assert.ok(failed.error.code);

    // The official SDK turns it into an exception, not a quiet end.
    openai.faults.push({ kind: 'reset-mid-stream', afterEvents: 4 });
    await assert.rejects(async () => {
      const stream = await gw.client.responses.create({ model: OPENAI_MODEL, input: 'Hello there', stream: true });
      for await (const _ of stream) {
      }
    }, APIError);
  });

  test('what cannot be served is refused with invalid_request and the parameter named', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ input: 'x', previous_response_id: 'resp_123' }, 'previous_response_id'],
      [{ input: [{ type: 'item_reference', id: 'msg_1' }] }, 'input[0]'],
      [{ input: 'x', background: true }, 'background'],
      [{ input: 'x', reasoning: { effort: 'extreme' } }, 'reasoning.effort'],
      [{ input: 'x', tools: TOOLS, tool_choice: { type: 'function', name: 'nope' } }, 'tool_choice'],
      [{ input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'file_1' }] }] }, 'input[0].content'],
      [{ input: [] }, 'input'],
      [
        {
          input: [
            { role: 'user', content: 'x' },
            { type: 'function_call_output', call_id: 'call_9', output: 'y' },
          ],
        },
        'input[1].call_id',
      ],
      [{ input: [{ type: 'web_search_call', id: 'ws_1', status: 'completed' }] }, 'input[0]'],
    ];
    for (const [body, param] of cases) {
      const res = await gw.post('/v1/responses', { model: OPENAI_MODEL, ...body });
      const error = ((await res.json()) as { error: { type: string; param: string | null; message: string } }).error;
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(error.type, 'invalid_request_error', JSON.stringify(error));
      assert.equal(error.param, param, `${JSON.stringify(body)}: ${error.message}`);
    }
    // Built-in tools run only at OpenAI (through the pass-through); this gateway has no OpenAI provider.
    for (const body of [
      { input: 'x', tools: [{ type: 'web_search' }] },
      { input: 'x', tools: [{ type: 'function', name: 'f', parameters: {} }], tool_choice: { type: 'file_search' } },
    ]) {
      const res = await gw.post('/v1/responses', { model: OPENAI_MODEL, ...body });
      const error = ((await res.json()) as { error: { type: string; message: string } }).error;
      assert.equal(res.status, 400);
      assert.equal(error.type, 'invalid_request_error');
      assert.match(error.message, /(web_search|file_search).*only an OpenAI provider can serve/);
    }
    // Oversized: past server.bodyLimitBytes (1 MB here), in OpenAI's envelope, before any upstream call.
    const calls = openai.requests.length;
    const big = await gw.post('/v1/responses', { model: OPENAI_MODEL, input: 'x'.repeat(1_100_000) });
    assert.equal(big.status, 413);
    assert.equal(((await big.json()) as { error: { type: string } }).error.type, 'invalid_request_error');
    assert.equal(openai.requests.length, calls);
    const noKey = await fetch(`${gw.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer wrong' },
      body: JSON.stringify({ model: OPENAI_MODEL, input: 'x' }),
    });
    assert.equal(noKey.status, 401);
    assert.ok(TEST_API_KEY);
  });

  test('tiers route as on chat completions and the request is metered under its own protocol', async () => {
    const { data, response } = await gw.client.responses.create({ model: 'fast', input: 'Hello' }).withResponse();
    assert.equal(data.status, 'completed');
    assert.equal(response.headers.get('x-model-router-tier'), 'fast');
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    assert.match(metrics, /modro_requests_total\{protocol="openai-responses",tier="fast",[^}]*status="200"/);
  });
});

describe('POST /v1/responses through Gemini and Bedrock (translation for every provider kind)', () => {
  const kinds = [
    { name: 'gemini', model: 'gemini/gemini-2.5-flash' },
    { name: 'bedrock', model: 'bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0' },
  ];
  let gemini: Awaited<ReturnType<typeof startMockGemini>>;
  let bedrock: Awaited<ReturnType<typeof startMockBedrock>>;
  let gw: TestGateway;
  before(async () => {
    gemini = await startMockGemini();
    bedrock = await startMockBedrock();
    const models = (name: string) => [
      { name, qualityRank: 70, price: { input: 1, output: 2 }, contextWindow: 200_000, capabilities: FULL },
    ];
    gw = await startGateway({
      providers: [
        {
          id: 'gemini',
          kind: 'gemini',
          baseUrl: gemini.baseUrl,
          keys: [MOCK_GEMINI_KEY],
          models: models('gemini-2.5-flash'),
        },
        {
          id: 'bedrock',
          kind: 'bedrock',
          baseUrl: bedrock.url,
          keys: [
            { key: MOCK_BEDROCK_CREDENTIALS.accessKeyId, secretAccessKey: MOCK_BEDROCK_CREDENTIALS.secretAccessKey },
          ],
          options: { region: bedrock.region },
          models: models('anthropic.claude-sonnet-4-5-20250929-v1:0'),
        },
      ] as never,
    });
  });
  after(async () => {
    await gw.close();
    await gemini.close();
    await bedrock.close();
  });

  for (const kind of kinds) {
    test(`${kind.name}: an answer, and a streamed tool call that adds up`, async () => {
      const plain = await gw.client.responses.create({ model: kind.model, input: 'Hello there' });
      assertSchema('Response', plain);
      assert.ok(plain.output_text.length > 0);
      const stream = gw.client.responses.stream({
        model: kind.model,
        input: 'Please use tools get_weather and get_time for Paris [parallel] [[parallel]]',
        tools: TOOLS,
      });
      const events: OpenAI.Responses.ResponseStreamEvent[] = [];
      stream.on('event', (e) => events.push(e));
      const final = await stream.finalResponse();
      for (const event of events) {
        const check = validateResponseStreamEvent(event);
        assert.ok(check.ok, check.errors);
      }
      const calls = final.output.filter((item) => item.type === 'function_call');
      assert.ok(calls.length >= 1, JSON.stringify(final.output));
      for (const call of calls) {
        const deltas = events
          .filter((e) => e.type === 'response.function_call_arguments.delta' && e.item_id === call.id)
          .map((e) => (e as OpenAI.Responses.ResponseFunctionCallArgumentsDeltaEvent).delta)
          .join('');
        assert.equal(deltas, call.arguments);
        assert.equal(typeof JSON.parse(call.arguments), 'object');
      }
      assert.equal(events.at(-1)?.type, 'response.completed');
    });
  }
});

describe('POST /v1/responses passed through to OpenAI, which serves the Responses API itself', () => {
  let openai: MockOpenAI;
  let gw: TestGateway;
  before(async () => {
    openai = await startMockOpenAI();
    gw = await startGateway({
      providers: [
        {
          id: 'openai',
          kind: 'openai',
          baseUrl: openai.url,
          keys: [MOCK_API_KEY],
          models: [{ name: 'gpt-4o-mini', qualityRank: 70, price: { input: 1, output: 2 }, capabilities: FULL }],
        },
      ] as never,
    });
  });
  after(async () => {
    await gw.close();
    await openai.close();
  });

  test('an answer: the body goes to /v1/responses with the model swapped and store false, the bytes come back', async () => {
    const res = await gw.post('/v1/responses', {
      model: OPENAI_MODEL,
      input: 'Hello there',
      include: ['reasoning.encrypted_content'],
    });
    assert.equal(res.status, 200);
    // The recorded answer, byte for byte (it carries OpenAI's own deviations from its schema, e.g. `user: null`).
    assert.equal(await res.text(), readFileSync(fixturePath(RECORDED_BODY, '.json'), 'utf8'));
    const upstream = openai.requests.at(-1)!;
    assert.equal(upstream.path, '/v1/responses');
    const body = upstream.body as Record<string, unknown>;
    assert.equal(body['model'], 'gpt-4o-mini');
    assert.equal(body['store'], false);
    assert.deepEqual(body['include'], ['reasoning.encrypted_content']);
    // Metered from the upstream's usage (865 in, 163 out) at $1 and $2 per million tokens.
    assert.equal(Number(res.headers.get('x-model-router-cost')), (865 * 1 + 163 * 2) / 1e6);
    const sdk = await gw.client.responses.create({ model: OPENAI_MODEL, input: 'Hello there' });
    assert.ok(sdk.output_text.length > 0);
  });

  test('a stream: the upstream events go out as they came, metered from response.completed', async () => {
    const outputTokens = async () =>
      Number(
        /modro_tokens_total\{provider="openai",model="openai\/gpt-4o-mini",kind="output"\} (\d+)/.exec(
          await (await fetch(`${gw.url}/metrics`)).text(),
        )?.[1] ?? 0,
      );
    const tokensBefore = await outputTokens();
    const res = await gw.post('/v1/responses', { model: OPENAI_MODEL, input: 'Hello there', stream: true });
    const events = await rawEvents(res);
    assert.deepEqual(
      events.map((e) => e.data),
      readChunkPayloads(RECORDED_STREAM),
    );
    for (const { event, data } of events) assert.equal(data['type'], event);
    assert.equal((openai.requests.at(-1)!.body as Record<string, unknown>)['stream'], true);
    // The recorded stream's usage: 463 output tokens.
    assert.equal((await outputTokens()) - tokensBefore, 463);
    const sdk = await gw.client.responses.stream({ model: OPENAI_MODEL, input: 'Hello there' }).finalResponse();
    assert.ok(sdk.output_text.length > 0);
  });

  test('an upstream failing mid-stream ends in the error event and response.failed, never a short answer', async () => {
    openai.faults.push({ kind: 'reset-mid-stream', afterEvents: 5 });
    const res = await gw.post('/v1/responses', { model: OPENAI_MODEL, input: 'Hello there', stream: true });
    const events = await rawEvents(res);
    const names = events.map((e) => e.event);
    assert.ok(!names.includes('response.completed'), names.join(' '));
    assert.deepEqual(names.slice(-2), ['error', 'response.failed']);
    const numbers = events.map((e) => e.data['sequence_number']);
    assert.deepEqual(
      numbers,
      numbers.map((_, i) => i),
      'the gateway numbers its events after the upstream ones',
    );
    // The gateway's own two events follow OpenAI's schemas (the forwarded ones are the upstream's business).
    for (const { data } of events.slice(-2)) {
      const check = validateResponseStreamEvent(data);
      assert.ok(check.ok, check.errors);
    }
    // The upstream's own error event (a recorded insufficient_quota) is the gateway's error, not forwarded.
    openai.options.responsesStreamReplay = 'openai/responses/openai-error.1';
    try {
      const failed = await rawEvents(
        await gw.post('/v1/responses', { model: OPENAI_MODEL, input: 'Hello there', stream: true }),
      );
      assert.deepEqual(
        failed.map((e) => e.event),
        ['response.created', 'response.in_progress', 'error', 'response.failed'],
      );
      assert.doesNotMatch(JSON.stringify(failed), /platform\.openai\.com\/docs\/guides\/error-codes/);
    } finally {
      delete openai.options.responsesStreamReplay;
    }
  });

  test('built-in tools pass through to OpenAI as the caller wrote them', async () => {
    const res = await gw.post('/v1/responses', {
      model: 'fast',
      input: 'What happened today?',
      tools: [{ type: 'web_search' }],
      tool_choice: 'auto',
    });
    assert.equal(res.status, 200);
    const body = openai.requests.at(-1)!.body as Record<string, unknown>;
    assert.deepEqual(body['tools'], [{ type: 'web_search' }]);
  });

  test('what the gateway must complete itself is translated: a previous_response_id the upstream never saw', async () => {
    const before = openai.requests.length;
    const res = await gw.post('/v1/responses', { model: OPENAI_MODEL, input: 'x', previous_response_id: 'resp_1' });
    assert.equal(res.status, 400);
    assert.equal(openai.requests.length, before, 'refused before any upstream call (storage is off)');
  });
});

test('a stored request cannot use built-in tools (they only pass through); store: false can', () => {
  const body = { model: 'fast', input: 'x', tools: [{ type: 'web_search' }] };
  assert.throws(
    () => parseResponsesRequest(body, { storing: true }),
    (err: GatewayError) => err.code === 'invalid_request' && err.param === 'tools[0]',
  );
  const passed = parseResponsesRequest({ ...body, store: false }, { storing: true });
  assert.deepEqual(passed.requires, { providerKinds: ['openai'], features: ['web_search'] });
  assert.equal(passed.tools, undefined, 'built-in tools never reach a translation');
});
