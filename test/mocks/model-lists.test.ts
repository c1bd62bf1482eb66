import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import OpenAI from 'openai';
import { type MockAnthropic, startMockAnthropic } from './anthropic.ts';
import { MOCK_GEMINI_KEY, type MockGemini, startMockGemini } from './gemini.ts';
import { MOCK_API_KEY, type MockOpenAI, startMockOpenAI } from './openai-compatible.ts';

/**
 * The mocks' model-listing endpoints (what model discovery reads), checked by each provider's official SDK
 * acting as a client: `models.list` of openai, @anthropic-ai/sdk (paginated with after_id) and @google/genai
 * (paginated with pageToken).
 */

describe('OpenAI mock: GET /v1/models through the openai SDK', () => {
  let mock: MockOpenAI;
  before(async () => {
    mock = await startMockOpenAI({ models: ['gpt-4o-mini', 'gpt-4.1-mini'] });
  });
  after(() => mock.close());

  it('lists the models, and a model added between calls', async () => {
    const client = new OpenAI({ baseURL: mock.url, apiKey: MOCK_API_KEY, maxRetries: 0 });
    const ids = async () => {
      const out: string[] = [];
      for await (const model of client.models.list()) {
        assert.equal(model.object, 'model');
        assert.equal(typeof model.created, 'number');
        out.push(model.id);
      }
      return out;
    };
    assert.deepEqual(await ids(), ['gpt-4o-mini', 'gpt-4.1-mini']);
    mock.options.models = ['gpt-4o-mini', 'gpt-4.1-mini', 'gpt-5-nano'];
    assert.deepEqual(await ids(), ['gpt-4o-mini', 'gpt-4.1-mini', 'gpt-5-nano']);
  });

  it('refuses a wrong key as OpenAI does', async () => {
    const client = new OpenAI({ baseURL: mock.url, apiKey: 'sk-wrong', maxRetries: 0 });
    await assert.rejects(client.models.list(), (err: unknown) => err instanceof OpenAI.AuthenticationError);
  });
});

describe('Anthropic mock: GET /v1/models through @anthropic-ai/sdk', () => {
  let mock: MockAnthropic;
  before(async () => {
    mock = await startMockAnthropic({ models: ['claude-opus-4-7', 'claude-sonnet-4-5', 'claude-haiku-4-5'] });
  });
  after(() => mock.close());

  it('pages with limit and after_id; the SDK follows has_more to the end', async () => {
    const client = new Anthropic({ baseURL: mock.url, apiKey: mock.apiKey, maxRetries: 0 });
    const out: string[] = [];
    for await (const model of client.models.list({ limit: 2 })) {
      assert.equal(model.type, 'model');
      assert.ok(!Number.isNaN(Date.parse(model.created_at)));
      assert.equal(typeof model.display_name, 'string');
      out.push(model.id);
    }
    assert.deepEqual(out, ['claude-opus-4-7', 'claude-sonnet-4-5', 'claude-haiku-4-5']);
    const listings = mock.requests.filter((r) => r.path === '/v1/models');
    assert.equal(listings.length, 2, 'two pages of two and one');
    const first = await client.models.list({ limit: 2 });
    assert.equal(first.has_more, true);
    assert.equal(first.last_id, 'claude-sonnet-4-5');
    const retrieved = await client.models.list({ limit: 5, after_id: 'claude-opus-4-7' });
    assert.deepEqual(
      retrieved.data.map((m) => m.id),
      ['claude-sonnet-4-5', 'claude-haiku-4-5'],
    );
    assert.equal(retrieved.has_more, false);
  });

  it('refuses a wrong key with authentication_error', async () => {
    const client = new Anthropic({ baseURL: mock.url, apiKey: 'sk-ant-wrong', maxRetries: 0 });
    await assert.rejects(client.models.list(), (err: unknown) => err instanceof Anthropic.AuthenticationError);
  });
});

describe('Gemini mock: models.list through @google/genai', () => {
  let mock: MockGemini;
  before(async () => {
    mock = await startMockGemini();
  });
  after(() => mock.close());

  it('pages with pageSize and pageToken; each model says which methods it supports', async () => {
    const ai = new GoogleGenAI({ apiKey: MOCK_GEMINI_KEY, httpOptions: { baseUrl: mock.baseUrl } });
    mock.models = ['gemini-2.5-pro', 'gemini-2.5-flash', 'gemini-3-flash', 'gemini-embedding-001'];
    const pager = await ai.models.list({ config: { pageSize: 3 } });
    const names: string[] = [];
    const methods = new Map<string, string[]>();
    for await (const model of pager) {
      names.push(model.name!);
      methods.set(model.name!, model.supportedActions ?? []);
      assert.ok((model.inputTokenLimit ?? 0) > 0);
    }
    assert.deepEqual(names, [
      'models/gemini-2.5-pro',
      'models/gemini-2.5-flash',
      'models/gemini-3-flash',
      'models/gemini-embedding-001',
    ]);
    assert.ok(methods.get('models/gemini-2.5-pro')!.includes('generateContent'));
    assert.ok(methods.get('models/gemini-embedding-001')!.includes('embedContent'));
    const listings = mock.requests.length;
    assert.equal(listings, 0, 'listings are not recorded as generate requests');
  });

  it('refuses a wrong key as Google does', async () => {
    const ai = new GoogleGenAI({ apiKey: 'wrong', httpOptions: { baseUrl: mock.baseUrl } });
    await assert.rejects(ai.models.list());
  });
});
