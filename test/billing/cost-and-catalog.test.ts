import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { costNanoUsd, formatUsd } from '../../src/billing/cost.ts';
import { libraryPrice } from '../../src/billing/prices.ts';
import { buildCatalog } from '../../src/catalog/catalog.ts';
import { parseConfig } from '../../src/config/load.ts';
import { buildCandidateTable } from '../../src/router/presets.ts';

const usage = (input: number, cached: number, write: number, output: number, reasoning = 0) => ({
  inputTokens: input,
  cachedInputTokens: cached,
  cacheWriteTokens: write,
  outputTokens: output,
  reasoningTokens: reasoning,
});

describe('cost', () => {
  const price = { input: 3, cachedInput: 0.3, cacheWrite: 3.75, output: 15 };

  test('each token class at its own rate, in integer nano-dollars', () => {
    // 1000 uncached*3 + 2000 cached*0.3 + 500 written*3.75 + 400 out*15 = 3000+600+1875+6000 = 11475 (USD per 1e6) → 11475000 nano
    assert.equal(costNanoUsd(usage(3500, 2000, 500, 400), price), 11_475_000);
  });

  test('reasoning tokens are output and priced once', () => {
    assert.equal(costNanoUsd(usage(0, 0, 0, 100, 80), price), 1_500_000);
  });

  test('long-context tiers reprice the whole request', () => {
    const tiered = {
      ...price,
      tiers: [{ aboveInputTokens: 200_000, input: 6, cachedInput: 0.6, cacheWrite: 7.5, output: 22.5 }],
    };
    assert.equal(costNanoUsd(usage(200_000, 0, 0, 0), tiered), 600_000_000);
    assert.equal(costNanoUsd(usage(200_001, 0, 0, 0), tiered), 1_200_006_000);
  });

  test('USD formatting is exact fixed point', () => {
    assert.equal(formatUsd(17_300), '0.000017300');
    assert.equal(formatUsd(1_234_567_891), '1.234567891');
    assert.equal(formatUsd(0), '0.000000000');
  });

  test('sums of many requests stay exact', () => {
    let total = 0;
    for (let i = 0; i < 100_000; i++)
      total += costNanoUsd(usage(7, 0, 0, 3), { input: 0.15, cachedInput: 0.075, cacheWrite: 0.15, output: 0.6 });
    assert.equal(total, 100_000 * Math.round(7 * 150 + 3 * 600));
  });
});

describe('catalog', () => {
  test('prices come from the price library', () => {
    const p = libraryPrice('openai', 'gpt-4o-mini');
    assert.ok(p);
    assert.ok(p.input > 0 && p.output > p.input && p.cachedInput < p.input);
    const sonnet = libraryPrice('anthropic', 'claude-sonnet-4-5');
    assert.ok(sonnet?.tiers?.length, 'long-context tier known');
    assert.ok(sonnet.cacheWrite > sonnet.input);
  });

  test('no configuration: the demo provider with one model per tier, its embedding model and media models', () => {
    const catalog = buildCatalog(parseConfig({}, {}), {});
    assert.deepEqual([...catalog.providers.keys()], ['demo']);
    assert.deepEqual(
      catalog.models.map((m) => m.id),
      [
        'demo/demo-utility',
        'demo/demo-fast',
        'demo/demo-deep',
        'demo/demo-embed',
        'demo/demo-image',
        'demo/demo-speech',
      ],
    );
    assert.deepEqual(
      catalog.models.map((m) => m.mode ?? 'chat'),
      ['chat', 'chat', 'chat', 'embedding', 'image', 'speech'],
    );
  });

  test('embedding models: built-in ones priced per input token from the library; configured ones by mode', () => {
    const catalog = buildCatalog(
      parseConfig(
        {
          providers: [
            {
              kind: 'openai-compatible',
              baseUrl: 'http://127.0.0.1:1/v1',
              keys: ['k'],
              models: [
                { name: 'my-embedder', mode: 'embedding', price: { input: 0.05, output: 0 } },
                { name: 'chatty', price: { input: 1, output: 2 } },
              ],
            },
          ],
        },
        {},
      ),
      { OPENAI_API_KEY: 'sk-a' },
    );
    const small = catalog.byId.get('openai/text-embedding-3-small')!;
    assert.equal(small.mode, 'embedding');
    assert.equal(small.price.input, 0.02);
    assert.equal(small.maxOutputTokens, 0);
    assert.equal(small.capabilities.tools, false);
    assert.equal(catalog.byId.get('openai-compatible/my-embedder')?.mode, 'embedding');
    assert.equal(catalog.byId.get('openai-compatible/chatty')?.mode, undefined);
    const table = buildCandidateTable(catalog, {
      pin: { balanced: { fast: ['text-embedding-3-small'] } },
      tierFloors: { fast: 60, deep: 85 },
    });
    for (const preset of Object.values(table)) {
      for (const list of Object.values(preset))
        assert.ok(
          list.every((m) => m.mode !== 'embedding'),
          'no tier lists an embedding model',
        );
    }
  });

  test('an environment key adds that provider with priced built-in models, and the demo steps aside', () => {
    const catalog = buildCatalog(parseConfig({}, {}), { OPENAI_API_KEY: 'sk-a,sk-b' });
    assert.deepEqual([...catalog.providers.keys()], ['openai']);
    assert.equal(catalog.providers.get('openai')!.keys.length, 2);
    assert.ok(catalog.byId.get('openai/gpt-4o-mini'));
    // Chat and embedding models are priced per token; media models per image, second or character, or in
    // tokens from the library (gpt-image-1).
    assert.ok(
      catalog.models.filter((m) => !m.mediaPrice).every((m) => m.price.input > 0 || m.mode === 'transcription'),
    );
    assert.ok(catalog.models.filter((m) => m.mediaPrice).length > 0);
  });

  test('overrides and exclusions apply; a model with no known price is left out with a warning', () => {
    const config = parseConfig(
      {
        providers: [
          {
            id: 'oa',
            kind: 'openai',
            keys: ['k'],
            models: [{ name: 'gpt-4o-mini' }, { name: 'gpt-4o' }, { name: 'made-up-model' }],
          },
        ],
        catalog: { overrides: { 'oa/gpt-4o-mini': { qualityRank: 99 } }, exclude: ['oa/gpt-4o'] },
      },
      {},
    );
    const catalog = buildCatalog(config, {});
    assert.equal(catalog.byId.get('oa/gpt-4o-mini')!.qualityRank, 99);
    assert.equal(catalog.byId.get('oa/gpt-4o'), undefined);
    assert.equal(catalog.byId.get('oa/made-up-model'), undefined);
    assert.ok(catalog.warnings.some((w) => w.includes('oa/made-up-model')));
  });

  test('each provider carries the upstream caps: limits.upstream, with its own limits overriding any of them', () => {
    const config = parseConfig(
      {
        limits: { upstream: { maxEventBytes: 1_000 } },
        providers: [
          { id: 'plain', kind: 'openai', keys: ['k'] },
          { id: 'own', kind: 'openai', keys: ['k'], limits: { maxBodyBytes: 5_000 } },
        ],
      },
      {},
    );
    const catalog = buildCatalog(config, {});
    const defaults = { maxEventBytes: 1_000, maxStreamBytes: 256 * 1024 * 1024, maxBodyBytes: 32 * 1024 * 1024 };
    assert.deepEqual(catalog.providers.get('plain')!.limits, defaults);
    assert.deepEqual(catalog.providers.get('own')!.limits, { ...defaults, maxBodyBytes: 5_000 });
    assert.throws(() => parseConfig({ providers: [{ kind: 'openai', limits: { maxEventBytes: 0 } }] }, {}));
  });
});
