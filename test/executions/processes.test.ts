import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConfigInput } from '../../src/config/schema.ts';
import { checkEnded, openDb, processSuite, submitExecution, untilAllEnded } from '../helpers/execution-processes.ts';
import { mockProvider } from '../helpers/gateway.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';

/**
 * Executions across real gateway processes (docs/executions.md), started as users start them from the sources:
 * `kill -9` with executions submitted, claimed and mid-call against a slow upstream, on SQLite and PostgreSQL,
 * then a restart: every execution ends exactly once, every hold is closed exactly once (ledger verify), and no
 * run is recorded twice. And two gateways claiming from one PostgreSQL queue never run an execution twice.
 */
const MODELS = [
  { name: 'gpt-4o-mini', qualityRank: 70, tiers: ['fast' as const], price: { input: 1000, output: 1000 } },
];

const submit = (url: string, key: string, i: number) =>
  submitExecution(url, key, {
    model: 'fast',
    input: { max_tokens: 16, messages: [{ role: 'user', content: `execution number ${i}` }] },
  });

for (const kind of ['sqlite', 'postgres'] as const) {
  processSuite(`kill -9 with executions queued, claimed and mid-call [${kind}]`, kind, (suite) => {
    let mock: MockOpenAI;
    before(async () => {
      // A slow upstream: each run takes 400 ms, so the kill finds runs mid-call.
      mock = await startMockOpenAI();
      mock.faults.sticky = { kind: 'delay', ms: 400 };
    });
    after(() => mock.close());

    test('after a restart every execution ends once, each hold closes once, no run is recorded twice', async (t) => {
      const storage = suite.storage();
      const config: ConfigInput = {
        storage,
        logging: { level: 'warn' },
        demo: { enabled: false },
        providers: [mockProvider('up', mock.url, MODELS)],
        executions: { concurrency: 4, leaseMs: 1_000, pollMs: 100, backoffMs: 50 },
      };
      const key = await suite.seedTenant(config);
      const first = await suite.spawn(config);
      // At once, not one after the other: on a loaded machine 24 submissions in a row took longer than the worker
      // needed to run them (4 at a time, 400 ms each), and the kill found nothing queued.
      const ids = await Promise.all(Array.from({ length: 24 }, (_, i) => submit(first.url, key, i)));
      const db = openDb(storage);
      try {
        // Some done, some mid-call, the rest queued: then the kill.
        const deadline = Date.now() + 10_000;
        for (;;) {
          const done = await db
            .selectFrom('execution')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('status', '=', 'COMPLETED')
            .executeTakeFirstOrThrow();
          if (Number(done.n) >= 4) break;
          assert.ok(Date.now() < deadline, 'executions complete');
          await sleep(20);
        }
        // Submissions keep arriving while the process dies: every one answered 202 must survive it.
        let killed = false;
        let cut = 0;
        const submitting = (async () => {
          for (let i = 1000; !killed; i++) {
            try {
              ids.push(await submit(first.url, key, i));
            } catch {
              cut++;
              return;
            }
          }
        })();
        await sleep(150);
        killed = true;
        const killedAt = Date.now();
        first.child.kill('SIGKILL');
        await first.stop('SIGKILL');
        await submitting;
        t.diagnostic(`${ids.length} submissions answered 202, ${cut} cut by the kill`);
        const states = await db.selectFrom('execution').select(['status']).execute();
        const count = (s: string) => states.filter((r) => r.status === s).length;
        t.diagnostic(
          `at the kill: ${count('COMPLETED')} completed, ${count('PROCESSING')} mid-call, ${count('PENDING')} queued`,
        );
        assert.ok(count('PROCESSING') > 0, 'the kill found runs mid-call');
        assert.ok(count('PENDING') > 0, 'the kill found executions queued');

        const second = await suite.spawn(config);
        await untilAllEnded(db, ids.length, 30_000);
        assert.equal(await second.stop('SIGTERM'), 0, second.output());
        const rows = await checkEnded(db, ids, { killedAt }).catch((err: unknown) => {
          t.diagnostic(`killed at ${killedAt}; first gateway: ${first.output().slice(-3000)}`);
          t.diagnostic(`second gateway: ${second.output().slice(-3000)}`);
          throw err;
        });
        // Every execution answered 202 is among them; a submission the kill cut after its commit (no answer) may be
        // too, and then it ends once like the others.
        assert.ok(
          rows.length >= ids.length && rows.length <= ids.length + cut,
          `${rows.length} executions for ${ids.length} answered and ${cut} cut`,
        );
        assert.ok(
          rows.every((r) => r.status === 'COMPLETED'),
          'all completed',
        );
        assert.ok(
          rows.some((r) => Number(r.attempts) > 1),
          'runs cut by the kill ran again',
        );
      } finally {
        await db.destroy();
      }
    });
  });
}

processSuite('two gateways claiming from one PostgreSQL queue', 'postgres', (suite) => {
  let mock: MockOpenAI;
  before(async () => {
    mock = await startMockOpenAI();
    mock.faults.sticky = { kind: 'delay', ms: 100 };
  });
  after(() => mock.close());

  test('each execution runs once, ends once and settles once', async (t) => {
    const storage = suite.storage();
    const config: ConfigInput = {
      storage,
      logging: { level: 'warn' },
      demo: { enabled: false },
      billing: { shared: true },
      providers: [mockProvider('up', mock.url, MODELS)],
      executions: { concurrency: 6, pollMs: 50 },
    };
    const key = await suite.seedTenant(config);
    const a = await suite.spawn(config, mkdtempSync(join(suite.dir(), 'a-')));
    const b = await suite.spawn(config, mkdtempSync(join(suite.dir(), 'b-')));
    const total = 60;
    // Every submission goes to A: only its worker is woken at once, B's finds work by polling.
    const ids = await Promise.all(Array.from({ length: total }, (_, i) => submit(i % 3 === 0 ? b.url : a.url, key, i)));
    const db = openDb(storage);
    try {
      await untilAllEnded(db, total, 30_000);
      const runs = new Map<string, number>();
      for (const r of mock.requests) {
        if (!r.path.endsWith('/chat/completions')) continue;
        const text = (r.body as { messages: Array<{ content: string }> }).messages[0]!.content;
        runs.set(text, (runs.get(text) ?? 0) + 1);
      }
      assert.equal(runs.size, total);
      assert.deepEqual(
        [...runs.entries()].filter(([, n]) => n !== 1),
        [],
        'no execution ran twice',
      );
      // Stopped first: their usage records are written at shutdown at the latest.
      assert.equal(await a.stop('SIGTERM'), 0, a.output());
      assert.equal(await b.stop('SIGTERM'), 0, b.output());
      const rows = await checkEnded(db, ids);
      assert.ok(rows.every((r) => r.status === 'COMPLETED' && Number(r.attempts) === 1));
      const nodes = await db
        .selectFrom('ledger_entry')
        .select('node')
        .distinct()
        .where('kind', '=', 'settle')
        .execute();
      t.diagnostic(`settlements were written by ${nodes.length} processes`);
      assert.equal(nodes.length, 2, 'both gateways ran executions');
    } finally {
      await db.destroy();
    }
  });
});

processSuite('modro worker: a separate process runs what a gateway queues (SQLite)', 'sqlite', (suite) => {
  let mock: MockOpenAI;
  let worker: ReturnType<typeof spawn> | undefined;
  before(async () => {
    mock = await startMockOpenAI();
  });
  after(async () => {
    if (worker && worker.exitCode === null) worker.kill('SIGKILL');
    await mock.close();
  });

  test('the gateway runs nothing itself (executions.enabled: false); the worker completes every execution', async () => {
    const storage = suite.storage();
    const config: ConfigInput = {
      storage,
      logging: { level: 'warn' },
      demo: { enabled: false },
      providers: [mockProvider('up', mock.url, MODELS)],
      executions: { enabled: false, pollMs: 100 },
    };
    const key = await suite.seedTenant(config);
    const configPath = join(suite.dir(), 'cli.yaml');
    const gw = await suite.spawn(config);
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await submit(gw.url, key, i));
    await sleep(300);
    assert.equal(mock.requests.length, 0, 'the gateway did not run them');
    const child = spawn(process.execPath, ['src/cli/main.ts', 'worker', '--config', configPath], {
      cwd: new URL('../..', import.meta.url).pathname,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker = child;
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
    });
    child.stderr!.on('data', (d) => {
      out += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const started = Date.now();
    while (!/is running executions/.test(out)) {
      assert.ok(child.exitCode === null && Date.now() - started < 90_000, `worker did not start: ${out}`);
      await sleep(50);
    }
    const db = openDb(storage);
    try {
      await untilAllEnded(db, ids.length, 20_000);
      child.kill('SIGTERM');
      assert.equal(await exited, 0, out);
      assert.equal(await gw.stop('SIGTERM'), 0, gw.output());
      const rows = await checkEnded(db, ids);
      assert.ok(rows.every((r) => r.status === 'COMPLETED'));
      assert.equal(mock.requests.filter((r) => r.path.endsWith('/chat/completions')).length, ids.length);
    } finally {
      await db.destroy();
    }
  });
});

processSuite(
  'PostgreSQL: a submission wakes the workers of other processes (NOTIFY), not their next poll',
  'postgres',
  (suite) => {
    let mock: MockOpenAI;
    before(async () => {
      mock = await startMockOpenAI();
    });
    after(() => mock.close());

    test('gateway A only accepts, gateway B runs; B polls once a minute yet each ends within a second', async (t) => {
      const storage = suite.storage();
      const base: ConfigInput = {
        storage,
        logging: { level: 'warn' },
        demo: { enabled: false },
        billing: { shared: true },
        providers: [mockProvider('up', mock.url, MODELS)],
      };
      const key = await suite.seedTenant(base);
      const a = await suite.spawn({ ...base, executions: { enabled: false } }, mkdtempSync(join(suite.dir(), 'a-')));
      const b = await suite.spawn({ ...base, executions: { pollMs: 60_000 } }, mkdtempSync(join(suite.dir(), 'b-')));
      // B's first poll (at its start) is behind it: from now on only a wake-up makes it look.
      await sleep(500);
      const db = openDb(storage);
      try {
        for (let i = 0; i < 3; i++) {
          const id = await submit(a.url, key, i);
          const started = Date.now();
          for (;;) {
            const row = await db
              .selectFrom('execution')
              .select('status')
              .where('id', '=', id)
              .executeTakeFirstOrThrow();
            if (row.status === 'COMPLETED') break;
            assert.ok(Date.now() - started < 3_000, `execution ${i} still ${row.status} after 3 s`);
            await sleep(20);
          }
          t.diagnostic(`execution ${i} completed ${Date.now() - started} ms after its 202`);
        }
        assert.equal(await a.stop('SIGTERM'), 0, a.output());
        assert.equal(await b.stop('SIGTERM'), 0, b.output());
      } finally {
        await db.destroy();
      }
    });
  },
);
