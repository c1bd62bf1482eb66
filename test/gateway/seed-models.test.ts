import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildCatalog, resolveModelRef } from '../../src/catalog/catalog.ts';
import { parseConfig } from '../../src/config/load.ts';
import { mockProvider, startGateway, type TestGateway } from '../helpers/gateway.ts';
import { validateChatCompletion, validateChatCompletionChunk } from '../helpers/openai-schema.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';

/**
 * Every model the seeds name resolves once its provider is configured (issue 21): here by the provider's usual
 * environment variable alone. Then xAI, Cerebras, Qwen (Alibaba's OpenAI-compatible endpoint) and DeepSeek's
 * `deepseek-v3` through the gateway, each against a mock of its wire (xAI replaying recorded answers).
 */

const SEEDS = ['gpt-5', 'claude-opus-4-7', 'gemini-2.5-pro', 'deepseek-v3', 'grok-4', 'qwen-max'];

describe('the seeds’ models resolve out of the box', () => {
  it('with each provider switched on by its environment variable only', () => {
    const env = {
      OPENAI_API_KEY: 'sk-test-openai-0123456789',
      ANTHROPIC_API_KEY: 'sk-ant-test-0123456789',
      GEMINI_API_KEY: 'AIza-test-0123456789',
      DEEPSEEK_API_KEY: 'sk-test-deepseek-0123456789',
      XAI_API_KEY: 'xai-test-0123456789',
      DASHSCOPE_API_KEY: 'sk-test-dashscope-0123456789',
    };
    const catalog = buildCatalog(parseConfig({ demo: { enabled: false } }, env), env);
    for (const seed of SEEDS) {
      const [model] = resolveModelRef(catalog, seed);
      assert.ok(model, `${seed} does not resolve; warnings: ${catalog.warnings.join(' | ')}`);
      assert.ok(model.price.input > 0 && model.price.output > 0, `${seed} has no price`);
      assert.ok(!model.unranked && model.qualityRank > 0);
    }
    assert.equal(resolveModelRef(catalog, 'deepseek-v3')[0]!.upstreamName, 'deepseek-chat');
    assert.equal(resolveModelRef(catalog, 'qwen-max')[0]!.provider, 'qwen');
  });
});

describe('xAI, Cerebras, Qwen and DeepSeek through the gateway', () => {
  let xai: MockOpenAI;
  let cerebras: MockOpenAI;
  let qwen: MockOpenAI;
  let deepseek: MockOpenAI;
  let gw: TestGateway;
  const XAI_KEY = 'xai-mock-0123456789abcdefghij';

  before(async () => {
    xai = await startMockOpenAI({ apiKeys: [XAI_KEY], replay: 'xai/xai-text' });
    cerebras = await startMockOpenAI();
    qwen = await startMockOpenAI();
    deepseek = await startMockOpenAI({ flavour: 'deepseek' });
    const known = (kind: string, id: string, url: string) => ({
      ...mockProvider(id, url, []),
      kind: kind as 'openai',
      models: undefined,
    });
    gw = await startGateway({
      demo: { enabled: false },
      providers: [
        { ...known('xai', 'xai', xai.url), keys: [XAI_KEY] },
        known('cerebras', 'cerebras', cerebras.url),
        known('qwen', 'qwen', qwen.url),
        known('deepseek', 'deepseek', deepseek.url),
      ],
    });
  });
  after(async () => {
    await gw?.close();
    for (const mock of [xai, cerebras, qwen, deepseek]) await mock?.close();
  });

  it('xAI (grok-4): its recorded answer, and the reasoning it reports apart from completion_tokens is billed', async () => {
    const res = await gw.post('/v1/chat/completions', {
      model: 'grok-4',
      messages: [{ role: 'user', content: 'Say a single word.' }],
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      choices: Array<{ message: { content: string } }>;
      usage: Record<string, number>;
    };
    // Same protocol in and out: xAI's own body, passed through (it has no `logprobs`, so OpenAI's schema is not
    // asked of it here; translated answers are validated in provider-matrix.test.ts).
    assert.equal(body.choices[0]!.message.content, 'Hello');
    assert.equal(body.usage['completion_tokens'], 1, 'xAI’s own usage object, as it sent it');
    assert.equal(res.headers.get('x-model-router-provider'), 'xai');
    assert.equal((xai.requests.at(-1)!.body as { model: string }).model, 'grok-4');
    assert.equal(xai.requests.at(-1)!.headers.authorization, `Bearer ${XAI_KEY}`);
    // 12 prompt, 1 visible + 228 reasoning tokens at grok-4's price ($3 in, $15 out per million).
    const price = gw.runtime.catalog.byId.get('xai/grok-4')!.price;
    const expected = Math.round(
      (12 - 2) * price.input * 1000 + 2 * price.cachedInput * 1000 + 229 * price.output * 1000,
    );
    assert.equal(res.headers.get('x-model-router-cost'), (expected / 1e9).toFixed(9));
  });

  it('xAI streaming: chunks valid, the final usage chunk’s cost counts the reasoning', async () => {
    const stream = await gw.client.chat.completions.create({
      model: 'xai/grok-4',
      messages: [{ role: 'user', content: 'Say a single word.' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: { completion_tokens: number; cost?: number } | undefined;
    for await (const chunk of stream) {
      assert.ok(validateChatCompletionChunk(chunk).ok);
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(text, 'Hello');
    // The recorded stream: 12 prompt tokens (11 cached), 1 visible + 290 reasoning.
    const price = gw.runtime.catalog.byId.get('xai/grok-4')!.price;
    const nano = Math.round(1 * price.input * 1000 + 11 * price.cachedInput * 1000 + 291 * price.output * 1000);
    assert.equal(usage?.cost, nano / 1e9);
  });

  it('Cerebras: its rejected sampling hints are dropped, n > 1 is not sent to it', async () => {
    const data = await gw.client.chat.completions.create({
      model: 'cerebras/gpt-oss-120b',
      messages: [{ role: 'user', content: 'hi' }],
      frequency_penalty: 0.5,
      parallel_tool_calls: false,
    });
    assert.ok(validateChatCompletion(data).ok);
    const sent = cerebras.requests.at(-1)!.body as Record<string, unknown>;
    assert.equal(sent['model'], 'gpt-oss-120b');
    assert.equal(sent['frequency_penalty'], undefined);
    assert.equal(sent['parallel_tool_calls'], undefined);
    const calls = cerebras.requests.length;
    const two = await gw.post('/v1/chat/completions', {
      model: 'cerebras/gpt-oss-120b',
      n: 2,
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(two.status, 400);
    assert.equal(cerebras.requests.length, calls);
  });

  it('Qwen (Alibaba Model Studio): OpenAI format, its own price', async () => {
    const res = await gw.post('/v1/chat/completions', {
      model: 'qwen-max',
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(res.status, 200);
    assert.ok(validateChatCompletion(await res.json()).ok);
    assert.equal(res.headers.get('x-model-router-model'), 'qwen/qwen-max');
    assert.equal((qwen.requests.at(-1)!.body as { model: string }).model, 'qwen-max');
    assert.ok(Number(res.headers.get('x-model-router-cost')) > 0);
  });

  it('DeepSeek: deepseek-v3 is sent as deepseek-chat', async () => {
    const res = await gw.post('/v1/chat/completions', {
      model: 'deepseek-v3',
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(res.headers.get('x-model-router-model'), 'deepseek/deepseek-v3');
    assert.equal((deepseek.requests.at(-1)!.body as { model: string }).model, 'deepseek-chat');
  });
});
