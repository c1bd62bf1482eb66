import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildCatalog } from '../../src/catalog/catalog.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import { GatewayError } from '../../src/core/errors.ts';
import { parseOpenAIRequest } from '../../src/protocols/openai-chat/parse-openai-request.ts';
import { adapterFor } from '../../src/providers/registry.ts';
import { ruleTierChooser } from '../../src/router/auto/rules.ts';
import { buildCandidateTable } from '../../src/router/presets.ts';
import { Router } from '../../src/router/router.ts';
import { TokenCounter } from '../../src/tokens/token-counter.ts';

const model = (name: string, rank: number, input: number, output: number, extra: Record<string, unknown> = {}) => ({
  name,
  qualityRank: rank,
  price: { input, output },
  contextWindow: 100_000,
  maxOutputTokens: 8_000,
  capabilities: { tools: true, vision: true, jsonSchema: true, streaming: true },
  ...extra,
});

function routerFor(input: ConfigInput) {
  const config = parseConfig(input, {});
  const catalog = buildCatalog(config, {});
  return new Router({
    catalog,
    table: buildCandidateTable(catalog, config.routing),
    chooser: ruleTierChooser,
    defaultPreset: config.routing.defaultPreset,
    adapterFor,
    tokens: new TokenCounter({ budgetMs: config.limits.tokenCountBudgetMs }),
  });
}

const base: ConfigInput = {
  providers: [
    {
      id: 'p',
      kind: 'openai',
      baseUrl: 'http://127.0.0.1:9/v1',
      keys: ['k'],
      models: [
        model('tiny', 40, 0.05, 0.1),
        model('small', 55, 0.1, 0.4),
        model('mid-cheap', 62, 0.3, 1.2),
        model('mid-good', 75, 1, 4),
        model('big', 85, 3, 15),
        model('huge', 95, 15, 75),
        model('blind', 70, 0.2, 0.8, {
          capabilities: { tools: false, vision: false, jsonSchema: false, streaming: true },
        }),
        model('short', 72, 0.25, 1, { contextWindow: 2_000 }),
      ],
    },
  ],
};

function req(body: Record<string, unknown>) {
  return parseOpenAIRequest({ messages: [{ role: 'user', content: 'hi' }], ...body });
}

const ids = (models: Array<{ id: string }>) => models.map((m) => m.id);

describe('router: presets derive candidate lists from the catalog', () => {
  const router = routerFor(base);

  test('balanced keeps to the tier, best value first', async () => {
    const d = await router.route(req({ model: 'fast' }));
    assert.equal(d.tier, 'fast');
    assert.equal(d.preset, 'balanced');
    for (const m of d.candidates) assert.ok(m.qualityRank >= 60 && m.qualityRank < 80, m.id);
  });

  test('cheapest reaches just below the tier and sorts by price', async () => {
    const d = await router.route(req({ model: 'fast:cheapest' }));
    assert.equal(d.candidates[0]!.id, 'p/small', 'rank 55 is within 10 of the fast floor and cheapest');
    const prices = d.candidates.map((m) => (3 * m.price.input + m.price.output) / 4);
    assert.deepEqual(
      prices,
      [...prices].sort((a, b) => a - b),
    );
  });

  test('quality reaches above the tier and sorts by rank', async () => {
    const d = await router.route(req({ model: 'fast:quality' }));
    assert.equal(d.candidates[0]!.id, 'p/huge');
    const ranks = d.candidates.map((m) => m.qualityRank);
    assert.deepEqual(
      ranks,
      [...ranks].sort((a, b) => b - a),
    );
  });

  test('a cheaper or better model added to the catalog changes routing with no code change', async () => {
    const before = await router.route(req({ model: 'deep:cheapest' }));
    const withBargain = routerFor({
      ...base,
      providers: [
        { ...base.providers![0]!, models: [...base.providers![0]!.models!, model('bargain', 82, 0.05, 0.1)] },
      ],
    });
    const after = await withBargain.route(req({ model: 'deep:cheapest' }));
    assert.notEqual(before.candidates[0]!.id, 'p/bargain');
    assert.equal(after.candidates[0]!.id, 'p/bargain');
  });

  test('operator pins win over the derived list', async () => {
    const pinned = routerFor({ ...base, routing: { pin: { balanced: { fast: ['p/big', 'tiny'] } } } });
    const d = await pinned.route(req({ model: 'fast' }));
    assert.deepEqual(ids(d.candidates), ['p/big', 'p/tiny']);
  });

  test('a tenant policy preset and per-tier model apply', async () => {
    const d = await router.route(req({ model: 'deep' }), { preset: 'cheapest', tierModels: { deep: 'p/huge' } });
    assert.equal(d.preset, 'cheapest');
    assert.equal(d.candidates[0]!.id, 'p/huge');
  });
});

describe('router: capability filtering', () => {
  const router = routerFor(base);

  test('tools, images and json_schema exclude models that lack them', async () => {
    const tools = await router.route(
      req({ model: 'fast', tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }] }),
    );
    assert.ok(!ids(tools.candidates).includes('p/blind'));
    const image = await router.route(
      req({
        model: 'fast',
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }],
      }),
    );
    assert.ok(!ids(image.candidates).includes('p/blind'));
    const plain = await router.route(req({ model: 'fast' }));
    assert.ok(ids(plain.candidates).includes('p/blind'));
  });

  test('a prompt longer than a context window excludes that model (real token count)', async () => {
    const long = 'lorem ipsum dolor sit amet '.repeat(600); // ~3k tokens, ~16k bytes
    const d = await router.route(req({ model: 'fast', messages: [{ role: 'user', content: long }] }));
    assert.ok(!ids(d.candidates).includes('p/short'));
    const small = await router.route(req({ model: 'fast' }));
    assert.ok(ids(small.candidates).includes('p/short'));
  });

  test('nothing fits → context_length_exceeded; nothing capable → invalid_request naming the feature', async () => {
    const enormous = 'word '.repeat(120_000);
    await assert.rejects(router.route(req({ model: 'fast', messages: [{ role: 'user', content: enormous }] })), (e) => {
      assert.ok(e instanceof GatewayError);
      assert.equal(e.code, 'context_length_exceeded');
      return true;
    });
    await assert.rejects(
      router.route(req({ model: 'p/blind', tools: [{ type: 'function', function: { name: 'f' } }] })),
      (e) => {
        assert.ok(e instanceof GatewayError);
        assert.equal(e.code, 'invalid_request');
        assert.match(e.message, /tools/);
        return true;
      },
    );
  });

  test('provider quirks exclude a provider lacking a feature the request uses (Groq and logprobs)', async () => {
    const groq = routerFor({
      providers: [
        { id: 'g', kind: 'groq', keys: ['k'], models: [model('m', 70, 0.1, 0.1)] },
        { id: 'o', kind: 'openai', keys: ['k'], models: [model('m', 70, 0.2, 0.2)] },
      ],
    });
    const plain = await groq.route(req({ model: 'fast' }));
    assert.deepEqual(ids(plain.candidates), ['g/m', 'o/m']);
    const withLogprobs = await groq.route(req({ model: 'fast', logprobs: true }));
    assert.deepEqual(ids(withLogprobs.candidates), ['o/m']);
  });

  test('auto escalates to a tier that can serve the request', async () => {
    const visionOnlyDeep = routerFor({
      providers: [
        {
          id: 'p',
          kind: 'openai',
          keys: ['k'],
          models: [
            model('u', 40, 0.1, 0.1, {
              capabilities: { vision: false, tools: true, jsonSchema: true, streaming: true },
            }),
            model('d', 90, 5, 5),
          ],
        },
      ],
    });
    const d = await visionOnlyDeep.route(
      req({
        model: 'auto',
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }],
      }),
    );
    assert.equal(d.candidates[0]!.id, 'p/d');
    assert.equal(d.chooser, 'rules');
    assert.equal(typeof d.score, 'number');
  });
});

describe('router: the model field', () => {
  const router = routerFor(base);

  test('catalog ids, bare names, tiers with presets, auto', async () => {
    assert.deepEqual(ids((await router.route(req({ model: 'p/big' }))).candidates), ['p/big']);
    assert.deepEqual(ids((await router.route(req({ model: 'big' }))).candidates), ['p/big']);
    assert.equal((await router.route(req({ model: 'deep:quality' }))).preset, 'quality');
    const auto = await router.route(req({ model: 'auto:cheapest' }));
    assert.equal(auto.preset, 'cheapest');
    assert.ok(auto.tier);
  });

  test('unknown models and presets are refused clearly', async () => {
    await assert.rejects(router.route(req({ model: 'nope' })), /does not exist/);
    await assert.rejects(router.route(req({ model: 'fast:best' })), /Unknown preset 'best'/);
  });
});

describe('router: embeddings', () => {
  const embedder = (input: number) => ({
    name: 'embed-1',
    mode: 'embedding' as const,
    qualityRank: 99,
    price: { input, output: 0 },
  });
  const router = routerFor({
    providers: [
      {
        id: 'dear',
        kind: 'openai',
        baseUrl: 'http://127.0.0.1:9/v1',
        keys: ['k'],
        models: [model('chatty', 60, 0.1, 0.4), embedder(0.05)],
      },
      { id: 'cheap', kind: 'openai', baseUrl: 'http://127.0.0.1:8/v1', keys: ['k'], models: [embedder(0.01)] },
      { id: 'anth', kind: 'anthropic', baseUrl: 'http://127.0.0.1:7', keys: ['k'], models: [embedder(0.001)] },
    ],
  });
  const embedding = (model: string, extra: Record<string, unknown> = {}) => ({
    model,
    input: { kind: 'text' as const, texts: ['x'] },
    encodingFormat: 'float' as const,
    inbound: { protocol: 'openai-embeddings' as const, body: {} },
    ...extra,
  });

  test('a bare name: every provider that can serve it, cheapest first; one without an embeddings call is skipped', () => {
    const decision = router.routeEmbeddings(embedding('embed-1'));
    assert.deepEqual(
      decision.candidates.map((m) => m.id),
      ['cheap/embed-1', 'dear/embed-1'],
    );
    assert.equal(decision.tier, null);
    assert.deepEqual(
      router.routeEmbeddings(embedding('embed-1'), { providers: ['dear'] }).candidates.map((m) => m.id),
      ['dear/embed-1'],
    );
    assert.throws(
      () => router.routeEmbeddings(embedding('anth/embed-1')),
      (err: GatewayError) =>
        err.code === 'invalid_request' && /anthropic providers do not serve embeddings/.test(err.message),
    );
  });

  test('tiers, auto and chat models are refused; tiers never list an embedding model, even with the best rank', async () => {
    for (const name of ['auto', 'fast', 'deep:quality']) {
      assert.throws(() => router.routeEmbeddings(embedding(name)), /chat tier/);
    }
    assert.throws(() => router.routeEmbeddings(embedding('chatty')), /is a chat model/);
    assert.throws(
      () => router.routeEmbeddings(embedding('nope')),
      (err: GatewayError) => err.code === 'not_found',
    );
    for (const tier of ['utility', 'fast', 'deep']) {
      const decision = await router.route(req({ model: tier, messages: [{ role: 'user', content: 'hi' }] }));
      assert.deepEqual(
        decision.candidates.map((m) => m.id),
        ['dear/chatty'],
      );
    }
    await assert.rejects(
      router.route(req({ model: 'embed-1', messages: [{ role: 'user', content: 'hi' }] })),
      /is an embedding model/,
    );
  });
});
