import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { runLedgerCommand } from '../../src/cli/ledger-commands.ts';
import { runTenancyCommand } from '../../src/cli/tenancy-commands.ts';
import { mockProvider } from '../helpers/gateway.ts';
import { type GatewayProcess, removeDataDir, spawnGateway } from '../helpers/gateway-process.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';

/**
 * `kill -9` of a gateway billing an account, with requests in flight (docs/billing.md, decision 0023). After
 * a restart on the same data folder: every request that was charged for (it has a usage record with a cost)
 * has exactly one settlement, the holds the killed process left open are closed, and `modro ledger verify`
 * passes. The gateway runs in its own process as users run it from the sources; the mock upstream streams
 * slowly so that the kill finds streams half way.
 */
const CONCURRENCY = 16;
const KILL_AFTER = 120;

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

describe('kill -9 with billed requests in flight', () => {
  let mock: MockOpenAI;
  let dir: string;
  const gateways: GatewayProcess[] = [];

  before(async () => {
    mock = await startMockOpenAI({ chunkDelayMs: 3 });
    dir = mkdtempSync(join(tmpdir(), 'modro-kill9-billing-'));
  });
  after(async () => {
    // Only the processes this test started, by their own handle.
    for (const gw of gateways) if (gw.exitCode() === null) await gw.stop('SIGKILL');
    await mock.close();
    removeDataDir(dir);
  });

  test('no charge is lost, stale holds are closed, ledger verify passes', async (t) => {
    const config = {
      storage: { kind: 'sqlite' as const, path: join(dir, 'modro.db') },
      logging: { level: 'warn' as const },
      providers: [
        mockProvider('up', mock.url, [
          { name: 'gpt-4o-mini', qualityRank: 70, tiers: ['fast'], price: { input: 1000, output: 1000 } },
        ]),
      ],
    };
    const cliConfig = join(dir, 'cli.yaml');
    writeFileSync(cliConfig, JSON.stringify(config));
    const c = capture();
    assert.equal(await runTenancyCommand(['tenants', 'create', 'acme', '--config', cliConfig], {}, c.out, c.out), 0);
    const made = capture();
    const keyCode = await runTenancyCommand(
      ['keys', 'create', '--tenant', 'acme', '--json', '--config', cliConfig],
      {},
      made.out,
      made.out,
    );
    assert.equal(keyCode, 0, made.text());
    const key = (JSON.parse(made.text()) as { key: string }).key;
    const deposit = capture();
    const depositCode = await runLedgerCommand(
      ['ledger', 'deposit', 'acme', '--usd', '1000', '--reason', 'seed', '--config', cliConfig],
      {},
      deposit.out,
      deposit.out,
    );
    assert.equal(depositCode, 0, deposit.text());

    const first = await spawnGateway(config, dir);
    gateways.push(first);
    const completed: string[] = [];
    let cut = 0;
    let killed = false;
    let sequence = 0;
    const worker = async () => {
      while (!killed) {
        const i = sequence++;
        const stream = i % 2 === 1;
        try {
          const res = await fetch(`${first.url}/v1/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: JSON.stringify({
              model: 'fast',
              stream,
              max_tokens: 64,
              messages: [{ role: 'user', content: `request ${i}: a few words for the upstream to echo back` }],
            }),
          });
          const text = await res.text();
          assert.equal(res.status, 200, text.slice(0, 300));
          if (stream) assert.ok(text.endsWith('data: [DONE]\n\n'), `stream ${i} read to its end`);
          completed.push(res.headers.get('x-request-id')!);
        } catch (err) {
          if (!killed) throw err;
          cut++;
        }
        if (!killed && completed.length >= KILL_AFTER) {
          killed = true;
          first.child.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    await first.stop('SIGKILL');
    assert.ok(cut > 0, 'the kill came while requests were in flight');

    const second = await spawnGateway(config, dir);
    gateways.push(second);
    assert.equal(await second.stop('SIGTERM'), 0, second.output());

    const verify = capture();
    const verifyCode = await runLedgerCommand(
      ['ledger', 'verify', '--json', '--config', cliConfig],
      {},
      verify.out,
      verify.out,
    );
    const verified = JSON.parse(verify.text()) as { ok: boolean; openHolds: number; problems: string[] };
    assert.deepEqual(verified.problems, []);
    assert.equal(verifyCode, 0);
    assert.equal(verified.openHolds, 0, 'the holds of the killed process were closed');

    const db = new DatabaseSync(join(dir, 'modro.db'), { readOnly: true });
    try {
      const charged = db
        .prepare(
          `select u.request_id as id, u.cost_nano_usd as cost from usage_record u
           join usage_dim d on d.id = u.tenant_id where d.value = 'acme' and u.cost_nano_usd > 0`,
        )
        .all() as Array<{ id: string; cost: number }>;
      const settles = new Map(
        (
          db
            .prepare(`select hold_id as id, -amount_nano as charge from ledger_entry where kind = 'settle'`)
            .all() as Array<{ id: string; charge: number }>
        ).map((row) => [row.id, row.charge]),
      );
      const missing = charged.filter((r) => !settles.has(r.id));
      const wrong = charged.filter((r) => settles.has(r.id) && settles.get(r.id) !== r.cost);
      t.diagnostic(
        `${completed.length} responses completed, ${cut} cut by the kill, ${charged.length} charged requests, ${settles.size} settlements`,
      );
      assert.equal(missing.length, 0, `${missing.length} charged requests have no settlement`);
      assert.equal(wrong.length, 0, `${wrong.length} settlements differ from their recorded cost`);
      for (const id of completed) assert.ok(settles.has(id), `completed request ${id} was charged`);
      const balance = db.prepare(`select balance_nano as b from account where tenant_id = 'acme'`).get() as {
        b: number;
      };
      const spent = [...settles.values()].reduce((sum, v) => sum + v, 0);
      assert.equal(balance.b, 960_000_000_000 - spent);
    } finally {
      db.close();
    }
  });
});
