import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { findUsageRecord } from '../../src/store/usage-queries.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { MOCK_BEDROCK_CREDENTIALS, type MockBedrock, startMockBedrock } from '../mocks/bedrock.ts';
import { bedrockMockEmbedding } from '../mocks/bedrock-embeddings.ts';
import { countTokens } from '../mocks/openai-compatible.ts';

/**
 * OpenAI-format embeddings served by Bedrock through InvokeModel: Titan (one text a call) and Cohere (96 texts a
 * call), signed with SigV4, checked against the Bedrock mock; the openai SDK is the client.
 */

const TITAN = 'amazon.titan-embed-text-v2:0';
const COHERE = 'cohere.embed-english-v3';

describe('POST /v1/embeddings on Bedrock (Titan, Cohere)', () => {
  let bedrock: MockBedrock;
  let gw: TestGateway;

  before(async () => {
    bedrock = await startMockBedrock();
    gw = await startGateway({
      providers: [
        {
          id: 'aws',
          kind: 'bedrock',
          baseUrl: bedrock.url,
          keys: [
            { key: MOCK_BEDROCK_CREDENTIALS.accessKeyId, secretAccessKey: MOCK_BEDROCK_CREDENTIALS.secretAccessKey },
          ],
          options: { region: bedrock.region },
          timeouts: { connectMs: 2_000, firstByteMs: 3_000, totalMs: 10_000 },
          includeKnownModels: true,
          models: [],
        },
      ],
    });
  });
  after(async () => {
    await gw.close();
    await bedrock.close();
  });

  test('Titan: one signed InvokeModel per input, vectors in order, dimensions, tokens from Bedrock priced', async () => {
    const input = ['first document', 'second one here', 'third'];
    const before = bedrock.requests.length;
    const { data: body, response } = await gw.client.embeddings
      .create({ model: TITAN, input, dimensions: 256 })
      .withResponse();
    assert.deepEqual(
      body.data.map((d) => d.embedding),
      input.map((t) => bedrockMockEmbedding(t, TITAN, 256)),
    );
    const calls = bedrock.requests.slice(before);
    assert.equal(calls.length, 3);
    assert.ok(calls.every((c) => c.operation === 'InvokeModel' && c.auth === 'sigv4' && c.modelId === TITAN));
    assert.deepEqual(calls.map((c) => c.body?.['inputText']).sort(), [...input].sort());
    assert.equal(calls[0]!.body?.['dimensions'], 256);
    const tokens = input.reduce((n, t) => n + countTokens(t), 0);
    assert.equal(body.usage.prompt_tokens, tokens);
    await gw.runtime.usage.flush();
    const record = await findUsageRecord(gw.runtime.store.db, response.headers.get('x-request-id')!);
    assert.equal(record?.modelId, `aws/${TITAN}`);
    assert.equal(record?.inputTokens, tokens);
    const price = gw.runtime.catalog.byId.get(`aws/${TITAN}`)!.price.input;
    assert.ok(price > 0);
    assert.equal(record?.costNanoUsd, Math.round(tokens * price * 1000));
  });

  test('Cohere: texts batched by 96 with input_type (the caller’s, else search_document), reassembled in order', async () => {
    const input = Array.from({ length: 100 }, (_, i) => `doc ${i}`);
    const before = bedrock.requests.length;
    const body = await gw.client.embeddings.create({ model: COHERE, input, encoding_format: 'float' });
    const calls = bedrock.requests.slice(before);
    assert.deepEqual(
      calls.map((c) => (c.body!['texts'] as unknown[]).length).sort((a, b) => b - a),
      [96, 4],
    );
    assert.ok(calls.every((c) => c.body?.['input_type'] === 'search_document'));
    body.data.forEach((d, i) => {
      assert.deepEqual(d.embedding, bedrockMockEmbedding(input[i]!, COHERE));
    });

    const query = await gw.post('/v1/embeddings', { model: COHERE, input: 'a query', input_type: 'search_query' });
    assert.equal(query.status, 200);
    assert.equal(bedrock.requests.at(-1)!.body?.['input_type'], 'search_query');
  });

  test('what Bedrock cannot take is refused before any call: token ids, Titan dimensions outside 256/512/1024', async () => {
    const before = bedrock.requests.length;
    for (const [body, param] of [
      [{ model: TITAN, input: [[1, 2]] }, 'input'],
      [{ model: TITAN, input: 'x', dimensions: 300 }, 'dimensions'],
      [{ model: COHERE, input: 'x', dimensions: 256 }, 'dimensions'],
    ] as const) {
      const res = await gw.post('/v1/embeddings', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      const error = (await res.json()) as { error: { code: string; message: string; param: string } };
      assert.equal(error.error.code, 'invalid_request');
      assert.equal(error.error.param, param);
      assert.match(error.error.message, /token ids|dimensions/);
    }
    assert.equal(bedrock.requests.length, before);
  });

  test('a throttled call fails the whole request as rate_limited (one provider, nothing to fail over to)', async () => {
    bedrock.faults.push({ kind: 'status', status: 429 });
    const res = await gw.post('/v1/embeddings', { model: COHERE, input: ['a', 'b'] });
    assert.equal(res.status, 429);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'rate_limited');
  });
});
