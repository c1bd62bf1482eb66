import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BedrockRuntimeClient, InvokeModelCommand, ValidationException } from '@aws-sdk/client-bedrock-runtime';
import { GoogleGenAI } from '@google/genai';
import OpenAI, { AzureOpenAI, BadRequestError } from 'openai';
import { validateEmbeddingResponse } from '../helpers/openai-schema.ts';
import { MOCK_BEDROCK_CREDENTIALS, MOCK_BEDROCK_REGION, type MockBedrock, startMockBedrock } from './bedrock.ts';
import { bedrockMockEmbedding } from './bedrock-embeddings.ts';
import { type MockGemini, startMockGemini } from './gemini.ts';
import { GEMINI_MAX_BATCH, geminiMockEmbedding } from './gemini-embeddings.ts';
import { embeddingTokens, MOCK_API_KEY, type MockOpenAI, mockEmbedding, startMockOpenAI } from './openai-compatible.ts';

/**
 * The mocks' embedding endpoints, checked by the providers' own SDKs acting as clients (openai, AzureOpenAI,
 * @google/genai), so the gateway's embeddings tests run against the real wire formats.
 */

describe('OpenAI mock: /v1/embeddings through the openai SDK', () => {
  let mock: MockOpenAI;
  let client: OpenAI;
  before(async () => {
    mock = await startMockOpenAI();
    client = new OpenAI({ baseURL: mock.url, apiKey: MOCK_API_KEY, maxRetries: 0 });
  });
  after(() => mock.close());

  it('floats, validated against OpenAI’s schema, and base64 the SDK decodes to the same values', async () => {
    const floats = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: ['a b', 'c'],
      encoding_format: 'float',
    });
    assert.ok(validateEmbeddingResponse(floats).ok);
    assert.deepEqual(floats.data[1]!.embedding, mockEmbedding('c', 'text-embedding-3-small'));
    assert.equal(floats.data[0]!.embedding.length, 1536);
    assert.deepEqual(floats.usage, {
      prompt_tokens: embeddingTokens('a b') + 1,
      total_tokens: embeddingTokens('a b') + 1,
    });
    const decoded = await client.embeddings.create({ model: 'text-embedding-3-large', input: 'c' });
    assert.equal((mock.requests.at(-1)!.body as { encoding_format: string }).encoding_format, 'base64');
    assert.deepEqual(decoded.data[0]!.embedding, mockEmbedding('c', 'text-embedding-3-large'));
    assert.equal(decoded.data[0]!.embedding.length, 3072);
  });

  it('rejects what OpenAI rejects: empty input, dimensions on ada-002', async () => {
    await assert.rejects(client.embeddings.create({ model: 'text-embedding-3-small', input: '' }), BadRequestError);
    await assert.rejects(
      client.embeddings.create({ model: 'text-embedding-ada-002', input: 'x', dimensions: 8 }),
      /does not support specifying dimensions/,
    );
  });

  it('AzureOpenAI embeds on the deployment path with api-key', async () => {
    const azure = new AzureOpenAI({
      endpoint: mock.origin,
      apiKey: MOCK_API_KEY,
      apiVersion: '2024-10-21',
      deployment: 'my-embedder',
      maxRetries: 0,
    });
    const body = await azure.embeddings.create({
      model: 'text-embedding-3-small',
      input: 'x',
      encoding_format: 'float',
    });
    assert.deepEqual(body.data[0]!.embedding, mockEmbedding('x', 'text-embedding-3-small'));
    const recorded = mock.requests.at(-1)!;
    assert.equal(recorded.path, '/openai/deployments/my-embedder/embeddings?api-version=2024-10-21');
    assert.equal(recorded.headers['api-key'], MOCK_API_KEY);
  });
});

describe('Gemini mock: embeddings through @google/genai', () => {
  let mock: MockGemini;
  let ai: GoogleGenAI;
  before(async () => {
    mock = await startMockGemini({ embeddingUsage: true });
    ai = new GoogleGenAI({ apiKey: mock.apiKey, httpOptions: { baseUrl: mock.baseUrl } });
  });
  after(() => mock.close());

  it('embedContent with several contents is batchEmbedContents; vectors in order', async () => {
    const response = await ai.models.embedContent({
      model: 'gemini-embedding-001',
      contents: ['hello there', 'general kenobi'],
      config: { outputDimensionality: 32 },
    });
    assert.equal(mock.requests.at(-1)!.action, 'batchEmbedContents');
    assert.deepEqual(
      response.embeddings?.map((e) => e.values),
      [
        geminiMockEmbedding('hello there', 'gemini-embedding-001', 32),
        geminiMockEmbedding('general kenobi', 'gemini-embedding-001', 32),
      ],
    );
  });

  it('more than 100 requests in a batch is Google’s 400', async () => {
    const contents = Array.from({ length: GEMINI_MAX_BATCH + 1 }, (_, i) => `t${i}`);
    await assert.rejects(ai.models.embedContent({ model: 'gemini-embedding-001', contents }), /at most 100 requests/);
  });
});

describe('Bedrock mock: InvokeModel for Titan and Cohere embeddings through @aws-sdk/client-bedrock-runtime', () => {
  let mock: MockBedrock;
  let client: BedrockRuntimeClient;
  before(async () => {
    mock = await startMockBedrock();
    client = new BedrockRuntimeClient({
      endpoint: mock.url,
      region: MOCK_BEDROCK_REGION,
      credentials: MOCK_BEDROCK_CREDENTIALS,
      maxAttempts: 1,
    });
  });
  after(() => mock.close());

  const invoke = async (modelId: string, body: unknown) => {
    const out = await client.send(
      new InvokeModelCommand({
        modelId,
        body: JSON.stringify(body),
        contentType: 'application/json',
        accept: 'application/json',
      }),
    );
    return JSON.parse(Buffer.from(out.body).toString('utf8')) as Record<string, unknown>;
  };

  it('Titan V2: one text, its dimensions, the token count; the SigV4 signature checked', async () => {
    const body = await invoke('amazon.titan-embed-text-v2:0', { inputText: 'hello world', dimensions: 256 });
    assert.deepEqual(body['embedding'], bedrockMockEmbedding('hello world', 'amazon.titan-embed-text-v2:0', 256));
    assert.equal(body['inputTextTokenCount'], 2);
    const recorded = mock.requests.at(-1)!;
    assert.equal(recorded.operation, 'InvokeModel');
    assert.equal(recorded.auth, 'sigv4');
    await assert.rejects(
      invoke('amazon.titan-embed-text-v2:0', { inputText: 'x', dimensions: 300 }),
      ValidationException,
    );
  });

  it('Cohere: texts in order, floats by type, at most 96 texts', async () => {
    const body = await invoke('cohere.embed-english-v3', {
      texts: ['a', 'b'],
      input_type: 'search_document',
      embedding_types: ['float'],
    });
    assert.equal(body['response_type'], 'embeddings_by_type');
    assert.deepEqual((body['embeddings'] as { float: number[][] }).float, [
      bedrockMockEmbedding('a', 'cohere.embed-english-v3'),
      bedrockMockEmbedding('b', 'cohere.embed-english-v3'),
    ]);
    await assert.rejects(
      invoke('cohere.embed-english-v3', { texts: Array(97).fill('x'), input_type: 'search_query' }),
      /maximum item count: 96/,
    );
  });
});
