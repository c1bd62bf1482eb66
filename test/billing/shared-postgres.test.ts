import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { runLedgerCommand } from '../../src/cli/ledger-commands.ts';
import { runTenancyCommand } from '../../src/cli/tenancy-commands.ts';
import { isCI } from '../helpers/ci.ts';
import { POSTGRES_TEST_URL } from '../helpers/databases.ts';
import { mockProvider } from '../helpers/gateway.ts';
import { type GatewayProcess, removeDataDir, spawnGateway } from '../helpers/gateway-process.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';

/**
 * Three gateway processes sharing one PostgreSQL database with `billing.shared` (decision 0023): 200 concurrent
 * requests spread over them against a balance that covers 10 serve at most 10, the balance never goes below
 * zero, and `modro ledger verify` passes. Real processes, started as users start them from the sources.
 */
const NANO_PER_TOKEN = 1_000_000;
const ASK = { model: 'fast', max_tokens: 8, messages: [{ role: 'user', content: 'hello there' }] };

async function reachable(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.end();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

const unreachable = await reachable(POSTGRES_TEST_URL);

function capture() {
  let text = '';
  return {
    out: {
      write: (t: string) => {
        text += t;
      },
    },
    text: () => text,
  };
}

describe('shared billing: three gateways on one PostgreSQL', () => {
  if (unreachable && !isCI()) {
    test('PostgreSQL', { skip: `PostgreSQL unreachable (${unreachable})` }, () => {});
    return;
  }
  const schema = `t_shared_billing_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  let mock: MockOpenAI;
  let dir: string;
  const gateways: GatewayProcess[] = [];

  before(async () => {
    mock = await startMockOpenAI();
    dir = mkdtempSync(join(tmpdir(), 'modro-shared-billing-'));
  });
  after(async () => {
    // Only the processes this test started, by their own handle.
    for (const gw of gateways) if (gw.exitCode() === null) await gw.stop('SIGKILL');
    await mock?.close();
    removeDataDir(dir);
    const client = new pg.Client({ connectionString: POSTGRES_TEST_URL });
    await client.connect();
    await client.query(`drop schema if exists "${schema}" cascade`);
    await client.end();
  });

  test('200 concurrent requests over three processes against a balance for 10: at most 10 served', async (t) => {
    const config = {
      storage: { kind: 'postgres' as const, url: POSTGRES_TEST_URL, schema },
      logging: { level: 'warn' as const },
      billing: { shared: true },
      providers: [
        mockProvider('up', mock.url, [
          { name: 'gpt-4o-mini', qualityRank: 70, tiers: ['fast'], price: { input: 1000, output: 1000 } },
        ]),
      ],
    };
    const cliConfig = join(dir, 'cli.yaml');
    writeFileSync(cliConfig, JSON.stringify(config));
    const cli = async (run: typeof runLedgerCommand, ...argv: string[]) => {
      const c = capture();
      const code = await run([...argv, '--config', cliConfig], {}, c.out, c.out);
      assert.equal(code, 0, c.text());
      return c.text();
    };
    await cli(runTenancyCommand, 'tenants', 'create', 'probe');
    await cli(runTenancyCommand, 'tenants', 'create', 'acme');
    const probeKey = (
      JSON.parse(await cli(runTenancyCommand, 'keys', 'create', '--tenant', 'probe', '--json')) as {
        key: string;
      }
    ).key;
    const key = (
      JSON.parse(await cli(runTenancyCommand, 'keys', 'create', '--tenant', 'acme', '--json')) as {
        key: string;
      }
    ).key;
    await cli(runLedgerCommand, 'ledger', 'credit', 'probe', '--usd', '5', '--reason', 'probe');

    for (let i = 0; i < 3; i++) {
      const gw = await spawnGateway(config, mkdtempSync(join(dir, `gw${i}-`)));
      gateways.push(gw);
    }
    const call = (gw: GatewayProcess, token: string) =>
      fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(ASK),
      });
    // What one ASK costs, served by a billed tenant through the shared path.
    const probe = await call(gateways[0]!, probeKey);
    const probeText = await probe.text();
    assert.equal(probe.status, 200, probeText);
    const cost = (JSON.parse(probeText) as { usage: { total_tokens: number } }).usage.total_tokens * NANO_PER_TOKEN;
    const balance = 11 * cost - 1;
    await cli(runLedgerCommand, 'ledger', 'credit', 'acme', '--usd', (balance / 1e9).toFixed(9), '--reason', 'ten');
    // The gateways learn of the new account through their poll (billing.pollMs, 1 s).
    await new Promise((resolve) => setTimeout(resolve, 2_500));

    const before = mock.requests.length;
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const res = await call(gateways[i % 3]!, key);
        return { status: res.status, text: await res.text() };
      }),
    );
    const served = results.filter((r) => r.status === 200).length;
    const refused = results.filter((r) => r.status === 402);
    t.diagnostic(`${served} served, ${refused.length} refused with 402, hold per request vs cost ${cost} nano`);
    assert.equal(served + refused.length, 200, results.map((r) => `${r.status} ${r.text.slice(0, 100)}`).join('\n'));
    assert.ok(served >= 1 && served <= 10, `served ${served}`);
    assert.equal(mock.requests.length - before, served, 'refused requests reached no upstream');
    for (const r of refused) assert.match(r.text, /Insufficient balance: this request needs a hold of/);

    for (const gw of gateways) assert.equal(await gw.stop('SIGTERM'), 0, gw.output());
    const verify = capture();
    const code = await runLedgerCommand(
      ['ledger', 'verify', '--json', '--config', cliConfig],
      {},
      verify.out,
      verify.out,
    );
    const verified = JSON.parse(verify.text()) as { ok: boolean; openHolds: number; problems: string[] };
    assert.deepEqual(verified.problems, []);
    assert.equal(code, 0);
    assert.equal(verified.openHolds, 0);
    const shown = JSON.parse(await cli(runLedgerCommand, 'ledger', 'balance', 'acme', '--json')) as {
      balanceNano: number;
      heldNano: number;
    };
    assert.equal(shown.balanceNano, balance - served * cost);
    assert.ok(shown.balanceNano >= 0);
    assert.equal(shown.heldNano, 0);
  });
});
