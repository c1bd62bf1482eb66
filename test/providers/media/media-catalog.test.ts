import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mediaCostNanoUsd, mediaRate } from '../../../src/billing/media-cost.ts';
import { buildCatalog } from '../../../src/catalog/catalog.ts';
import { parseConfig } from '../../../src/config/load.ts';
import type { ConfigInput } from '../../../src/config/schema.ts';
import type { EmbeddingRequest } from '../../../src/core/ir.ts';
import { parseOpenAIRequest } from '../../../src/protocols/openai-chat/parse-openai-request.ts';
import { mediaCandidates } from '../../../src/providers/media/index.ts';
import { adapterFor } from '../../../src/providers/registry.ts';
import { ruleTierChooser } from '../../../src/router/auto/rules.ts';
import { buildCandidateTable } from '../../../src/router/presets.ts';
import { Router } from '../../../src/router/router.ts';
import { TokenCounter } from '../../../src/tokens/token-counter.ts';

/**
 * Media models in the catalog: a mode per kind, per-unit prices from the price library, the descriptors or the
 * configuration, and never a chat or embeddings candidate.
 */

const input: ConfigInput = {
  providers: [
    { id: 'openai', kind: 'openai', keys: ['sk-test'] },
    {
      id: 'rep',
      kind: 'replicate',
      keys: ['r8_test'],
      models: [
        {
          name: 'best-ever',
          upstreamName: 'owner/best:' + 'b'.repeat(64),
          mode: 'video',
          qualityRank: 100,
          mediaPrice: { perSecond: { '1280x720': 0.2, '*': 0.1 } },
        },
        { name: 'unpriced', upstreamName: 'owner/unpriced', mode: 'image' },
      ],
    },
  ],
  demo: { enabled: false },
};

function setup() {
  const config = parseConfig(input, {});
  const catalog = buildCatalog(config, {});
  const router = new Router({
    catalog,
    table: buildCandidateTable(catalog, config.routing),
    chooser: ruleTierChooser,
    defaultPreset: config.routing.defaultPreset,
    adapterFor,
    tokens: new TokenCounter({ budgetMs: 1_000 }),
  });
  return { catalog, router, config };
}

describe('media models in the catalog', () => {
  test('each has its mode and a price from the library, the descriptor or the configuration; an unpriced one is left out', () => {
    const { catalog } = setup();
    const mode = (id: string) => catalog.byId.get(id)?.mode;
    assert.deepEqual(
      ['openai/gpt-image-1', 'openai/tts-1', 'openai/whisper-1', 'openai/sora-2', 'rep/best-ever'].map(mode),
      ['image', 'speech', 'transcription', 'video', 'video'],
    );
    // The library: gpt-image-1's image input tokens, whisper-1's audio hours.
    assert.equal(catalog.byId.get('openai/gpt-image-1')?.mediaPrice?.inputImageTokens, 10);
    assert.equal(catalog.byId.get('openai/gpt-image-1')?.price.output, 40);
    assert.ok(Math.abs((catalog.byId.get('openai/whisper-1')!.mediaPrice!.perSecond as number) - 0.0001) < 1e-12);
    // The descriptor: dall-e-3 per image.
    assert.equal(mediaRate(catalog.byId.get('openai/dall-e-3')!.mediaPrice!.perImage, '1792x1024', 'hd'), 0.12);
    // The configuration.
    assert.equal(mediaRate(catalog.byId.get('rep/best-ever')!.mediaPrice!.perSecond, '1280x720'), 0.2);
    assert.equal(catalog.byId.get('rep/unpriced'), undefined);
    assert.ok(catalog.warnings.some((w) => w.includes('rep/unpriced')));
  });

  test('tiers never list a media model, even with the best rank; a chat request naming one is told to use executions', async () => {
    const { router } = setup();
    for (const tier of ['utility', 'fast', 'deep']) {
      const decision = await router.route(
        parseOpenAIRequest({ model: tier, messages: [{ role: 'user', content: 'hi' }] }),
      );
      assert.ok(decision.candidates.length > 0);
      assert.ok(
        decision.candidates.every((m) => (m.mode ?? 'chat') === 'chat'),
        tier,
      );
    }
    await assert.rejects(
      router.route(parseOpenAIRequest({ model: 'gpt-image-1', messages: [{ role: 'user', content: 'hi' }] })),
      /is an image model: run it with POST \/v1\/executions/,
    );
    await assert.rejects(
      router.route(parseOpenAIRequest({ model: 'rep/best-ever', messages: [{ role: 'user', content: 'hi' }] })),
      /is a video model/,
    );
    const embedding: EmbeddingRequest = { model: 'tts-1', input: ['x'] } as unknown as EmbeddingRequest;
    assert.throws(() => router.routeEmbeddings(embedding), /is a speech model and cannot create embeddings/);
  });

  test('a Replicate token alone leaves the demo in place (it serves no chat); with OpenAI the demo steps aside', () => {
    const alone = buildCatalog(parseConfig({}, {}), { REPLICATE_API_TOKEN: 'r8_x' });
    assert.deepEqual([...alone.providers.keys()].sort(), ['demo', 'replicate']);
    assert.equal(alone.byId.get('replicate/flux-1.1-pro')?.mode, 'image');
    const both = buildCatalog(parseConfig({}, {}), { REPLICATE_API_TOKEN: 'r8_x', OPENAI_API_KEY: 'sk-x' });
    assert.deepEqual([...both.providers.keys()].sort(), ['openai', 'replicate']);
  });

  test('mediaCandidates: a catalog id, or a bare name on every provider serving it; nothing for chat models or tiers', () => {
    const config = parseConfig(
      {
        providers: [
          { id: 'openai', kind: 'openai', keys: ['sk-a'] },
          {
            id: 'azure',
            kind: 'azure',
            baseUrl: 'https://x.openai.azure.com',
            keys: ['k'],
            models: [{ name: 'dall-e-3', mode: 'image', mediaPrice: { perImage: 0.05 } }],
          },
        ],
      },
      {},
    );
    const catalog = buildCatalog(config, {});
    assert.deepEqual(mediaCandidates(catalog, 'openai/whisper-1'), [{ id: 'openai/whisper-1', kind: 'transcription' }]);
    assert.deepEqual(
      mediaCandidates(catalog, 'dall-e-3')
        .map((m) => m.id)
        .sort(),
      ['azure/dall-e-3', 'openai/dall-e-3'],
    );
    assert.deepEqual(mediaCandidates(catalog, 'gpt-4o-mini'), []);
    assert.deepEqual(mediaCandidates(catalog, 'fast'), []);
    assert.deepEqual(mediaCandidates(catalog, 'nope'), []);
  });

  test('the mode is checked in configuration; cost rounds once to integer nano-dollars', () => {
    assert.throws(
      () =>
        parseConfig({ providers: [{ kind: 'openai', keys: ['k'], models: [{ name: 'x', mode: 'hologram' }] }] }, {}),
      /mode/,
    );
    const model = {
      price: { input: 0.3, cachedInput: 0.3, cacheWrite: 0.3, output: 2.5 },
      mediaPrice: { perImage: 0.039 },
    };
    assert.equal(mediaCostNanoUsd({ images: 3, textInputTokens: 7 }, model), 117_002_100);
  });
});
