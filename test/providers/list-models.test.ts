import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { listAnthropicModels } from '../../src/providers/anthropic/list-anthropic-models.ts';
import { listGeminiModels } from '../../src/providers/gemini/list-gemini-models.ts';
import { UpstreamPool } from '../../src/providers/http.ts';
import type { ProviderKind } from '../../src/providers/kinds/index.ts';
import { listOpenAIModels } from '../../src/providers/openai-compatible/list-openai-models.ts';
import { providerKey } from '../../src/providers/provider-key.ts';
import type { ProviderSpec } from '../../src/providers/types.ts';
import { type MockAnthropic, startMockAnthropic } from '../mocks/anthropic.ts';
import { MOCK_GEMINI_KEY, type MockGemini, startMockGemini } from '../mocks/gemini.ts';
import { MOCK_API_KEY, type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';

/** The three wires' model listings against their mocks: paging to the end, filtering, errors without the key. */

const spec = (kind: ProviderKind, baseUrl: string): ProviderSpec => ({
  id: kind,
  kind,
  baseUrl,
  keys: [],
  options: {},
  timeouts: { connectMs: 2_000, firstByteMs: 5_000, totalMs: 10_000 },
  limits: { maxEventBytes: 1 << 20, maxStreamBytes: 1 << 24, maxBodyBytes: 1 << 24 },
});
const many = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

describe('listing models per wire', () => {
  let pool: UpstreamPool;
  let openai: MockOpenAI;
  let anthropic: MockAnthropic;
  let gemini: MockGemini;
  const ctx = () => ({ pool, signal: AbortSignal.timeout(10_000) });

  before(async () => {
    pool = new UpstreamPool();
    openai = await startMockOpenAI({
      models: ['gpt-4o-mini', 'whisper-1', 'tts-1-hd', 'dall-e-3', 'gpt-4o-realtime-preview', 'text-embedding-3-small'],
    });
    anthropic = await startMockAnthropic({ models: many('claude-x', 1_203) });
    gemini = await startMockGemini();
  });
  after(async () => {
    await pool.close();
    await openai.close();
    await anthropic.close();
    await gemini.close();
  });

  it('OpenAI family: text and embedding models, not speech, images or realtime', async () => {
    const listed = await listOpenAIModels(spec('openai', openai.url), providerKey('o#1', MOCK_API_KEY), ctx());
    assert.deepEqual(listed, [{ name: 'gpt-4o-mini' }, { name: 'text-embedding-3-small', mode: 'embedding' }]);
    assert.deepEqual(
      await listOpenAIModels(spec('azure', openai.origin), providerKey('a#1', MOCK_API_KEY), ctx()),
      [],
      'Azure deployments are not listed',
    );
  });

  it('Anthropic: follows has_more / after_id to the last page', async () => {
    const listed = await listAnthropicModels(
      spec('anthropic', anthropic.url),
      providerKey('an#1', anthropic.apiKey),
      ctx(),
    );
    assert.equal(listed.length, 1_203);
    assert.equal(listed.at(-1)!.name, 'claude-x-1202');
    assert.equal(anthropic.requests.filter((r) => r.path === '/v1/models').length, 2);
  });

  it('Gemini: follows nextPageToken; generateContent models are chat, embedContent ones embeddings, others left out', async () => {
    gemini.models = [...many('gemini-x', 1_001), 'gemini-embedding-001'];
    const listed = await listGeminiModels(spec('gemini', gemini.baseUrl), providerKey('g#1', MOCK_GEMINI_KEY), ctx());
    assert.equal(listed.length, 1_002);
    assert.deepEqual(listed.at(-1), { name: 'gemini-embedding-001', mode: 'embedding' });
    assert.deepEqual(listed[0], { name: 'gemini-x-0' });
  });

  it('a rejected key is authentication_failed with keyRejected, naming the status, never the key', async () => {
    const secret = 'sk-wrong-key-that-must-not-leak-0123';
    await assert.rejects(
      listOpenAIModels(spec('openai', openai.url), providerKey('o#2', secret), ctx()),
      (err: Error & { code?: string; keyRejected?: boolean; upstreamStatus?: number }) => {
        assert.equal(err.code, 'authentication_failed');
        assert.equal(err.keyRejected, true);
        assert.equal(err.upstreamStatus, 401);
        assert.ok(!err.message.includes(secret));
        return true;
      },
    );
    openai.faults.push({ kind: 'status', status: 502 });
    await assert.rejects(
      listOpenAIModels(spec('openai', openai.url), providerKey('o#1', MOCK_API_KEY), ctx()),
      (err: Error & { code?: string; upstreamStatus?: number }) =>
        err.code === 'provider_unavailable' && err.upstreamStatus === 502,
    );
  });
});
