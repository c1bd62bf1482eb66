import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { GatewayError } from '../../src/core/errors.ts';
import type { ExecutionRunner, UpstreamJob } from '../../src/core/execution-contracts.ts';
import { type AbandonerSettings, UpstreamJobAbandoner } from '../../src/executions/abandon.ts';
import { RunnerRegistry } from '../../src/executions/registry.ts';
import type { Logger } from '../../src/ops/logger.ts';
import type { Store } from '../../src/store/db.ts';
import { forEachDatabase } from '../helpers/databases.ts';

/**
 * Owed upstream cancels on both databases (decisions 0042, 0045): the cancel is a row written in the terminal
 * transaction (here `owe` in a transaction of the test's own); a retryable failure is tried again after each wait
 * of `executions.cancelRetryMs`, a refusal that is not retryable is given up at once (recorded, logged once,
 * counted), and a stop forgets nothing: another abandoner on the same database (a restart, a replica) carries the
 * cancel on, once. End to end against the provider mock and across processes: upstream-job-abandon*.test.ts,
 * upstream-cancel-durable.test.ts.
 */

const JOB = (n: number): UpstreamJob => ({
  id: `video_${n}`,
  provider: 'openai',
  model: 'sora-2',
  key: 'openai#1',
  createdAt: 0,
});

type Line = { level: string; facts: Record<string, unknown>; msg: string };

/** A video runner whose `abandon` answers with `failures` first (then succeeds), counting its calls per job. */
function abandoner(store: Store, failures: GatewayError[], settings: Partial<AbandonerSettings> = {}) {
  const lines: Line[] = [];
  const log = (level: string) => (facts: Record<string, unknown>, msg: string) => lines.push({ level, facts, msg });
  const logger = { info: log('info'), warn: log('warn'), error: log('error') } as unknown as Logger;
  const calls = new Map<string, number>();
  const runner = {
    kinds: ['video'],
    abandon: async (job: UpstreamJob) => {
      calls.set(job.id, (calls.get(job.id) ?? 0) + 1);
      await sleep(Math.random() * 5);
      const failure = failures.shift();
      if (failure) throw failure;
    },
  } as unknown as ExecutionRunner;
  const a = new UpstreamJobAbandoner({
    db: store.db,
    dialect: store.dialect,
    registry: new RunnerRegistry().add(runner, () => undefined),
    logger,
    settings: { retryMs: [20, 20, 20], pollMs: 20, ...settings },
  });
  return { a, lines, calls, total: () => [...calls.values()].reduce((x, y) => x + y, 0) };
}

/** As the terminal transaction does: the cancel of job `n` of execution `exec_<n>` is owed. */
async function owe(a: UpstreamJobAbandoner, store: Store, n: number): Promise<string> {
  const id = `exec_${n}`;
  await store.db
    .transaction()
    .execute((trx) => a.owe(trx, { id, tenantId: 't1', kind: 'video', job: JSON.stringify(JOB(n)) }, Date.now()));
  return id;
}

const rowOf = (store: Store, id: string) =>
  store.db.selectFrom('upstream_cancel').selectAll().where('execution_id', '=', id).executeTakeFirstOrThrow();

const unavailable = () => new GatewayError('provider_unavailable', 'overloaded', { upstreamStatus: 503 });

forEachDatabase('owed upstream cancels', (suite) => {
  it('a retryable failure is tried again after each wait; success ends it, recorded and counted once', async () => {
    const { store } = await suite.fresh();
    const { a, lines, total } = abandoner(store, [unavailable(), unavailable()]);
    a.abandon(await owe(a, store, 1));
    await a.settled();
    assert.equal(total(), 3);
    assert.deepEqual(a.counters, { cancelled: 1, failed: 0 });
    assert.deepEqual(
      lines.map((l) => [l.level, l.facts['tries']]),
      [
        ['info', 1],
        ['info', 2],
        ['info', 3],
      ],
    );
    assert.match(lines.at(-1)!.msg, /was cancelled/);
    const row = await rowOf(store, 'exec_1');
    assert.deepEqual(
      { state: row.state, tries: Number(row.tries), lease: row.lease_token, status: row.last_status },
      { state: 'cancelled', tries: 3, lease: null, status: 503 },
    );
    await a.drain();
  });

  it('a refusal that is not retryable (401) is not tried again: given up, recorded, logged once', async () => {
    const { store } = await suite.fresh();
    const { a, lines, total } = abandoner(store, [
      new GatewayError('authentication_failed', 'bad key', { upstreamStatus: 401 }),
    ]);
    a.start();
    a.abandon(await owe(a, store, 2));
    await a.settled();
    await sleep(100); // the sweeps find nothing more to try
    assert.equal(total(), 1);
    assert.deepEqual(a.counters, { cancelled: 0, failed: 1 });
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.level, 'warn');
    assert.equal(lines[0]!.facts['status'], 401);
    assert.match(lines[0]!.msg, /it may run on/);
    const row = await rowOf(store, 'exec_2');
    assert.deepEqual(
      { state: row.state, tries: Number(row.tries), code: row.last_code, status: row.last_status },
      { state: 'failed', tries: 1, code: 'authentication_failed', status: 401 },
    );
    await a.drain();
  });

  it('retries run out: given up after the last wait, counted once', async () => {
    const { store } = await suite.fresh();
    const slow = () => new GatewayError('timeout', 'slow');
    const { a, total } = abandoner(store, [slow(), slow(), slow()], { retryMs: [10, 10] });
    a.abandon(await owe(a, store, 3));
    await a.settled();
    assert.equal(total(), 3, 'the first try and one per wait');
    assert.deepEqual(a.counters, { cancelled: 0, failed: 1 });
    assert.equal((await rowOf(store, 'exec_3')).state, 'failed');
    await a.drain();
  });

  it('a stop while a try waits gives nothing up: the next abandoner on the database (a restart) tries it again', async () => {
    const { store } = await suite.fresh();
    const first = abandoner(store, [unavailable()], { retryMs: [300] });
    first.a.start();
    first.a.abandon(await owe(first.a, store, 4));
    while (!first.lines.some((l) => l.facts['retryInMs'] === 300)) await sleep(2);
    const started = Date.now();
    await first.a.drain();
    assert.ok(Date.now() - started < 1_000, 'drain does not wait for the next try');
    assert.equal(first.a.pending, 0);
    assert.deepEqual(first.a.counters, { cancelled: 0, failed: 0 }, 'not given up');
    assert.ok(!first.lines.some((l) => l.level === 'warn'));
    const waiting = await rowOf(store, 'exec_4');
    assert.deepEqual({ state: waiting.state, tries: Number(waiting.tries) }, { state: 'pending', tries: 1 });

    const second = abandoner(store, [], { retryMs: [300] });
    second.a.start();
    await second.a.settled();
    assert.equal(first.total() + second.total(), 2);
    assert.deepEqual(second.a.counters, { cancelled: 1, failed: 0 });
    const done = await rowOf(store, 'exec_4');
    assert.deepEqual({ state: done.state, tries: Number(done.tries) }, { state: 'cancelled', tries: 2 });
    await second.a.drain();
  });

  it('a claim whose process died is taken over when its lease ends (the interrupted try counts)', async () => {
    const { store } = await suite.fresh();
    const { a, total } = abandoner(store, [], { leaseMs: 200 });
    const id = await owe(a, store, 5);
    // As a process killed mid-try leaves it: leased, one try counted.
    await store.db
      .updateTable('upstream_cancel')
      .set({ lease_token: 'dead', next_at: Date.now() + 200, tries: 1 })
      .where('execution_id', '=', id)
      .execute();
    a.abandon(id);
    a.start();
    await sleep(100);
    assert.equal(total(), 0, 'not while the lease runs');
    await a.settled();
    assert.equal(total(), 1);
    const row = await rowOf(store, id);
    assert.deepEqual({ state: row.state, tries: Number(row.tries) }, { state: 'cancelled', tries: 2 });
    await a.drain();
  });

  it('four abandoners on one database (replicas) racing for 40 owed cancels send each exactly once', async () => {
    const db = await suite.fresh();
    // PostgreSQL: a pool of its own for each, as replicas have; SQLite: one process has one connection.
    const stores = [db.store];
    for (let i = 1; i < 4; i++) stores.push(suite.kind === 'postgres' ? await db.reopen() : db.store);
    const replicas = stores.map((store) => abandoner(store, []));
    const ids: string[] = [];
    for (let n = 100; n < 140; n++) ids.push(await owe(replicas[0]!.a, db.store, n));
    for (const r of replicas) r.a.start();
    // Each replica also tries every one of them at once, as the writer of a terminal state does.
    for (const id of ids) for (const r of replicas) r.a.abandon(id);
    await Promise.all(replicas.map((r) => r.a.settled()));
    await sleep(100);
    for (let n = 100; n < 140; n++) {
      const sent = replicas.reduce((sum, r) => sum + (r.calls.get(`video_${n}`) ?? 0), 0);
      assert.equal(sent, 1, `video_${n}: one cancel`);
    }
    assert.equal(
      replicas.reduce((sum, r) => sum + r.a.counters.cancelled, 0),
      40,
    );
    const rows = await db.store.db.selectFrom('upstream_cancel').select(['state', 'tries']).execute();
    assert.ok(rows.every((r) => r.state === 'cancelled' && Number(r.tries) === 1));
    for (const r of replicas) await r.a.drain();
  });

  it('finished cancels past their retention are pruned; owed ones never are', async () => {
    const { store } = await suite.fresh();
    const { a } = abandoner(store, []);
    a.abandon(await owe(a, store, 6));
    await a.settled();
    await owe(a, store, 7);
    assert.equal(await a.prune(Date.now() + 1), 1);
    const left = await store.db.selectFrom('upstream_cancel').select(['execution_id', 'state']).execute();
    assert.deepEqual(left, [{ execution_id: 'exec_7', state: 'pending' }]);
    await a.drain();
  });
});
