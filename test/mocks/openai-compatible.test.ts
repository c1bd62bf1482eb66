/**
 * The OpenAI-compatible mock, checked by the official `openai` SDK acting as its client, with every body and
 * stream chunk it sends validated against OpenAI's own schemas (test/helpers/openai-schema.ts).
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import OpenAI, {
  APIConnectionError,
  APIConnectionTimeoutError,
  AuthenticationError,
  AzureOpenAI,
  BadRequestError,
  InternalServerError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
  UnprocessableEntityError,
} from 'openai';
import type { ChatCompletionCreateParams, ChatCompletionTool } from 'openai/resources/chat/completions';
import {
  type SchemaResult,
  validateChatCompletion,
  validateChatCompletionChunk,
  validateChatCompletionRequest,
  validateErrorResponse,
  validateModelList,
} from '../helpers/openai-schema.ts';
import { readChunkPayloads } from './openai-compatible/replay.ts';
import {
  countPromptTokens,
  countTokens,
  MOCK_API_KEY,
  MOCK_MODELS,
  type MockOpenAI,
  type MockOpenAIOptions,
  startMockOpenAI,
} from './openai-compatible.ts';

// ---------------------------------------------------------------------------------------------------------------
// Harness: an SDK client whose fetch keeps a copy of every response, so each test can validate what was sent.

interface Captured {
  url: string;
  status: number;
  contentType: string;
  /** Undefined when the body failed (reset) or never finished (stall, abort). */
  text: Promise<string | undefined>;
}

function recordingFetch(captured: Captured[]): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    captured.push({
      url: input instanceof Request ? input.url : String(input),
      status: response.status,
      contentType: response.headers.get('content-type') ?? '',
      text: response
        .clone()
        .text()
        .catch(() => undefined),
    });
    return response;
  };
}

async function setup(t: TestContext, options: MockOpenAIOptions = {}) {
  const mock = await startMockOpenAI(options);
  t.after(() => mock.close());
  const captured: Captured[] = [];
  const client = new OpenAI({
    apiKey: MOCK_API_KEY,
    baseURL: mock.url,
    maxRetries: 0,
    fetch: recordingFetch(captured),
  });
  return { mock, client, captured };
}

/** The `data:` payloads of an SSE body, in order. */
function ssePayloads(text: string): string[] {
  return text
    .split('\n\n')
    .map((event) =>
      event
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trimStart())
        .join('\n'),
    )
    .filter((data) => data !== '');
}

function sseChunks(text: string): Array<Record<string, unknown>> {
  return ssePayloads(text)
    .filter((data) => data !== '[DONE]')
    .map((data) => JSON.parse(data));
}

/** Validates one captured response against OpenAI's schema for what it is. */
async function assertValid(c: Captured): Promise<void> {
  const text = await c.text;
  assert.ok(text !== undefined, `response body of ${c.url} did not complete`);
  if (c.status >= 400) {
    const r = validateErrorResponse(JSON.parse(text));
    assert.ok(r.ok, r.errors);
  } else if (c.contentType.startsWith('text/event-stream')) {
    const payloads = ssePayloads(text);
    assert.equal(payloads.at(-1), '[DONE]', 'stream ends with data: [DONE]');
    for (const chunk of sseChunks(text)) {
      const r = validateChatCompletionChunk(chunk);
      assert.ok(r.ok, `${r.errors}\n${JSON.stringify(chunk)}`);
    }
  } else if (new URL(c.url).pathname.endsWith('/models')) {
    const r = validateModelList(JSON.parse(text));
    assert.ok(r.ok, r.errors);
  } else {
    const r = validateChatCompletion(JSON.parse(text));
    assert.ok(r.ok, r.errors);
  }
}

async function assertAllValid(captured: Captured[]): Promise<void> {
  assert.ok(captured.length > 0, 'the SDK made requests');
  for (const c of captured) await assertValid(c);
}

/** What the SDK sent is a valid request too. */
function assertRequestsValid(mock: MockOpenAI): void {
  for (const request of mock.requests.filter((r) => r.method === 'POST')) {
    const r = validateChatCompletionRequest(request.body);
    assert.ok(r.ok, r.errors);
  }
}

/** Distinct schema deviations of many values, array indexes folded (`/choices/0/x` -> `/choices/*\/x`). */
function deviations(results: SchemaResult[]): string[] {
  const all = results.flatMap((r) => r.issues.map((issue) => issue.replace(/\/\d+(?=\/|:)/g, '/*')));
  return [...new Set(all)].sort();
}

async function rawFetch(mock: MockOpenAI, path: string, init: RequestInit = {}) {
  const response = await fetch(`${mock.origin}${path}`, init);
  return { status: response.status, headers: response.headers, text: await response.text() };
}

const weatherTool: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather',
    parameters: {
      type: 'object',
      properties: { location: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
      required: ['location', 'unit'],
    },
  },
};
const timeTool: ChatCompletionTool = {
  type: 'function',
  function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string' } } } },
};

const hello = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Hello there, mock!' }] };

// ---------------------------------------------------------------------------------------------------------------

describe('OpenAI mock: completions through the official SDK', () => {
  it('non-streaming: echoes the last user message with exact usage and valid ids', async (t) => {
    const { mock, client, captured } = await setup(t);
    const { data, request_id } = await client.chat.completions.create(hello).withResponse();
    const content = 'Echo: Hello there, mock!';
    assert.equal(data.choices[0]?.message.content, content);
    assert.equal(data.choices[0]?.finish_reason, 'stop');
    assert.equal(data.model, 'gpt-4o-mini');
    assert.match(data.id, /^chatcmpl-[A-Za-z0-9]{29}$/);
    assert.match(request_id ?? '', /^req_[0-9a-f]{32}$/);
    assert.equal(data.usage?.prompt_tokens, countPromptTokens(hello));
    assert.equal(data.usage?.completion_tokens, countTokens(content));
    assert.equal(data.usage?.total_tokens, countPromptTokens(hello) + countTokens(content));
    assert.equal(mock.requests.length, 1);
    assert.equal(mock.requests[0]?.path, '/v1/chat/completions');
    assert.equal(mock.requests[0]?.headers.authorization, `Bearer ${MOCK_API_KEY}`);
    assert.deepEqual((mock.requests[0]!.body as { messages: unknown }).messages, hello.messages);
    await assertAllValid(captured);
    assertRequestsValid(mock);
  });

  it('streaming: the stream helper accumulates the text; include_usage adds a last chunk with choices []', async (t) => {
    const { mock, client, captured } = await setup(t);
    const stream = client.chat.completions.stream({ ...hello, stream_options: { include_usage: true } });
    const final = await stream.finalChatCompletion();
    assert.equal(final.choices[0]?.message.content, 'Echo: Hello there, mock!');
    assert.equal(final.choices[0]?.finish_reason, 'stop');
    assert.equal(final.usage?.completion_tokens, countTokens('Echo: Hello there, mock!'));

    const chunks = sseChunks((await captured[0]!.text)!);
    const last = chunks.at(-1)!;
    assert.deepEqual(last.choices, []);
    assert.equal((last.usage as { prompt_tokens: number }).prompt_tokens, countPromptTokens(hello));
    for (const chunk of chunks.slice(0, -1)) assert.equal(chunk.usage, null, 'usage: null before the last chunk');
    // One content token per chunk, after a first delta with the role and empty content.
    assert.deepEqual(chunks[0]?.choices, [
      { index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null },
    ]);
    assert.equal(chunks.length, 1 + countTokens('Echo: Hello there, mock!') + 1 + 1);
    assert.ok(chunks.every((c) => typeof c.obfuscation === 'string'));
    await assertAllValid(captured);
    assertRequestsValid(mock);
  });

  it('streaming without include_usage sends no usage at all', async (t) => {
    const { client, captured } = await setup(t);
    const stream = await client.chat.completions.create({ ...hello, stream: true });
    const texts: string[] = [];
    for await (const chunk of stream) texts.push(chunk.choices[0]?.delta.content ?? '');
    assert.equal(texts.join(''), 'Echo: Hello there, mock!');
    const chunks = sseChunks((await captured[0]!.text)!);
    assert.ok(chunks.every((c) => !('usage' in c)));
    await assertAllValid(captured);
  });

  it('a tool call: the stream splits it like OpenAI and the SDK reassembles id, name and arguments', async (t) => {
    const { mock, client, captured } = await setup(t);
    const request = {
      model: 'gpt-4o',
      messages: [{ role: 'user' as const, content: 'Please call get_weather for me' }],
      tools: [weatherTool, timeTool],
    };
    const body = await client.chat.completions.create(request);
    const call = body.choices[0]?.message.tool_calls?.[0];
    assert.equal(body.choices[0]?.finish_reason, 'tool_calls');
    assert.equal(body.choices[0]?.message.content, null);
    assert.equal(body.choices[0]?.message.tool_calls?.length, 1);
    assert.ok(call?.type === 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { location: 'example', unit: 'celsius' });
    assert.match(call.id, /^call_[A-Za-z0-9]{24}$/);

    const final = await client.chat.completions.stream(request).finalChatCompletion();
    const streamed = final.choices[0]?.message.tool_calls?.[0];
    assert.ok(streamed?.type === 'function');
    assert.equal(streamed.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(streamed.function.arguments), { location: 'example', unit: 'celsius' });
    assert.equal(final.choices[0]?.finish_reason, 'tool_calls');

    const chunks = sseChunks((await captured[1]!.text)!);
    const deltas = chunks.map((c) => (c.choices as Array<{ delta: Record<string, unknown> }>)[0]!.delta);
    assert.deepEqual(deltas[0], {
      role: 'assistant',
      content: null,
      tool_calls: [{ index: 0, id: streamed.id, type: 'function', function: { name: 'get_weather', arguments: '' } }],
      refusal: null,
    });
    const fragments = deltas.slice(1, -1).map((d) => {
      const [fragment] = d.tool_calls as Array<Record<string, unknown>>;
      assert.deepEqual(
        Object.keys(fragment!).sort(),
        ['function', 'index'],
        'fragments carry index and arguments only',
      );
      return (fragment!.function as { arguments: string }).arguments;
    });
    assert.ok(fragments.length > 1, 'arguments arrive in several fragments');
    assert.equal(fragments.join(''), streamed.function.arguments);
    await assertAllValid(captured);
    assertRequestsValid(mock);
  });

  it('parallel tool calls, and parallel_tool_calls: false limits them to one', async (t) => {
    const { client, captured } = await setup(t);
    const request: ChatCompletionCreateParams = {
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Use get_weather and get_time' }],
      tools: [weatherTool, timeTool],
    };
    const final = await client.chat.completions.stream({ ...request, stream: true }).finalChatCompletion();
    const calls = final.choices[0]?.message.tool_calls ?? [];
    assert.deepEqual(
      calls.map((c) => (c.type === 'function' ? [c.function.name, JSON.parse(c.function.arguments)] : c.type)),
      [
        ['get_weather', { location: 'example', unit: 'celsius' }],
        ['get_time', { zone: 'example' }],
      ],
    );
    assert.notEqual(calls[0]?.id, calls[1]?.id);

    const single = await client.chat.completions.create({ ...request, stream: false, parallel_tool_calls: false });
    assert.equal(single.choices[0]?.message.tool_calls?.length, 1);
    await assertAllValid(captured);
  });

  it('tool_choice required and named force a call; after a tool result the reply is text', async (t) => {
    const { client, captured } = await setup(t);
    const base = { model: 'gpt-4o', tools: [weatherTool, timeTool] };
    const required = await client.chat.completions.create({
      ...base,
      messages: [{ role: 'user', content: 'anything' }],
      tool_choice: 'required',
    });
    const first = required.choices[0]?.message.tool_calls?.[0];
    assert.ok(first?.type === 'function');
    assert.equal(first.function.name, 'get_weather');

    const named = await client.chat.completions.create({
      ...base,
      messages: [{ role: 'user', content: 'anything' }],
      tool_choice: { type: 'function', function: { name: 'get_time' } },
    });
    const forced = named.choices[0]?.message.tool_calls?.[0];
    assert.ok(forced?.type === 'function');
    assert.equal(forced.function.name, 'get_time');

    const answer = await client.chat.completions.create({
      ...base,
      messages: [
        { role: 'user', content: 'call get_weather' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: first.id, type: 'function', function: first.function }],
        },
        { role: 'tool', tool_call_id: first.id, content: '21 degrees' },
      ],
    });
    assert.equal(answer.choices[0]?.message.content, 'Tool result: 21 degrees');
    assert.equal(answer.choices[0]?.finish_reason, 'stop');
    await assertAllValid(captured);
  });

  it('n > 1 gives n distinct choices, streamed interleaved and reassembled by the SDK', async (t) => {
    const { client, captured } = await setup(t);
    const body = await client.chat.completions.create({ ...hello, n: 3 });
    assert.deepEqual(
      body.choices.map((c) => [c.index, c.message.content]),
      [0, 1, 2].map((i) => [i, `Echo: Hello there, mock! #${i + 1}`]),
    );
    assert.equal(body.usage?.completion_tokens, 3 * countTokens('Echo: Hello there, mock! #1'));

    const final = await client.chat.completions.stream({ ...hello, n: 2 }).finalChatCompletion();
    assert.deepEqual(
      final.choices.map((c) => c.message.content),
      ['Echo: Hello there, mock! #1', 'Echo: Hello there, mock! #2'],
    );
    const indexes = sseChunks((await captured[1]!.text)!).map((c) => (c.choices as Array<{ index: number }>)[0]!.index);
    assert.deepEqual(indexes.slice(0, 4), [0, 1, 0, 1], 'choices interleave');
    await assertAllValid(captured);
  });

  it('response_format json_object and json_schema give JSON content', async (t) => {
    const { client, captured } = await setup(t);
    const object = await client.chat.completions.create({ ...hello, response_format: { type: 'json_object' } });
    assert.deepEqual(JSON.parse(object.choices[0]?.message.content ?? ''), { echo: 'Hello there, mock!' });
    const schema = await client.chat.completions.create({
      ...hello,
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'person',
          strict: true,
          schema: {
            type: 'object',
            properties: {
              name: { type: 'string' },
              age: { type: 'integer' },
              tags: { type: 'array', items: { type: 'string' } },
            },
            required: ['name', 'age', 'tags'],
            additionalProperties: false,
          },
        },
      },
    });
    assert.deepEqual(JSON.parse(schema.choices[0]?.message.content ?? ''), {
      name: 'example',
      age: 1,
      tags: ['example'],
    });
    await assertAllValid(captured);
  });

  it('stop cuts before the stop sequence; max_completion_tokens ends with finish_reason length', async (t) => {
    const { client, captured } = await setup(t);
    const stopped = await client.chat.completions.create({ ...hello, stop: [' mock', 'there'] });
    assert.equal(stopped.choices[0]?.message.content, 'Echo: Hello ');
    assert.equal(stopped.choices[0]?.finish_reason, 'stop');
    const short = await client.chat.completions.create({ ...hello, max_completion_tokens: 3 });
    assert.equal(short.choices[0]?.message.content, 'Echo: Hello');
    assert.equal(short.choices[0]?.finish_reason, 'length');
    assert.equal(short.usage?.completion_tokens, 3);
    const streamed = await client.chat.completions.create({ ...hello, max_tokens: 2, stream: true });
    const finishes: Array<string | null> = [];
    for await (const chunk of streamed) finishes.push(chunk.choices[0]?.finish_reason ?? null);
    assert.equal(finishes.at(-1), 'length');
    await assertAllValid(captured);
  });

  it('logprobs with top_logprobs, in bodies and stream chunks', async (t) => {
    const { client, captured } = await setup(t);
    const body = await client.chat.completions.create({ ...hello, logprobs: true, top_logprobs: 2 });
    const content = body.choices[0]?.logprobs?.content ?? [];
    assert.equal(content.map((l) => l.token).join(''), body.choices[0]?.message.content);
    assert.equal(content[0]?.top_logprobs.length, 2);
    assert.deepEqual(content[0]?.bytes, [...Buffer.from(content[0]?.token ?? '')]);

    const stream = await client.chat.completions.create({ ...hello, logprobs: true, stream: true });
    const tokens: string[] = [];
    for await (const chunk of stream) tokens.push(...(chunk.choices[0]?.logprobs?.content ?? []).map((l) => l.token));
    assert.equal(tokens.join(''), 'Echo: Hello there, mock!');
    await assertAllValid(captured);
  });

  it('GET /v1/models lists the configured models', async (t) => {
    const { client, captured } = await setup(t, { models: ['m-one', 'm-two'] });
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    assert.deepEqual(ids, ['m-one', 'm-two']);
    await assertAllValid(captured);
  });

  it('the reply option and chunk pacing', async (t) => {
    const { client, mock, captured } = await setup(t, { reply: (body) => `Model ${body.model} says hi` });
    assert.equal(
      (await client.chat.completions.create(hello)).choices[0]?.message.content,
      'Model gpt-4o-mini says hi',
    );
    mock.options.reply = 'fixed';
    mock.options.chunkDelayMs = 5;
    const response = await fetch(`${mock.url}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${MOCK_API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...hello, stream: true }),
    });
    let reads = 0;
    let text = '';
    for await (const part of response.body!) {
      reads++;
      text += Buffer.from(part).toString();
    }
    assert.ok(reads > 1, 'a paced stream arrives in several reads');
    assert.equal(
      sseChunks(text)
        .map((c) => (c.choices as Array<{ delta: { content?: string } }>)[0]?.delta.content ?? '')
        .join(''),
      'fixed',
    );
    await assertAllValid(captured);
  });

  it('fast mode records nothing and still answers correctly', async (t) => {
    const { client, mock, captured } = await setup(t, { fast: true, chunkDelayMs: 50 });
    const final = await client.chat.completions.stream(hello).finalChatCompletion();
    assert.equal(final.choices[0]?.message.content, 'Echo: Hello there, mock!');
    assert.equal(mock.requests.length, 0);
    await assertAllValid(captured);
  });
});

describe('OpenAI mock: errors surface as the SDK typed errors, with OpenAI bodies', () => {
  it('a wrong key is a 401 AuthenticationError with the masked key; a missing key its own 401', async (t) => {
    const { mock, captured } = await setup(t);
    const wrong = new OpenAI({
      apiKey: 'sk-wrong-key-000000000000000000001234',
      baseURL: mock.url,
      maxRetries: 0,
      fetch: recordingFetch(captured),
    });
    const err = await wrong.chat.completions.create(hello).catch((e: unknown) => e);
    assert.ok(err instanceof AuthenticationError);
    assert.equal(err.code, 'invalid_api_key');
    assert.equal(err.type, 'invalid_request_error');
    assert.match(err.message, /Incorrect API key provided: sk-wrong\*+1234\./);
    assert.ok(!err.message.includes('sk-wrong-key-0000'), 'the key is masked');

    const missing = await rawFetch(mock, '/v1/models');
    assert.equal(missing.status, 401);
    assert.match(JSON.parse(missing.text).error.message, /You didn't provide an API key/);
    assert.ok(validateErrorResponse(JSON.parse(missing.text)).ok);
    await assertAllValid(captured);
  });

  it('429 is a RateLimitError carrying Retry-After', async (t) => {
    const { mock, client, captured } = await setup(t, { retryAfterSeconds: 7 });
    mock.faults.push({ kind: 'status', status: 429 });
    const err = await client.chat.completions.create(hello).catch((e: unknown) => e);
    assert.ok(err instanceof RateLimitError);
    assert.equal(err.headers?.get('retry-after'), '7');
    assert.equal(err.code, 'rate_limit_exceeded');
    assert.match(err.message, /Please try again in 7s/);
    // The fault was used up: the next request succeeds.
    assert.equal((await client.chat.completions.create(hello)).choices.length, 1);
    await assertAllValid(captured);
  });

  it('400, 403, 404, 500 and 503 map to the SDK error classes', async (t) => {
    const { mock, client, captured } = await setup(t);
    const expected = [
      [400, BadRequestError, 'context_length_exceeded'],
      [403, PermissionDeniedError, 'unsupported_country_region_territory'],
      [404, NotFoundError, 'model_not_found'],
      [500, InternalServerError, null],
      [503, InternalServerError, null],
    ] as const;
    for (const [status, ErrorClass, code] of expected) {
      mock.faults.push({ kind: 'status', status });
      const err = await client.chat.completions.create(hello).catch((e: unknown) => e);
      assert.ok(err instanceof ErrorClass, `${status} -> ${ErrorClass.name}`);
      assert.equal(err.status, status);
      assert.equal(err.code, code);
    }
    await assertAllValid(captured);
  });

  it('a status fault with its own body and headers sends them as given', async (t) => {
    const { mock, client } = await setup(t);
    mock.faults.push({
      kind: 'status',
      status: 418,
      body: { error: { message: 'teapot' } },
      headers: { 'x-extra': 'yes' },
    });
    const err = await client.chat.completions.create(hello).catch((e: unknown) => e);
    assert.ok(err instanceof OpenAI.APIError);
    assert.equal(err.status, 418);
    assert.equal(err.headers?.get('x-extra'), 'yes');
    assert.match(err.message, /teapot/);
  });

  it('strict models answer an unknown model with 404 model_not_found; rejected params with 400', async (t) => {
    const { client, captured } = await setup(t, { strictModels: true, rejectParams: ['logit_bias'] });
    const unknown = await client.chat.completions.create({ ...hello, model: 'gpt-9' }).catch((e: unknown) => e);
    assert.ok(unknown instanceof NotFoundError);
    assert.match(unknown.message, /The model `gpt-9` does not exist/);
    const rejected = await client.chat.completions
      .create({ ...hello, logit_bias: { '1': 1 } })
      .catch((e: unknown) => e);
    assert.ok(rejected instanceof BadRequestError);
    assert.equal(rejected.code, 'unsupported_parameter');
    assert.equal(rejected.param, 'logit_bias');
    await assertAllValid(captured);
  });

  it('bad JSON, a missing model or messages, and unknown routes get OpenAI bodies', async (t) => {
    const { mock } = await setup(t);
    const post = (path: string, body: string) =>
      rawFetch(mock, path, {
        method: 'POST',
        headers: { authorization: `Bearer ${MOCK_API_KEY}`, 'content-type': 'application/json' },
        body,
      });
    const cases = [
      [await post('/v1/chat/completions', '{not json'), 400, /could not parse the JSON body/],
      [await post('/v1/chat/completions', JSON.stringify({ messages: [] })), 400, /you must provide a model parameter/],
      [
        await post('/v1/chat/completions', JSON.stringify({ model: 'x' })),
        400,
        /Missing required parameter: 'messages'/,
      ],
      [await post('/v1/nope', '{}'), 404, /Invalid URL \(POST \/v1\/nope\)/],
    ] as const;
    for (const [response, status, message] of cases) {
      assert.equal(response.status, status);
      const body = JSON.parse(response.text);
      assert.match(body.error.message, message);
      const r = validateErrorResponse(body);
      assert.ok(r.ok, r.errors);
    }
  });
});

describe('OpenAI mock: transport faults', () => {
  it('reset: the SDK sees a connection error, and the request was still recorded', async (t) => {
    const { mock, client } = await setup(t);
    mock.faults.push({ kind: 'reset' });
    const err = await client.chat.completions.create(hello).catch((e: unknown) => e);
    assert.ok(err instanceof APIConnectionError);
    assert.equal(mock.requests.length, 1);
  });

  it('hang: the SDK times out; delay: the answer still comes', async (t) => {
    const { mock, client } = await setup(t);
    mock.faults.push({ kind: 'hang' }, { kind: 'delay', ms: 20 });
    const err = await client.chat.completions.create(hello, { timeout: 200 }).catch((e: unknown) => e);
    assert.ok(err instanceof APIConnectionTimeoutError);
    const late = await client.chat.completions.create(hello);
    assert.equal(late.choices[0]?.message.content, 'Echo: Hello there, mock!');
  });

  it('sticky faults apply to every request until cleared', async (t) => {
    const { mock, client } = await setup(t);
    mock.faults.sticky = { kind: 'status', status: 503 };
    for (let i = 0; i < 3; i++) {
      assert.ok((await client.chat.completions.create(hello).catch((e: unknown) => e)) instanceof InternalServerError);
    }
    mock.reset();
    assert.equal((await client.chat.completions.create(hello)).object, 'chat.completion');
  });

  it('reset-mid-stream: chunks before the cut arrive, then the stream fails', async (t) => {
    const { mock, client } = await setup(t);
    mock.faults.push({ kind: 'reset-mid-stream', afterEvents: 3 });
    const stream = await client.chat.completions.create({ ...hello, stream: true });
    const seen: unknown[] = [];
    const err = await (async () => {
      for await (const chunk of stream) seen.push(chunk);
    })().catch((e: unknown) => e);
    assert.equal(seen.length, 3);
    assert.ok(err instanceof Error, 'the stream fails');
  });

  it('malformed-stream: the SDK rejects the broken event after the good ones', async (t) => {
    const { mock } = await setup(t);
    const client = new OpenAI({ apiKey: MOCK_API_KEY, baseURL: mock.url, maxRetries: 0, logLevel: 'off' });
    mock.faults.push({ kind: 'malformed-stream', afterEvents: 2 });
    const stream = await client.chat.completions.create({ ...hello, stream: true });
    const seen: unknown[] = [];
    const err = await (async () => {
      for await (const chunk of stream) seen.push(chunk);
    })().catch((e: unknown) => e);
    assert.equal(seen.length, 2);
    assert.ok(err instanceof SyntaxError);
  });

  it('stall-mid-stream: the stream stops after the given events without closing', async (t) => {
    const { mock } = await setup(t);
    mock.faults.push({ kind: 'stall-mid-stream', afterEvents: 2 });
    const controller = new AbortController();
    const response = await fetch(`${mock.url}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${MOCK_API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...hello, stream: true }),
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    let text = '';
    while (ssePayloads(text).length < 2) text += Buffer.from((await reader.read()).value!).toString();
    const more = await Promise.race([reader.read(), new Promise((resolve) => setTimeout(resolve, 100, 'stalled'))]);
    assert.equal(more, 'stalled');
    assert.equal(ssePayloads(text).length, 2);
    controller.abort();
  });

  it('garbage-body: a 200 that is not JSON makes the SDK fail', async (t) => {
    const { mock, client } = await setup(t);
    mock.faults.push({ kind: 'garbage-body' }, { kind: 'garbage-body' });
    const err = await client.chat.completions.create(hello).catch((e: unknown) => e);
    assert.ok(err instanceof Error);
    const stream = await client.chat.completions.create({ ...hello, stream: true });
    const seen: unknown[] = [];
    for await (const chunk of stream) seen.push(chunk);
    assert.equal(seen.length, 0, 'an HTML page carries no events');
  });

  it('close() ends hanging and stalled requests', async () => {
    const mock = await startMockOpenAI();
    mock.faults.push({ kind: 'hang' });
    const pending = fetch(`${mock.url}/models`, { headers: { authorization: `Bearer ${MOCK_API_KEY}` } }).catch(
      (e: unknown) => e,
    );
    while (mock.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await mock.close();
    assert.ok((await pending) instanceof Error);
  });
});

describe('OpenAI mock: Azure OpenAI shape', () => {
  const azureClient = (mock: MockOpenAI, captured: Captured[], apiKey = MOCK_API_KEY) =>
    new AzureOpenAI({
      endpoint: mock.origin,
      apiKey,
      apiVersion: '2024-10-21',
      deployment: 'my-gpt4o',
      maxRetries: 0,
      fetch: recordingFetch(captured),
    });

  it('AzureOpenAI calls the deployment path with api-key and gets Azure-annotated answers', async (t) => {
    const { mock, captured } = await setup(t);
    const client = azureClient(mock, captured);
    const body = await client.chat.completions.create({ model: 'gpt-4o', messages: hello.messages });
    assert.equal(body.choices[0]?.message.content, 'Echo: Hello there, mock!');
    const recorded = mock.requests[0]!;
    assert.equal(recorded.path, '/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21');
    assert.equal(recorded.headers['api-key'], MOCK_API_KEY);
    assert.equal(recorded.headers.authorization, undefined);
    assert.ok('prompt_filter_results' in body);
    // Azure sends `system_fingerprint: null`, which OpenAI's schema (a string) does not allow.
    assert.deepEqual(deviations([validateChatCompletion(body)]), ['/system_fingerprint: must be string']);

    const final = await client.chat.completions
      .stream({ model: 'gpt-4o', messages: hello.messages })
      .finalChatCompletion();
    assert.equal(final.choices[0]?.message.content, 'Echo: Hello there, mock!');
    // Azure's first chunk (prompt filter results, empty id/model/object) and `system_fingerprint: null` break
    // OpenAI's chunk schema, as the recorded Azure sample does (openai/chat/azure-model-router.1.chunks.txt).
    const chunks = sseChunks((await captured[1]!.text)!);
    assert.deepEqual(chunks[0], {
      choices: [],
      created: 0,
      id: '',
      model: '',
      object: '',
      prompt_filter_results: chunks[0]?.prompt_filter_results,
    });
    assert.deepEqual(deviations(chunks.map(validateChatCompletionChunk)), [
      '/object: must be equal to one of the allowed values',
      '/system_fingerprint: must be string',
    ]);
  });

  it('Azure errors: wrong api-key and 429 use Azure bodies; a missing api-version is a 404', async (t) => {
    const { mock, captured } = await setup(t, { retryAfterSeconds: 3 });
    const err = await azureClient(mock, captured, 'wrong')
      .chat.completions.create(hello)
      .catch((e: unknown) => e);
    assert.ok(err instanceof AuthenticationError);
    assert.equal(err.code, '401');
    assert.match(err.message, /Access denied due to invalid subscription key/);
    mock.faults.push({ kind: 'status', status: 429 });
    const limited = await azureClient(mock, captured)
      .chat.completions.create(hello)
      .catch((e: unknown) => e);
    assert.ok(limited instanceof RateLimitError);
    assert.equal(limited.headers?.get('retry-after'), '3');
    assert.match(limited.message, /API version 2024-10-21 .* Please retry after 3 seconds/);
    const noVersion = await rawFetch(mock, '/openai/deployments/x/chat/completions', {
      method: 'POST',
      headers: { 'api-key': MOCK_API_KEY },
      body: '{}',
    });
    assert.equal(noVersion.status, 404);
    // Azure's envelope lacks `type` and `param`, which OpenAI's ErrorResponse requires.
    assert.deepEqual(
      deviations([validateErrorResponse(JSON.parse(noVersion.text))]),
      ["/error: must have required property 'param'", "/error: must have required property 'type'"].sort(),
    );
  });
});

describe('OpenAI mock: provider flavours (quirk knobs)', () => {
  async function streamOf(t: TestContext, options: MockOpenAIOptions, extra: Partial<ChatCompletionCreateParams> = {}) {
    const { client, captured, mock } = await setup(t, options);
    const stream = await client.chat.completions.create({
      ...hello,
      ...extra,
      stream: true,
    } as ChatCompletionCreateParams & {
      stream: true;
    });
    const parsed: Array<Record<string, unknown>> = [];
    for await (const chunk of stream) parsed.push(chunk as unknown as Record<string, unknown>);
    const text = (await captured[0]!.text)!;
    return { client, mock, parsed, chunks: sseChunks(text), text };
  }
  const usageOf = (prompt: number, completion: number) => ({ prompt, completion });
  const expectedUsage = usageOf(countPromptTokens(hello), countTokens('Echo: Hello there, mock!'));

  it('groq: usage on the finish chunk, top-level and in x_groq; x_groq.id on the first chunk', async (t) => {
    const { chunks } = await streamOf(t, { flavour: 'groq' });
    const last = chunks.at(-1)!;
    assert.equal((last.choices as Array<{ finish_reason: string }>)[0]?.finish_reason, 'stop');
    assert.equal((last.usage as { completion_tokens: number }).completion_tokens, expectedUsage.completion);
    assert.deepEqual((last.x_groq as { usage: unknown }).usage, last.usage);
    assert.match((chunks[0]!.x_groq as { id: string }).id, /^req_/);
    assert.ok(chunks.slice(0, -1).every((c) => !('usage' in c)));
    assert.deepEqual(deviations(chunks.map(validateChatCompletionChunk)), [], 'Groq chunks fit OpenAI schema');
  });

  it('groq-legacy: usage only in x_groq.usage, and stream_options rejected with a 400', async (t) => {
    const { chunks, client } = await streamOf(t, { flavour: 'groq-legacy' });
    const last = chunks.at(-1)!;
    assert.equal('usage' in last, false);
    assert.equal((last.x_groq as { usage: { prompt_tokens: number } }).usage.prompt_tokens, expectedUsage.prompt);
    const err = await client.chat.completions
      .create({ ...hello, stream: true, stream_options: { include_usage: true } })
      .catch((e: unknown) => e);
    assert.ok(err instanceof BadRequestError);
    assert.match(err.message, /property 'stream_options' is unsupported/);
  });

  it('mistral: usage always on the finish chunk; stream_options is a 422 extra_forbidden', async (t) => {
    const { chunks, client } = await streamOf(t, { flavour: 'mistral' });
    assert.deepEqual(chunks.at(-1)?.usage, {
      prompt_tokens: expectedUsage.prompt,
      total_tokens: expectedUsage.prompt + expectedUsage.completion,
      completion_tokens: expectedUsage.completion,
    });
    const err = await client.chat.completions
      .create({ ...hello, stream: true, stream_options: { include_usage: true } })
      .catch((e: unknown) => e);
    assert.ok(err instanceof UnprocessableEntityError);
    assert.equal(
      (err.error as { message: { detail: Array<{ type: string }> } }).message.detail[0]?.type,
      'extra_forbidden',
    );
    const body = await client.chat.completions.create(hello);
    // Mistral bodies omit `logprobs` and `refusal`, both required by OpenAI's schema.
    assert.deepEqual(
      deviations([validateChatCompletion(body)]),
      [
        "/choices/*/message: must have required property 'refusal'",
        "/choices/*: must have required property 'logprobs'",
      ].sort(),
    );
  });

  it('deepseek: a keep-alive comment first, usage: null on chunks and usage on the finish chunk', async (t) => {
    const { chunks, text, parsed } = await streamOf(t, { flavour: 'deepseek' });
    assert.ok(text.startsWith(': keep-alive\n\n'));
    assert.equal(parsed.length, chunks.length, 'the SDK skips the comment');
    assert.ok(chunks.slice(0, -1).every((c) => c.usage === null));
    assert.equal(
      (chunks.at(-1)!.usage as { prompt_cache_miss_tokens: number }).prompt_cache_miss_tokens,
      expectedUsage.prompt,
    );
    assert.match(String(chunks[0]?.id), /^[0-9a-f]{8}-[0-9a-f]{4}-4/);
  });

  it('each flavour departs from OpenAI schemas only as its recorded samples do', async (t) => {
    const refusal = "/choices/*/message: must have required property 'refusal'";
    const serviceTier = [
      '/service_tier: must be equal to one of the allowed values',
      '/service_tier: must be null',
      '/service_tier: must match a schema in anyOf',
    ];
    const expected: Record<string, string[]> = {
      openai: [],
      groq: [refusal, ...serviceTier], // as groq/groq-text.json
      'groq-legacy': [refusal],
      mistral: [refusal, "/choices/*: must have required property 'logprobs'"], // as mistral/mistral-text.json
      deepseek: [refusal], // as deepseek/chat/deepseek-text.json
    };
    for (const [flavour, deviating] of Object.entries(expected)) {
      const { client } = await setup(t, { flavour: flavour as MockOpenAIOptions['flavour'] });
      const body: OpenAI.ChatCompletion = await client.chat.completions.create({
        model: 'gpt-4o',
        tools: [weatherTool],
        messages: [{ role: 'user', content: 'call get_weather' }],
      });
      assert.deepEqual(deviations([validateChatCompletion(body)]), [...deviating].sort(), flavour);
      const { chunks } = await streamOf(t, { flavour: flavour as MockOpenAIOptions['flavour'] });
      assert.deepEqual(deviations(chunks.map(validateChatCompletionChunk)), [], `${flavour} chunks`);
    }
  });

  it('openai: the final include_usage chunk may carry gateway extras such as usage.cost (schemas allow them)', () => {
    const chunk = {
      id: 'chatcmpl-x',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'm',
      choices: [],
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2, cost: 0.00012 },
    };
    assert.ok(validateChatCompletionChunk(chunk).ok);
    const error = {
      error: { message: 'm', type: 'rate_limit_error', code: 'rate_limited', param: null, retryable: true },
    };
    assert.ok(validateErrorResponse(error).ok);
    assert.equal(
      validateErrorResponse({ error: { message: 'm', type: 't', code: null } }).ok,
      false,
      'param is required',
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Recorded samples: each validates against OpenAI's schemas or has its deviations listed here, and each replays
// through the mock unchanged.

const WIRE = fileURLToPath(new URL('../fixtures/wire/', import.meta.url));
/** The OpenAI-family chat samples (other folders belong to other protocols, or other endpoints). */
const CHAT_DIRS = ['openai/chat', 'groq', 'mistral', 'deepseek/chat', 'xai', 'openai-compatible/chat', 'perplexity'];
const CHAT_FIXTURES = CHAT_DIRS.flatMap((dir) =>
  readdirSync(`${WIRE}${dir}`)
    .filter((f) => (f.endsWith('.json') || f.endsWith('.chunks.txt')) && !/transcription|reranking/.test(f))
    .map((f) => `${dir}/${f}`),
).sort();

/**
 * Where provider samples differ from OpenAI's schemas (array indexes folded). Everything not listed validates.
 * These are real provider behaviours the gateway must tolerate, not mock bugs.
 */
const KNOWN_DEVIATIONS: Record<string, string[]> = {
  'deepseek/chat/deepseek-json.json': ["/choices/*/message: must have required property 'refusal'"],
  'deepseek/chat/deepseek-reasoning.json': ["/choices/*/message: must have required property 'refusal'"],
  'deepseek/chat/deepseek-text.json': ["/choices/*/message: must have required property 'refusal'"],
  'deepseek/chat/deepseek-tool-call.json': ["/choices/*/message: must have required property 'refusal'"],
  'groq/groq-reasoning.json': [
    "/choices/*/message: must have required property 'refusal'",
    '/service_tier: must be equal to one of the allowed values',
    '/service_tier: must be null',
    '/service_tier: must match a schema in anyOf',
  ],
  'groq/groq-text.json': [
    "/choices/*/message: must have required property 'refusal'",
    '/service_tier: must be equal to one of the allowed values',
    '/service_tier: must be null',
    '/service_tier: must match a schema in anyOf',
  ],
  'groq/groq-tool-call.json': [
    "/choices/*/message: must have required property 'content'",
    "/choices/*/message: must have required property 'refusal'",
    '/service_tier: must be equal to one of the allowed values',
    '/service_tier: must be null',
    '/service_tier: must match a schema in anyOf',
  ],
  'mistral/mistral-reasoning.chunks.txt': [
    '/choices/*/delta/content: must be null',
    '/choices/*/delta/content: must be string',
    '/choices/*/delta/content: must match a schema in anyOf',
  ],
  'mistral/mistral-reasoning.json': [
    "/choices/*/message: must have required property 'refusal'",
    '/choices/*/message/content: must be null',
    '/choices/*/message/content: must be string',
    '/choices/*/message/content: must match a schema in anyOf',
    "/choices/*: must have required property 'logprobs'",
  ],
  'mistral/mistral-text.json': [
    "/choices/*/message: must have required property 'refusal'",
    '/choices/*/message/tool_calls: must be array',
    "/choices/*: must have required property 'logprobs'",
  ],
  'mistral/mistral-tool-call.chunks.txt': ["/choices/*/delta/tool_calls/*: must have required property 'index'"],
  'mistral/mistral-tool-call.json': [
    "/choices/*/message/tool_calls/*: must have required property 'custom'",
    "/choices/*/message/tool_calls/*: must have required property 'type'",
    '/choices/*/message/tool_calls/*: must match exactly one schema in oneOf',
    "/choices/*/message: must have required property 'content'",
    "/choices/*/message: must have required property 'refusal'",
    "/choices/*: must have required property 'logprobs'",
  ],
  'openai-compatible/chat/xai-text.chunks.txt': ["/choices/*: must have required property 'finish_reason'"],
  'openai-compatible/chat/xai-text.json': ["/choices/*: must have required property 'logprobs'"],
  'openai-compatible/chat/xai-tool-call.chunks.txt': ["/choices/*: must have required property 'finish_reason'"],
  'openai-compatible/chat/xai-tool-call.json': ["/choices/*: must have required property 'logprobs'"],
  'openai/chat/azure-model-router.1.chunks.txt': [
    '/object: must be equal to one of the allowed values',
    '/system_fingerprint: must be string',
  ],
  'perplexity/perplexity-citations.chunks.txt': [
    "/choices/*: must have required property 'finish_reason'",
    '/object: must be equal to one of the allowed values', // the last chunk is a `chat.completion.done`
  ],
  'perplexity/perplexity-citations.json': [
    "/choices/*/message: must have required property 'refusal'",
    "/choices/*: must have required property 'logprobs'",
  ],
  'perplexity/perplexity-text.chunks.txt': [
    "/choices/*: must have required property 'finish_reason'",
    '/object: must be equal to one of the allowed values', // the last chunk is a `chat.completion.done`
  ],
  'perplexity/perplexity-text.json': [
    "/choices/*/message: must have required property 'refusal'",
    "/choices/*: must have required property 'logprobs'",
  ],
  'xai/xai-text.chunks.txt': ["/choices/*: must have required property 'finish_reason'"],
  'xai/xai-text.json': ["/choices/*: must have required property 'logprobs'"],
  'xai/xai-tool-call.chunks.txt': ["/choices/*: must have required property 'finish_reason'"],
  'xai/xai-tool-call.json': ["/choices/*: must have required property 'logprobs'"],
};

describe('OpenAI mock: recorded samples', () => {
  for (const file of CHAT_FIXTURES) {
    it(`${file} validates against OpenAI's schemas, or deviates only as listed`, async () => {
      const name = file.replace(/\.(json|chunks\.txt)$/, '');
      const results = file.endsWith('.json')
        ? [await import(`${WIRE}${file}`, { with: { type: 'json' } }).then((m) => m.default)].map((body) =>
            'error' in body ? validateErrorResponse(body) : validateChatCompletion(body),
          )
        : readChunkPayloads(name).map(validateChatCompletionChunk);
      assert.deepEqual(deviations(results), [...(KNOWN_DEVIATIONS[file] ?? [])].sort());
    });
  }

  it('every listed deviation belongs to a sample that exists', () => {
    for (const file of Object.keys(KNOWN_DEVIATIONS)) assert.ok(CHAT_FIXTURES.includes(file), file);
  });

  it('replay: each .json is served unchanged, and each stream as its recorded payloads plus [DONE]', async (t) => {
    const { mock, client, captured } = await setup(t);
    for (const file of CHAT_FIXTURES) {
      const name = file.replace(/\.(json|chunks\.txt)$/, '');
      mock.options.replay = name;
      if (file.endsWith('.json')) {
        const expected = (await import(`${WIRE}${file}`, { with: { type: 'json' } })).default;
        if ('error' in expected) {
          const err = await client.chat.completions.create(hello).catch((e: unknown) => e);
          assert.ok(err instanceof BadRequestError, file);
          assert.deepEqual(err.error, expected.error);
        } else {
          assert.deepEqual(await client.chat.completions.create(hello), expected, file);
        }
      } else {
        const stream = await client.chat.completions.create({ ...hello, stream: true });
        let count = 0;
        for await (const _ of stream) count++;
        const sent = ssePayloads((await captured.at(-1)!.text)!);
        const recorded = readChunkPayloads(name);
        assert.equal(count, recorded.length, `the SDK reads every event of ${file}`);
        assert.deepEqual(
          sent.slice(0, -1).map((p) => JSON.parse(p)),
          recorded,
          file,
        );
        assert.equal(sent.at(-1), '[DONE]');
      }
    }
  });

  it('replay of a pre-framed .sse sample sends it as recorded', async (t) => {
    const { mock } = await setup(t, { replay: 'openai-compatible/chat/anthropic-fallback-tool-call' });
    const response = await rawFetch(mock, '/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${MOCK_API_KEY}` },
      body: JSON.stringify({ ...hello, stream: true }),
    });
    const { readFileSync } = await import('node:fs');
    assert.equal(response.text, readFileSync(`${WIRE}openai-compatible/chat/anthropic-fallback-tool-call.sse`, 'utf8'));
  });

  it('the SDK stream helper accumulates replayed OpenAI, Groq and DeepSeek streams', async (t) => {
    const { mock, client } = await setup(t);
    for (const name of [
      'openai/chat/openai-text',
      'groq/groq-text',
      'deepseek/chat/deepseek-text',
      'groq/groq-tool-call',
    ]) {
      mock.options.replay = name;
      const final = await client.chat.completions.stream(hello).finalChatCompletion();
      const payloads = readChunkPayloads(name) as Array<{
        choices: Array<{ delta: { content?: string | null } }>;
      }>;
      const text = payloads.map((p) => p.choices[0]?.delta.content ?? '').join('');
      assert.equal(final.choices[0]?.message.content ?? '', text, name);
    }
  });

  it('replayByModel picks the sample by requested model; faults apply to replays too', async (t) => {
    const { mock, client } = await setup(t, { replayByModel: { 'llama-3.3-70b-versatile': 'groq/groq-text' } });
    const groq = await client.chat.completions.create({ ...hello, model: 'llama-3.3-70b-versatile' });
    assert.equal(groq.model, 'llama-3.3-70b-versatile');
    assert.match(groq.id, /^chatcmpl-[0-9a-f-]{36}$/);
    const own = await client.chat.completions.create(hello);
    assert.equal(own.choices[0]?.message.content, 'Echo: Hello there, mock!');
    mock.faults.push({ kind: 'reset-mid-stream', afterEvents: 5 });
    const stream = await client.chat.completions.create({ ...hello, model: 'llama-3.3-70b-versatile', stream: true });
    let count = 0;
    const err = await (async () => {
      for await (const _ of stream) count++;
    })().catch((e: unknown) => e);
    assert.equal(count, 5);
    assert.ok(err instanceof Error);
  });

  it('the default models list is served', async (t) => {
    const { client } = await setup(t);
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    assert.deepEqual(ids, MOCK_MODELS);
  });
});

describe('OpenAI mock: the Responses API (recorded samples) through the official SDK', () => {
  it('responses.create and responses.stream read the recorded answers; other flavours have no such route', async (t) => {
    const { client, mock } = await setup(t);
    const answer = await client.responses.create({ model: 'gpt-4o-mini', input: 'Hello' });
    assert.ok(answer.output_text.length > 0);
    assert.equal(answer.usage?.output_tokens, 163);
    const streamed = await client.responses.stream({ model: 'gpt-4o-mini', input: 'Hello' }).finalResponse();
    assert.ok(streamed.output_text.length > 0);
    assert.equal(streamed.status, 'completed');
    assert.equal(mock.requests.at(-1)!.path, '/v1/responses');

    const groq = await setup(t, { flavour: 'groq' });
    await assert.rejects(groq.client.responses.create({ model: 'llama', input: 'Hello' }), (err: unknown) => {
      assert.equal((err as { status?: number }).status, 404);
      return true;
    });
  });
});
