import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { findUsageRecord } from '../../src/store/usage-queries.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { validateEmbeddingResponse } from '../helpers/openai-schema.ts';
import { MOCK_GEMINI_KEY, type MockGemini, startMockGemini } from '../mocks/gemini.ts';
import { GEMINI_MAX_BATCH, geminiEmbeddingTokens, geminiMockEmbedding } from '../mocks/gemini-embeddings.ts';

/**
 * OpenAI-format embeddings served by a Gemini provider: the openai SDK against the gateway, the Gemini mock
 * behind it. The request becomes batchEmbedContents (in batches of at most 100), the vectors come back in
 * input order in OpenAI's shape and encoding, and usage is Gemini's own count when it reports one.
 */

const MODEL = 'gemini-embedding-001';
const PRICE = 0.15;

function geminiProvider(id: string, baseUrl: string) {
  return {
    id,
    kind: 'gemini' as const,
    baseUrl,
    keys: [MOCK_GEMINI_KEY],
    timeouts: { connectMs: 2_000, firstByteMs: 3_000, totalMs: 10_000 },
    models: [{ name: MODEL, mode: 'embedding' as const, contextWindow: 2_048, price: { input: PRICE, output: 0 } }],
  };
}

describe('POST /v1/embeddings on a Gemini provider (batchEmbedContents)', () => {
  let gemini: MockGemini;
  let counted: MockGemini;
  let gw: TestGateway;
  let gwCounted: TestGateway;

  before(async () => {
    gemini = await startMockGemini();
    counted = await startMockGemini({ embeddingUsage: true });
    gw = await startGateway({ providers: [geminiProvider('gem', gemini.baseUrl)] });
    gwCounted = await startGateway({ providers: [geminiProvider('gem', counted.baseUrl)] });
  });
  after(async () => {
    await gw.close();
    await gwCounted.close();
    await gemini.close();
    await counted.close();
  });

  test('strings become one batchEmbedContents call; vectors in OpenAI’s shape, float and base64', async () => {
    const input = ['first text', 'second one', 'third'];
    const res = await gw.post('/v1/embeddings', { model: MODEL, input, encoding_format: 'float', dimensions: 16 });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { data: Array<{ embedding: number[]; index: number }>; model: string };
    const valid = validateEmbeddingResponse(body);
    assert.ok(valid.ok, valid.errors);
    assert.equal(body.model, MODEL);
    assert.deepEqual(
      body.data.map((d) => d.embedding),
      input.map((t) => geminiMockEmbedding(t, MODEL, 16)),
    );
    const sent = gemini.requests.at(-1)!;
    assert.equal(sent.action, 'batchEmbedContents');
    assert.equal(sent.path, `/v1beta/models/${MODEL}:batchEmbedContents`);
    assert.equal(sent.keySource, 'header');
    assert.deepEqual(sent.body, {
      requests: input.map((text) => ({
        model: `models/${MODEL}`,
        content: { parts: [{ text }] },
        outputDimensionality: 16,
      })),
    });
    // The SDK's default: base64 on the wire, decoded by the SDK into the same float32 values.
    const sdk = await gw.client.embeddings.create({ model: MODEL, input: 'first text' });
    assert.deepEqual(
      sdk.data[0]!.embedding,
      geminiMockEmbedding('first text', MODEL).map((v) => Math.fround(v)),
    );
  });

  test('more inputs than one batch holds are split within the limit and reassembled in order', async () => {
    const input = Array.from({ length: 2 * GEMINI_MAX_BATCH + 7 }, (_, i) => `text number ${i}`);
    const before = gemini.requests.length;
    const body = await gw.client.embeddings.create({ model: MODEL, input, dimensions: 4, encoding_format: 'float' });
    const calls = gemini.requests.slice(before);
    assert.deepEqual(
      calls.map((c) => (c.body!['requests'] as unknown[]).length).sort((a, b) => b - a),
      [GEMINI_MAX_BATCH, GEMINI_MAX_BATCH, 7],
    );
    assert.equal(body.data.length, input.length);
    body.data.forEach((d, i) => {
      assert.equal(d.index, i);
      assert.deepEqual(d.embedding, geminiMockEmbedding(input[i]!, MODEL, 4));
    });
  });

  test('Gemini’s own token count is used and priced when it reports one; a local count otherwise', async () => {
    const input = ['one two three', 'four five'];
    const { data: body, response } = await gwCounted.client.embeddings.create({ model: MODEL, input }).withResponse();
    const tokens = input.reduce((n, t) => n + geminiEmbeddingTokens(t), 0);
    assert.equal(body.usage.prompt_tokens, tokens);
    await gwCounted.runtime.usage.flush();
    const record = await findUsageRecord(gwCounted.runtime.store.db, response.headers.get('x-request-id')!);
    assert.equal(record?.protocol, 'openai-embeddings');
    assert.equal(record?.providerId, 'gem');
    assert.equal(record?.inputTokens, tokens);
    assert.equal(record?.costNanoUsd, Math.round(tokens * PRICE * 1000));

    const local = await gw.client.embeddings.create({ model: MODEL, input });
    assert.ok(local.usage.prompt_tokens > 0, 'counted locally when Gemini reports nothing');
  });

  test('token-id input cannot go to Gemini: a clear 400 and no upstream call', async () => {
    const before = gemini.requests.length;
    const res = await gw.post('/v1/embeddings', { model: MODEL, input: [[1, 2, 3]] });
    assert.equal(res.status, 400);
    const error = (await res.json()) as { error: { code: string; message: string; param: string } };
    assert.equal(error.error.code, 'invalid_request');
    assert.match(error.error.message, /gemini embeds text, not token ids/);
    assert.equal(gemini.requests.length, before);
  });

  test('a Gemini 503 is provider_unavailable in OpenAI’s envelope, and a 400 passes as invalid_request', async () => {
    gemini.faults.push({ kind: 'status', status: 503 });
    const res = await gw.post('/v1/embeddings', { model: MODEL, input: 'x' });
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'provider_unavailable');
    gemini.faults.push({ kind: 'status', status: 400 });
    const bad = await gw.post('/v1/embeddings', { model: MODEL, input: 'x' });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'invalid_request');
  });
});
