import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkPriceData, PriceDataError, resetPriceData } from '../../src/billing/prices.ts';
import { PRICE_FILE } from '../../src/catalog/price-refresh.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import { mockProvider, startGateway, type TestGateway } from '../helpers/gateway.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';

/** Price data in @pydantic/genai-prices' format (its published data.json): OpenAI's models at given prices. */
function priceData(models: Record<string, { input: number; output: number }>): string {
  return JSON.stringify([
    {
      id: 'openai',
      name: 'OpenAI',
      api_pattern: 'https://api\\.openai\\.com',
      models: Object.entries(models).map(([id, p]) => ({
        id,
        match: { equals: id },
        context_window: 128_000,
        prices: { input_mtok: p.input, output_mtok: p.output },
      })),
    },
  ]);
}

describe('checkPriceData', () => {
  after(() => resetPriceData());
  it('the default URL is the one this version of the library publishes its data at', async () => {
    const { REMOTE_DATA_JSON_URL } = await import('@pydantic/genai-prices');
    assert.equal(parseConfig({}, {}).prices.refresh.url, REMOTE_DATA_JSON_URL);
    assert.equal(parseConfig({}, {}).prices.refresh.enabled, false);
  });
  it('accepts the library format and refuses anything else with a short reason', () => {
    checkPriceData(priceData({ 'gpt-4o-mini': { input: 1, output: 2 } }));
    for (const [text, reason] of [
      ['not json', /not JSON/],
      ['{}', /non-empty list/],
      ['[]', /non-empty list/],
      ['[{"id":"x"}]', /no id or no list of models/],
      ['[{"id":"x","name":"X","api_pattern":"x","models":[]}]', /no model of it can be priced/],
    ] as const) {
      assert.throws(
        () => checkPriceData(text),
        (err: Error) => err instanceof PriceDataError && reason.test(err.message),
      );
    }
  });
});

describe('live catalog: prices refreshed from a URL without a restart', () => {
  let upstream: MockOpenAI;
  let prices: Server;
  let served: { status: number; body: string } = { status: 503, body: 'down' };
  let fetches = 0;
  let priceUrl: string;
  const dataDir = mkdtempSync(join(tmpdir(), 'modro-prices-'));
  const gateways: TestGateway[] = [];

  const input = (url: string): ConfigInput => ({
    demo: { enabled: false },
    storage: { kind: 'sqlite', path: join(dataDir, 'modro.db') },
    prices: { refresh: { enabled: true, url, intervalMs: 3_600_000, timeoutMs: 2_000 } },
    // Same rank, no prices in the file: the price data decides which is cheapest. gpt-9-mini is unknown to the
    // bundled data, so it is left out until price data names it.
    providers: [
      {
        ...mockProvider('oa', upstream.url, []),
        models: ['gpt-4o-mini', 'gpt-4.1-nano', 'gpt-9-mini'].map((name) => ({
          name,
          qualityRank: 70,
          contextWindow: 128_000,
        })),
      },
    ],
  });
  const fastCheapest = async (gw: TestGateway) => {
    const res = await gw.post('/v1/chat/completions', {
      model: 'fast:cheapest',
      messages: [{ role: 'user', content: 'hello there' }],
    });
    assert.equal(res.status, 200, await res.text());
    return res.headers.get('x-model-router-model');
  };

  before(async () => {
    upstream = await startMockOpenAI();
    prices = createServer((_req, res) => {
      fetches++;
      res.writeHead(served.status, { 'content-type': 'application/json' }).end(served.body);
    });
    await new Promise<void>((resolve) => prices.listen(0, '127.0.0.1', resolve));
    priceUrl = `http://127.0.0.1:${(prices.address() as AddressInfo).port}/data.json`;
  });
  after(async () => {
    for (const gw of gateways) await gw.close();
    resetPriceData();
    await upstream?.close();
    await new Promise((resolve) => prices?.close(resolve));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a cheaper price or a newly priced model takes over fast:cheapest on the next request', async () => {
    const gw = await startGateway(input(priceUrl));
    gateways.push(gw);
    // The bundled prices: gpt-4.1-nano is cheaper than gpt-4o-mini; gpt-9-mini has no price.
    assert.equal(await fastCheapest(gw), 'oa/gpt-4.1-nano');
    assert.ok(!gw.runtime.catalog.byId.has('oa/gpt-9-mini'));

    // The first fetch at start found the server down: logged once, not again while it stays down.
    const failedLines = () => gw.logs.filter((l) => l.includes('price refresh failed')).length;
    assert.equal(await gw.runtime.prices.refresh(), false);
    assert.equal(await gw.runtime.prices.refresh(), false);
    assert.equal(failedLines(), 1, gw.logs.join(''));
    served = { status: 200, body: '[{"id": "broken"' };
    assert.equal(await gw.runtime.prices.refresh(), false, 'a file that does not check is refused');
    assert.equal(failedLines(), 1);
    assert.equal(await fastCheapest(gw), 'oa/gpt-4.1-nano', 'the current prices stay');

    // gpt-4o-mini's price falls below gpt-4.1-nano's.
    served = {
      status: 200,
      body: priceData({ 'gpt-4o-mini': { input: 0.01, output: 0.02 }, 'gpt-4.1-nano': { input: 0.1, output: 0.4 } }),
    };
    assert.equal(await gw.runtime.prices.refresh(), true);
    assert.equal(await fastCheapest(gw), 'oa/gpt-4o-mini');
    assert.ok(gw.logs.some((l) => l.includes('price refresh works again')));
    assert.equal(gw.runtime.catalog.byId.get('oa/gpt-4o-mini')!.price.input, 0.01);

    // A model the data did not know before, cheaper still.
    served = {
      status: 200,
      body: priceData({
        'gpt-4o-mini': { input: 0.01, output: 0.02 },
        'gpt-4.1-nano': { input: 0.1, output: 0.4 },
        'gpt-9-mini': { input: 0.001, output: 0.002 },
      }),
    };
    assert.equal(await gw.runtime.prices.refresh(), true);
    assert.equal(await fastCheapest(gw), 'oa/gpt-9-mini');
    const sent = upstream.requests.filter((r) => r.path.includes('/chat/completions')).at(-1)!;
    assert.equal((sent.body as { model: string }).model, 'gpt-9-mini');

    // The catalog's age is a metric; the last good copy is on disk.
    const metric = await gw.runtime.metrics.registry.getSingleMetricAsString('modro_price_data_age_seconds');
    const age = Number(/^modro_price_data_age_seconds (\S+)$/m.exec(metric)?.[1]);
    assert.ok(age >= 0 && age < 60, metric);
    assert.equal(readFileSync(join(dataDir, PRICE_FILE), 'utf8'), served.body);
    await gw.runtime.shutdown();
  });

  it('a restart without network uses the last good copy from the data folder', async () => {
    resetPriceData();
    assert.ok(existsSync(join(dataDir, PRICE_FILE)));
    const before = fetches;
    const gw = await startGateway(input('http://127.0.0.1:1/unreachable.json'));
    gateways.push(gw);
    assert.equal(await fastCheapest(gw), 'oa/gpt-9-mini');
    await gw.runtime.prices.refresh();
    assert.equal(fetches, before, 'the price server was not asked');
    assert.equal(gw.logs.filter((l) => l.includes('price refresh failed')).length, 1);
    await gw.runtime.shutdown();
  });
});
