import assert from 'node:assert/strict';
import { it } from 'node:test';
import { newExecutionId } from '../../src/executions/ids.ts';
import { ExecutionQueue, type ExecutionRow, QUEUED_GAUGE_CAP } from '../../src/executions/queue.ts';
import { endExecution } from '../../src/executions/terminal.ts';
import { forEachDatabase } from '../helpers/databases.ts';

/**
 * The durable queue's statements on both databases (src/executions/queue.ts, decision 0030): a row is claimed
 * by one worker only, even with many claiming at once; an expired lease puts a row back; a terminal state is
 * written once, only by the lease owner (or a cancel while it is open).
 */
function row(tenant: string, now: number, extra: Partial<ExecutionRow> = {}): ExecutionRow {
  return {
    id: newExecutionId(now),
    tenant_id: tenant,
    key_id: null,
    model: 'fast',
    resolved_model: 'fast',
    kind: 'text',
    provider: null,
    status: 'PENDING',
    input: '{}',
    caller: JSON.stringify({ tenantId: tenant, keyId: null, policy: {} }),
    webhook_url: null,
    metadata: null,
    estimated_nano: 0,
    held_nano: 0,
    attempts: 0,
    run_after: now,
    deadline_at: now + 60_000,
    lease_owner: null,
    lease_until: null,
    created_at: now,
    started_at: null,
    completed_at: null,
    output: null,
    usage: null,
    cost_nano: null,
    served_by: null,
    error_code: null,
    error_message: null,
    upstream_job: null,
    ...extra,
  };
}

forEachDatabase('execution queue', (suite) => {
  it('many workers claiming at once take each row exactly once, oldest first, skipping busy tenants', async () => {
    const { store } = await suite.fresh();
    const queue = new ExecutionQueue(store.db, store.dialect);
    const now = Date.now();
    const rows = Array.from({ length: 60 }, (_, i) => row(i % 2 === 0 ? 'a' : 'b', now - 60 + i));
    await store.db.transaction().execute((trx) => queue.insert(trx, rows));
    const busy = await queue.claim('w0', now, now + 10_000, { tenants: ['a'], providers: [] });
    assert.equal(busy?.tenant_id, 'b', 'a busy tenant is passed over');
    assert.equal(busy?.id, rows[1]!.id, 'the oldest due row of the others');
    const claimed = new Map<string, string>([[busy!.id, 'w0']]);
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (;;) {
          const got = await queue.claim(`w${w + 1}`, now, now + 10_000, { tenants: [], providers: [] });
          if (!got) return;
          assert.ok(!claimed.has(got.id), `${got.id} claimed twice`);
          claimed.set(got.id, `w${w + 1}`);
          assert.equal(Number(got.attempts), 1);
        }
      }),
    );
    assert.equal(claimed.size, rows.length);
    const notDue = row('a', now, { run_after: now + 60_000 });
    await store.db.transaction().execute((trx) => queue.insert(trx, [notDue]));
    assert.equal(await queue.claim('w0', now, now + 10_000, { tenants: [], providers: [] }), undefined);
  });

  it('an expired lease is reaped and claimed again (attempt 2); only the new owner renews and ends it', async () => {
    const { store } = await suite.fresh();
    const queue = new ExecutionQueue(store.db, store.dialect);
    const now = Date.now();
    const r = row('t', now);
    await store.db.transaction().execute((trx) => queue.insert(trx, [r]));
    const first = await queue.claim('dead', now, now + 1_000, { tenants: [], providers: [] });
    assert.equal(first?.id, r.id);
    assert.deepEqual([...(await queue.renew([{ id: r.id, lease: 'dead' }], now + 1_500))], ['dead']);
    assert.equal(await queue.reap(now + 1_000), 0, 'a renewed lease is not reaped');
    assert.equal(await queue.reap(now + 2_000), 1);
    const second = await queue.claim('alive', now + 2_000, now + 5_000, { tenants: [], providers: [] });
    assert.equal(second?.id, r.id);
    assert.equal(Number(second?.attempts), 2);
    assert.equal((await queue.renew([{ id: r.id, lease: 'dead' }], now + 9_000)).size, 0, 'the dead worker lost it');
    const deps = { queue };
    assert.equal(await endExecution(deps, r.id, { owner: 'dead' }, { status: 'COMPLETED', cost_nano: 1 }), false);
    assert.equal(await endExecution(deps, r.id, { owner: 'alive' }, { status: 'COMPLETED', cost_nano: 7 }), true);
    assert.equal(await endExecution(deps, r.id, { owner: 'alive' }, { status: 'FAILED' }), false, 'ended once');
    assert.equal(await endExecution(deps, r.id, { tenantId: 't' }, { status: 'CANCELLED' }), false);
    const view = await queue.view('t', r.id);
    assert.equal(view?.status, 'COMPLETED');
    assert.equal(Number(view?.cost_nano), 7);
    assert.equal(await queue.view('other', r.id), undefined, "another tenant's id is not found");
  });

  it('an upstream job is recorded only by the lease holder, survives a reap and is read by the next claim', async () => {
    const { store } = await suite.fresh();
    const queue = new ExecutionQueue(store.db, store.dialect);
    const now = Date.now();
    const r = row('t', now);
    await store.db.transaction().execute((trx) => queue.insert(trx, [r]));
    const first = await queue.claim('dead', now, now + 1_000, { tenants: [], providers: [] });
    assert.equal(first?.upstream_job, null);
    const job = JSON.stringify({ provider: 'p', model: 'p/m', key: 'p#1', id: 'job_1', createdAt: now });
    assert.equal(await queue.setUpstreamJob('other', r.id, job), false, 'not the lease holder');
    assert.equal(await queue.setUpstreamJob('dead', r.id, job), true);
    assert.equal(await queue.reap(now + 2_000), 1);
    assert.equal(await queue.setUpstreamJob('dead', r.id, null), false, 'a reaped run cannot forget it');
    const second = await queue.claim('alive', now + 2_000, now + 5_000, { tenants: [], providers: [] });
    assert.equal(second?.upstream_job, job, 'the next run finds the job to resume');
    assert.equal(await queue.setUpstreamJob('alive', r.id, null), true);
  });

  it('a cancel ends an open execution of its tenant only; the worker then cannot end it', async () => {
    const { store } = await suite.fresh();
    const queue = new ExecutionQueue(store.db, store.dialect);
    const now = Date.now();
    const r = row('t', now);
    await store.db.transaction().execute((trx) => queue.insert(trx, [r]));
    await queue.claim('w', now, now + 10_000, { tenants: [], providers: [] });
    assert.equal(await endExecution({ queue }, r.id, { tenantId: 'x' }, { status: 'CANCELLED' }), false);
    assert.equal(await endExecution({ queue }, r.id, { tenantId: 't' }, { status: 'CANCELLED' }), true);
    assert.equal(await endExecution({ queue }, r.id, { owner: 'w' }, { status: 'COMPLETED' }), false);
    assert.equal(await queue.requeue('w', r.id, now, null), false, 'nor put it back');
    assert.equal((await queue.view('t', r.id))?.status, 'CANCELLED');
  });

  it('retention deletes only ended executions that ended before the cut-off', async () => {
    const { store } = await suite.fresh();
    const queue = new ExecutionQueue(store.db, store.dialect);
    const now = Date.now();
    const old = row('t', now - 10, { status: 'COMPLETED', completed_at: now - 10_000 });
    const recent = row('t', now - 9, { status: 'FAILED', completed_at: now - 10 });
    const open = row('t', now - 8, { status: 'PENDING', created_at: now - 20_000 });
    const running = row('t', now - 7, { status: 'PROCESSING', lease_owner: 'w', lease_until: now + 1_000 });
    await store.db.transaction().execute((trx) => queue.insert(trx, [old, recent, open, running]));
    assert.equal(await queue.prune(now - 1_000), 1);
    const left = await store.db.selectFrom('execution').select('id').orderBy('id').execute();
    assert.deepEqual(
      left.map((r) => r.id),
      [recent.id, open.id, running.id],
    );
  });
});

forEachDatabase('execution queue: insert and depth', (suite) => {
  it('inserts any number of rows in fixed-size chunks, every column kept; the depth gauge counts PENDING up to its cap', async () => {
    const { store } = await suite.fresh();
    const queue = new ExecutionQueue(store.db, store.dialect);
    const now = Date.now();
    // 37 = 16 + 16 + 4 + 1: every chunk size but 8 and 2, in one transaction.
    const rows = Array.from({ length: 37 }, (_, i) =>
      row(`t${i % 3}`, now + i, { metadata: JSON.stringify({ i: String(i) }), webhook_url: `https://e.test/${i}` }),
    );
    await store.db.transaction().execute((trx) => queue.insert(trx, rows));
    const stored = await store.db.selectFrom('execution').selectAll().orderBy('id').execute();
    assert.deepEqual(
      stored.map((r) => ({ ...r })),
      [...rows].sort((a, b) => (a.id < b.id ? -1 : 1)).map((r) => ({ ...r })),
    );
    assert.equal(await queue.queued(), 37);
    await queue.claim('w', now + 100, now + 10_000, { tenants: [], providers: [] });
    assert.equal(await queue.queued(), 36, 'a claimed row no longer waits');
  });

  it('the depth gauge stops counting at its cap (QUEUED_GAUGE_CAP, here 20)', async () => {
    const { store } = await suite.fresh();
    const queue = new ExecutionQueue(store.db, store.dialect);
    const now = Date.now();
    const rows = Array.from({ length: 25 }, (_, i) => row('t', now + i));
    await store.db.transaction().execute((trx) => queue.insert(trx, rows));
    assert.equal(await queue.queued(20), 20);
    assert.equal(await queue.queued(), 25);
    assert.ok(QUEUED_GAUGE_CAP >= 100_000);
  });
});
