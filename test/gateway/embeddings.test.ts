import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import fc from 'fast-check';
import OpenAI from 'openai';
import { findUsageRecord } from '../../src/store/usage-queries.ts';
import { mockProvider, startGateway, TEST_API_KEY, type TestGateway } from '../helpers/gateway.ts';
import {
  validateEmbeddingRequest,
  validateEmbeddingResponse,
  validateErrorResponse,
  validateModelList,
} from '../helpers/openai-schema.ts';
import { embeddingTokens, type MockOpenAI, mockEmbedding, startMockOpenAI } from '../mocks/openai-compatible.ts';
import { getPage, openLink, startTenancyGateway } from '../tenancy/helpers.ts';

/**
 * POST /v1/embeddings through the gateway with the official openai SDK as the client and the OpenAI mock as the
 * upstream: encodings both ways, arrays, validation, metering and record, failover, and the chat/embedding
 * boundary.
 */

const MODEL = 'text-embedding-3-small';
const PRICE = 0.02; // USD per million input tokens

function float32(values: number[]): number[] {
  return values.map((v) => Math.fround(v));
}

function decodeBase64(base64: string): number[] {
  const bytes = Buffer.from(base64, 'base64');
  return Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
}

interface ErrorBody {
  error: { message: string; type: string; code: string; param: string | null };
}

describe('POST /v1/embeddings (OpenAI-compatible upstream)', () => {
  let mock: MockOpenAI;
  let spare: MockOpenAI;
  let gw: TestGateway;

  before(async () => {
    mock = await startMockOpenAI();
    spare = await startMockOpenAI();
    gw = await startGateway({
      providers: [
        mockProvider('up', mock.url, [
          { name: 'gpt-4o-mini', qualityRank: 70 },
          { name: MODEL, qualityRank: 50, mode: 'embedding', price: { input: PRICE, output: 0 } },
          { name: 'text-embedding-ada-002', qualityRank: 50, mode: 'embedding', price: { input: 0.1, output: 0 } },
        ]),
        // The same model at a second provider, dearer: the failover target.
        mockProvider('spare', spare.url, [
          { name: MODEL, qualityRank: 50, mode: 'embedding', price: { input: 0.03, output: 0 } },
        ]),
      ],
    });
  });
  after(async () => {
    await gw.close();
    await mock.close();
    await spare.close();
  });
  beforeEach(() => {
    mock.reset();
    spare.reset();
    mock.options.ignoreEncodingFormat = false;
    mock.options.omitUsage = false;
  });

  test("the SDK's default call (base64 on the wire) gets the upstream's vectors, usage, and the gateway's headers", async () => {
    const { data: body, response } = await gw.client.embeddings
      .create({ model: MODEL, input: 'The quick brown fox' })
      .withResponse();
    assert.equal(body.object, 'list');
    assert.equal(body.model, MODEL);
    assert.equal(body.data.length, 1);
    assert.equal(body.data[0]!.object, 'embedding');
    assert.equal(body.data[0]!.index, 0);
    assert.deepEqual(body.data[0]!.embedding, mockEmbedding('The quick brown fox', MODEL));
    const tokens = embeddingTokens('The quick brown fox');
    assert.deepEqual(body.usage, { prompt_tokens: tokens, total_tokens: tokens });
    // What went upstream: the caller's body with the catalog's upstream name, base64 asked.
    assert.equal(mock.requests.length, 1);
    assert.equal(mock.requests[0]!.path, '/v1/embeddings');
    assert.deepEqual(mock.requests[0]!.body, { model: MODEL, input: 'The quick brown fox', encoding_format: 'base64' });
    assert.ok(validateEmbeddingRequest(mock.requests[0]!.body).ok);
    assert.match(response.headers.get('x-request-id') ?? '', /^req_[0-9a-f]{32}$/);
    assert.equal(response.headers.get('x-model-router-model'), `up/${MODEL}`);
    assert.equal(response.headers.get('x-model-router-provider'), 'up');
    assert.equal(response.headers.get('x-model-router-attempts'), '1');
    assert.equal(response.headers.get('x-model-router-cost'), (tokens * PRICE * 1000 * 1e-9).toFixed(9));
  });

  test('encoding_format float: JSON numbers in OpenAI’s exact shape (validated against its schema)', async () => {
    const res = await gw.post('/v1/embeddings', { model: MODEL, input: ['one', 'two'], encoding_format: 'float' });
    assert.equal(res.status, 200);
    const body = (await res.json()) as OpenAI.CreateEmbeddingResponse;
    const valid = validateEmbeddingResponse(body);
    assert.ok(valid.ok, valid.errors);
    assert.deepEqual(Object.keys(body).sort(), ['data', 'model', 'object', 'usage']);
    assert.deepEqual(
      body.data.map((d) => d.embedding),
      [mockEmbedding('one', MODEL), mockEmbedding('two', MODEL)],
    );
    assert.deepEqual(
      body.data.map((d) => d.index),
      [0, 1],
    );
  });

  test('encoding_format base64: little-endian float32 bytes, base64-encoded', async () => {
    const body = await gw.client.embeddings.create({ model: MODEL, input: 'abc', encoding_format: 'base64' });
    const encoded = body.data[0]!.embedding as unknown;
    assert.equal(typeof encoded, 'string');
    assert.deepEqual(decodeBase64(encoded as string), mockEmbedding('abc', MODEL));
  });

  test('an upstream that answers floats to a base64 request: the gateway encodes them (and decodes the reverse)', async () => {
    mock.options.ignoreEncodingFormat = true;
    const explicit = await gw.client.embeddings.create({ model: MODEL, input: 'xyz', encoding_format: 'base64' });
    assert.equal(typeof explicit.data[0]!.embedding, 'string');
    assert.deepEqual(decodeBase64(explicit.data[0]!.embedding as unknown as string), mockEmbedding('xyz', MODEL));
    const sdkDefault = await gw.client.embeddings.create({ model: MODEL, input: 'xyz' });
    assert.deepEqual(sdkDefault.data[0]!.embedding, mockEmbedding('xyz', MODEL));
    // The reverse: upstream base64 (always asked), caller floats.
    mock.options.ignoreEncodingFormat = false;
    const floats = await gw.client.embeddings.create({ model: MODEL, input: 'xyz', encoding_format: 'float' });
    assert.deepEqual(floats.data[0]!.embedding, float32(mockEmbedding('xyz', MODEL)));
    assert.equal((mock.requests.at(-1)!.body as { encoding_format: string }).encoding_format, 'base64');
  });

  test('arrays of strings, token ids and token arrays, with dimensions, keep their order', async () => {
    const texts = ['alpha', 'beta gamma', 'delta'];
    const many = await gw.client.embeddings.create({ model: MODEL, input: texts, dimensions: 8 });
    assert.deepEqual(
      many.data.map((d) => d.embedding),
      texts.map((t) => mockEmbedding(t, MODEL, 8)),
    );
    assert.equal(
      many.usage.prompt_tokens,
      texts.reduce((n, t) => n + embeddingTokens(t), 0),
    );
    const ids = await gw.client.embeddings.create({ model: MODEL, input: [1212, 318, 257] });
    assert.equal(ids.data.length, 1);
    assert.deepEqual(ids.data[0]!.embedding, mockEmbedding([1212, 318, 257], MODEL));
    assert.equal(ids.usage.prompt_tokens, 3);
    const lists = await gw.client.embeddings.create({
      model: MODEL,
      input: [
        [1, 2],
        [3, 4, 5],
      ],
    });
    assert.deepEqual(
      lists.data.map((d) => d.embedding),
      [mockEmbedding([1, 2], MODEL), mockEmbedding([3, 4, 5], MODEL)],
    );
    assert.equal(lists.usage.prompt_tokens, 5);
  });

  test('bad input gets a clear 400 in OpenAI’s envelope, and nothing goes upstream', async () => {
    const cases: Array<[unknown, string, RegExp]> = [
      [{ model: MODEL, input: '' }, 'input', /empty string/],
      [{ model: MODEL, input: [] }, 'input', /empty array/],
      [{ model: MODEL, input: Array.from({ length: 2049 }, () => 'x') }, 'input', /2049 items; at most 2048/],
      [{ model: MODEL, input: ['ok', 3] }, 'input[1]', /must be a string/],
      [{ model: MODEL, input: ['ok', ''] }, 'input[1]', /empty string/],
      [{ model: MODEL, input: [[1, 2], [-1]] }, 'input[1][0]', /token id/],
      [{ model: MODEL, input: [[1], []] }, 'input[1]', /empty array/],
      [{ model: MODEL, input: [1.5] }, 'input[0]', /token id/],
      [{ model: MODEL, input: { text: 'x' } }, 'input', /string, an array of strings/],
      [{ model: MODEL }, 'input', /required/],
      [{ input: 'x' }, 'model', /./],
      [{ model: MODEL, input: 'x', encoding_format: 'int8' }, 'encoding_format', /./],
      [{ model: MODEL, input: 'x', dimensions: 0 }, 'dimensions', /./],
    ];
    for (const [body, param, message] of cases) {
      const res = await gw.post('/v1/embeddings', body);
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 80));
      const error = (await res.json()) as ErrorBody;
      assert.ok(validateErrorResponse(error).ok);
      assert.equal(error.error.code, 'invalid_request');
      assert.equal(error.error.type, 'invalid_request_error');
      assert.equal(error.error.param, param, JSON.stringify(body).slice(0, 80));
      assert.match(error.error.message, message);
      assert.ok(res.headers.get('x-request-id'));
    }
    assert.equal(mock.requests.length, 0);
    // The SDK surfaces it as a BadRequestError.
    await assert.rejects(gw.client.embeddings.create({ model: MODEL, input: '' }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.BadRequestError);
      return true;
    });
  });

  test('tiers, chat models and unknown models are refused for embeddings; embedding models for chat', async () => {
    for (const model of ['fast', 'auto', 'deep:quality']) {
      const res = await gw.post('/v1/embeddings', { model, input: 'x' });
      assert.equal(res.status, 400);
      const error = (await res.json()) as ErrorBody;
      assert.equal(error.error.param, 'model');
      assert.match(error.error.message, /chat tier; embeddings need a concrete embedding model/);
    }
    const chat = await gw.post('/v1/embeddings', { model: 'gpt-4o-mini', input: 'x' });
    assert.equal(chat.status, 400);
    assert.match(((await chat.json()) as ErrorBody).error.message, /'gpt-4o-mini' is a chat model/);
    const unknown = await gw.post('/v1/embeddings', { model: 'nope-embed', input: 'x' });
    assert.equal(unknown.status, 404);
    const embedAsChat = await gw.post('/v1/chat/completions', {
      model: MODEL,
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(embedAsChat.status, 400);
    assert.match(
      ((await embedAsChat.json()) as ErrorBody).error.message,
      /is an embedding model: call POST \/v1\/embeddings/,
    );
    // Tiers never pick an embedding model: every tier here can only be the one chat model.
    for (const tier of ['utility', 'fast', 'deep']) {
      const res = await gw.post('/v1/chat/completions', { model: tier, messages: [{ role: 'user', content: 'hi' }] });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-model-router-model'), 'up/gpt-4o-mini');
    }
    assert.equal(mock.requests.filter((r) => r.path === '/v1/embeddings').length, 0);
  });

  test('a provider-side 400 (dimensions on ada-002) is the caller’s error, not a failover', async () => {
    const res = await gw.post('/v1/embeddings', { model: 'text-embedding-ada-002', input: 'x', dimensions: 8 });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as ErrorBody).error.message, /does not support specifying dimensions/);
    assert.equal(spare.requests.length, 0);
  });

  test('a success is recorded with its protocol, input tokens and exact cost', async () => {
    const input = ['metered input one', 'and two'];
    const { data: body, response } = await gw.client.embeddings.create({ model: MODEL, input }).withResponse();
    await gw.runtime.usage.flush();
    const record = await findUsageRecord(gw.runtime.store.db, response.headers.get('x-request-id')!);
    assert.ok(record);
    assert.equal(record.protocol, 'openai-embeddings');
    assert.equal(record.requestedModel, MODEL);
    assert.equal(record.modelId, `up/${MODEL}`);
    assert.equal(record.providerId, 'up');
    assert.equal(record.tier, null);
    assert.equal(record.stream, false);
    assert.equal(record.inputTokens, body.usage.prompt_tokens);
    assert.equal(record.outputTokens, 0);
    assert.equal(record.costNanoUsd, Math.round(body.usage.prompt_tokens * PRICE * 1000));
    assert.ok(record.costNanoUsd > 0);
    assert.equal(record.status, 200);
    assert.equal(record.errorCode, null);
  });

  test('an upstream that reports no usage is metered from the input', async () => {
    mock.options.omitUsage = true;
    const { data: body, response } = await gw.client.embeddings
      .create({ model: MODEL, input: [[5, 6, 7, 8]] })
      .withResponse();
    assert.equal(body.usage.prompt_tokens, 4);
    await gw.runtime.usage.flush();
    const record = await findUsageRecord(gw.runtime.store.db, response.headers.get('x-request-id')!);
    assert.equal(record?.inputTokens, 4);
    assert.equal(record?.costNanoUsd, Math.round(4 * PRICE * 1000));
  });

  test('a 5xx fails over to the next provider of the same model, and a refusal is recorded', async () => {
    mock.faults.push({ kind: 'status', status: 503 });
    const { data: body, response } = await gw.client.embeddings
      .create({ model: MODEL, input: 'fail me over' })
      .withResponse();
    assert.deepEqual(body.data[0]!.embedding, mockEmbedding('fail me over', MODEL));
    assert.equal(response.headers.get('x-model-router-provider'), 'spare');
    assert.equal(response.headers.get('x-model-router-attempts'), '2');
    assert.equal(mock.requests.length, 1);
    assert.equal(spare.requests.length, 1);
    await gw.runtime.usage.flush();
    const record = await findUsageRecord(gw.runtime.store.db, response.headers.get('x-request-id')!);
    assert.equal(record?.providerId, 'spare');
    assert.equal(record?.attempts, 2);
    assert.equal(record?.costNanoUsd, Math.round(body.usage.prompt_tokens * 0.03 * 1000));

    // Both down: the caller gets 503 in the envelope, and the failure is recorded.
    mock.faults.push({ kind: 'status', status: 500 });
    spare.faults.push({ kind: 'status', status: 502 });
    const failed = await gw.post('/v1/embeddings', { model: MODEL, input: 'nobody home' });
    assert.equal(failed.status, 503);
    assert.equal(((await failed.json()) as ErrorBody).error.code, 'provider_unavailable');
    await gw.runtime.usage.flush();
    const refused = await findUsageRecord(gw.runtime.store.db, failed.headers.get('x-request-id')!);
    assert.equal(refused?.protocol, 'openai-embeddings');
    assert.equal(refused?.errorCode, 'provider_unavailable');
    assert.equal(refused?.costNanoUsd, 0);
  });

  test('authentication is the same as on chat: a wrong key gets 401 and nothing goes upstream', async () => {
    const res = await fetch(`${gw.url}/v1/embeddings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_API_KEY}x`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, input: 'x' }),
    });
    assert.equal(res.status, 401);
    assert.equal(mock.requests.length, 0);
  });

  test('GET /v1/models lists embedding models after the chat ones, marked by mode, in a list the SDK reads', async () => {
    const listed: Array<{ id: string; mode?: string }> = [];
    for await (const model of gw.client.models.list()) listed.push(model as { id: string; mode?: string });
    const res = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${TEST_API_KEY}` } });
    assert.ok(validateModelList(await res.json()).ok);
    const modes = listed.map((m) => m.mode);
    assert.ok(modes.every((m) => m === 'chat' || m === 'embedding'));
    assert.equal(modes.lastIndexOf('chat') < modes.indexOf('embedding'), true, 'chat first, then embedding');
    assert.deepEqual(
      listed.filter((m) => m.mode === 'embedding').map((m) => m.id),
      [`up/${MODEL}`, 'up/text-embedding-ada-002', `spare/${MODEL}`],
    );
    assert.equal(listed.find((m) => m.id === 'fast')?.mode, 'chat');
    assert.equal(listed.find((m) => m.id === 'up/gpt-4o-mini')?.mode, 'chat');
  });
});

describe('POST /v1/embeddings on the demo provider (zero configuration)', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({});
  });
  after(async () => {
    await gw.close();
  });

  const cosine = (a: number[], b: number[]) => a.reduce((sum, v, i) => sum + v * b[i]!, 0);

  test('demo-embed answers deterministic unit vectors in which shared words mean similarity, priced and recorded', async () => {
    const input = ['the cat sat on the mat', 'a cat on a mat', 'quarterly revenue grew'];
    const { data: body, response } = await gw.client.embeddings.create({ model: 'demo-embed', input }).withResponse();
    const [a, b, c] = body.data.map((d) => d.embedding) as [number[], number[], number[]];
    assert.equal(a.length, 256);
    assert.ok(Math.abs(cosine(a, a) - 1) < 1e-5, 'unit length');
    assert.ok(cosine(a, b) > cosine(a, c) + 0.3, 'texts sharing words are closer');
    const again = await gw.client.embeddings.create({ model: 'demo/demo-embed', input: input[0]!, dimensions: 64 });
    assert.equal(again.data[0]!.embedding.length, 64);
    assert.deepEqual(
      (await gw.client.embeddings.create({ model: 'demo-embed', input: input[0]! })).data[0]!.embedding,
      a,
      'deterministic',
    );
    assert.equal(response.headers.get('x-model-router-model'), 'demo/demo-embed');
    assert.ok(body.usage.prompt_tokens > 0);
    await gw.runtime.usage.flush();
    const record = await findUsageRecord(gw.runtime.store.db, response.headers.get('x-request-id')!);
    assert.equal(record?.inputTokens, body.usage.prompt_tokens);
    assert.equal(record?.costNanoUsd, Math.round(body.usage.prompt_tokens * 0.02 * 1000));
  });
});

describe('key failover on embeddings', () => {
  let mock: MockOpenAI;
  let gw: TestGateway;
  before(async () => {
    mock = await startMockOpenAI({ apiKeys: ['sk-good-key-0123456789'] });
    gw = await startGateway({
      providers: [
        mockProvider(
          'up',
          mock.url,
          [{ name: MODEL, qualityRank: 50, mode: 'embedding', price: { input: PRICE, output: 0 } }],
          {
            keys: [
              { id: 'revoked', key: 'sk-revoked-key-0123456789' },
              { id: 'good', key: 'sk-good-key-0123456789' },
            ],
          },
        ),
      ],
    });
  });
  after(async () => {
    await gw.close();
    await mock.close();
  });

  test('a key the provider rejects gives way to the next key of the same provider, and leaves rotation', async () => {
    const { data: body, response } = await gw.client.embeddings.create({ model: MODEL, input: 'k' }).withResponse();
    assert.deepEqual(body.data[0]!.embedding, mockEmbedding('k', MODEL));
    assert.equal(response.headers.get('x-model-router-attempts'), '2');
    await gw.runtime.usage.flush();
    const record = await findUsageRecord(gw.runtime.store.db, response.headers.get('x-request-id')!);
    assert.equal(record?.providerKeyId, 'good');
    mock.reset();
    await gw.client.embeddings.create({ model: MODEL, input: 'k2' });
    assert.equal(mock.requests.length, 1, 'the rejected key is out of rotation');
    assert.ok(
      !JSON.stringify(await (await gw.post('/v1/embeddings', { model: MODEL, input: 'k3' })).json()).includes('sk-'),
    );
    const logs = gw.logs.join('');
    assert.match(logs, /upstream attempt failed/, 'the failed attempt is logged');
    assert.ok(!logs.includes('sk-revoked-key') && !logs.includes('sk-good-key'), 'never a key in the logs');
  });
});

describe('random bodies on /v1/embeddings', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({});
  });
  after(() => gw.close());

  test('property: 2xx or an OpenAI-format 4xx, never a 5xx (demo provider)', async () => {
    const tokenIds = fc.array(fc.oneof(fc.nat(), fc.integer(), fc.double()), { maxLength: 4 });
    const input = fc.oneof(
      fc.string(),
      fc.array(fc.string(), { maxLength: 4 }),
      tokenIds,
      fc.array(tokenIds, { maxLength: 3 }),
      fc.array(fc.anything(), { maxLength: 3 }),
      fc.anything(),
    );
    const body = fc.oneof(
      fc.anything(),
      fc.record(
        {
          model: fc.oneof(fc.constantFrom('demo-embed', 'demo/demo-embed', 'fast', 'auto', 'demo-fast'), fc.string()),
          input,
          encoding_format: fc.oneof(fc.constantFrom('float', 'base64'), fc.anything()),
          dimensions: fc.oneof(fc.integer({ min: -2, max: 5000 }), fc.double(), fc.anything()),
          user: fc.anything(),
        },
        { requiredKeys: [] },
      ),
    );
    await fc.assert(
      fc.asyncProperty(body, async (value) => {
        const text = JSON.stringify(value) ?? 'null';
        const res = await gw.post('/v1/embeddings', text);
        const raw = await res.text();
        assert.ok(res.status < 500, `status ${res.status} for ${text.slice(0, 200)}: ${raw.slice(0, 200)}`);
        if (res.status >= 400) {
          const parsed = JSON.parse(raw) as ErrorBody & { error: { retryable: boolean } };
          assert.ok(validateErrorResponse(parsed).ok);
          assert.equal(parsed.error.retryable, false);
        } else {
          const parsed = JSON.parse(raw) as { object: string; data: unknown[] };
          assert.equal(parsed.object, 'list');
          assert.ok(parsed.data.length > 0);
        }
      }),
      { numRuns: 200, seed: 20261207 },
    );
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
  });
});

describe('embeddings on the dashboards', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTenancyGateway({});
  });
  after(() => gw.close());

  test('a successful embeddings answer carries the dashboard link, and the client dashboard shows the request', async () => {
    const res = await gw.post('/v1/embeddings', { model: 'demo-embed', input: 'dashboard me' });
    assert.equal(res.status, 200);
    await res.text();
    const link = res.headers.get('x-client-dashboard-url');
    assert.ok(link, 'X-Client-Dashboard-Url on embeddings too');
    await gw.runtime.usage.flush();
    const { cookie } = await openLink(link);
    const page = await getPage(gw, '/client?range=24h', cookie);
    assert.equal(page.status, 200);
    assert.match(page.html, /demo\/demo-embed/);
  });
});

describe("OpenAI-compatible kinds' embedding quirks", () => {
  let mistral: MockOpenAI;
  let ollama: MockOpenAI;
  let gw: TestGateway;
  before(async () => {
    mistral = await startMockOpenAI({ flavour: 'mistral' });
    ollama = await startMockOpenAI({ ignoreEncodingFormat: true });
    const embedder = (name: string) => [
      { name, qualityRank: 50, mode: 'embedding' as const, price: { input: 0.1, output: 0 } },
    ];
    gw = await startGateway({
      providers: [
        mockProvider('mis', mistral.url, embedder('codestral-embed'), { kind: 'mistral' }),
        mockProvider('oll', ollama.url, embedder('nomic-embed-text'), { kind: 'ollama' }),
        mockProvider(
          'az',
          ollama.origin,
          [{ ...embedder('text-embedding-3-large')[0]!, upstreamName: 'my-embedder' }],
          { kind: 'azure', options: { apiVersion: '2024-10-21' } },
        ),
      ],
    });
  });
  after(async () => {
    await gw.close();
    await mistral.close();
    await ollama.close();
  });

  test('Mistral: dimensions travel as output_dimension, user is dropped (it rejects unknown fields)', async () => {
    const body = await gw.client.embeddings.create({ model: 'codestral-embed', input: 'x', dimensions: 8, user: 'u1' });
    assert.deepEqual(body.data[0]!.embedding, mockEmbedding('x', 'codestral-embed', 8));
    assert.deepEqual(mistral.requests.at(-1)!.body, {
      model: 'codestral-embed',
      input: 'x',
      output_dimension: 8,
      encoding_format: 'base64',
    });
  });

  test('Ollama: asked for floats; a base64 caller gets them encoded by the gateway', async () => {
    const res = await gw.post('/v1/embeddings', { model: 'nomic-embed-text', input: 'y', encoding_format: 'base64' });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { data: Array<{ embedding: string }> };
    assert.equal((ollama.requests.at(-1)!.body as { encoding_format: string }).encoding_format, 'float');
    const bytes = Buffer.from(body.data[0]!.embedding, 'base64');
    assert.deepEqual(
      Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4)),
      mockEmbedding('y', 'nomic-embed-text'),
    );
  });

  test('Azure: the deployment path with api-key and api-version', async () => {
    ollama.options.ignoreEncodingFormat = false;
    const body = await gw.client.embeddings.create({ model: 'text-embedding-3-large', input: 'z' });
    const sent = ollama.requests.at(-1)!;
    assert.equal(sent.path, '/openai/deployments/my-embedder/embeddings?api-version=2024-10-21');
    assert.ok(sent.headers['api-key']);
    assert.equal(sent.headers.authorization, undefined);
    assert.equal((sent.body as { model: string }).model, 'my-embedder');
    assert.deepEqual(body.data[0]!.embedding, mockEmbedding('z', 'my-embedder'));
    ollama.options.ignoreEncodingFormat = true;
  });
});
