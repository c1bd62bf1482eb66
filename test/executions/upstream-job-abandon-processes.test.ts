import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import { verifyLedger } from '../../src/billing/verify.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import type { Database } from '../../src/store/schema.ts';
import { openDb, processSuite, submitExecution } from '../helpers/execution-processes.ts';
import { deletesOf, jobIdOf, POLL_FAILS, video, waitFor } from '../helpers/upstream-jobs.ts';
import { MOCK_MEDIA_KEY, type MockOpenAIMedia, startMockOpenAIMedia } from '../mocks/openai-media.ts';

/**
 * Decisions 0042 and 0045 across gateway processes sharing one PostgreSQL database: the upstream job an ended
 * execution left on its row is cancelled by exactly one of them — its owed cancel is claimed once — whether two
 * workers race to claim executions that ran out of time while queued (after `kill -9` of the gateway that started
 * their jobs), or two gateways are asked to cancel the same PENDING executions at the same moment.
 */
const CANCELLED_LOG = 'the upstream job of an ended execution was cancelled';

async function rows(db: Kysely<Database>, ids: string[]) {
  return db
    .selectFrom('execution')
    .select(['id', 'status', 'error_code', 'attempts', 'upstream_job'])
    .where('id', 'in', ids)
    .orderBy('id')
    .execute();
}

/** One release per execution, nothing else closes its hold, and the ledger is whole with no hold open. */
async function releasedOnce(db: Kysely<Database>, ids: string[]): Promise<void> {
  const entries = await db
    .selectFrom('ledger_entry')
    .select(['hold_id', 'kind'])
    .where('hold_id', 'in', ids)
    .where('kind', 'in', ['settle', 'release'])
    .execute();
  for (const id of ids) {
    assert.deepEqual(
      entries.filter((e) => e.hold_id === id).map((e) => e.kind),
      ['release'],
      `${id}: one release`,
    );
  }
  const verified = await verifyLedger(db);
  assert.deepEqual(verified.problems, []);
  assert.equal(verified.openHolds, 0);
}

processSuite('upstream jobs of ended executions, two gateways on one database [postgres]', 'postgres', (suite) => {
  let mock: MockOpenAIMedia;
  before(async () => {
    mock = await startMockOpenAIMedia();
    mock.pollsToComplete = 1_000_000;
  });
  after(() => mock.close());

  test('exactly one cancel upstream per job: workers racing past the deadline, then cancels racing through both', async (t) => {
    const storage = suite.storage();
    const deadlineMs = 4_000;
    const config: ConfigInput = {
      storage,
      logging: { level: 'info' },
      demo: { enabled: false },
      providers: [{ id: 'openai', kind: 'openai', baseUrl: mock.baseUrl, keys: [MOCK_MEDIA_KEY] }],
      executions: { concurrency: 4, leaseMs: 1_000, pollMs: 100, deadlineMs, backoffMs: 60_000, maxBackoffMs: 60_000 },
    };
    const key = await suite.seedTenant(config);
    const db = openDb(storage);
    try {
      // 1. A gateway starts three video jobs, records them, and is killed.
      const first = await suite.spawn(config);
      const submittedAt = Date.now();
      const late: string[] = [];
      for (let i = 0; i < 3; i++) late.push(await submitExecution(first.url, key, video(i)));
      await waitFor(
        'the jobs recorded',
        () => rows(db, late),
        (rs) => rs.length === 3 && rs.every((r) => r.status === 'PROCESSING' && r.upstream_job !== null),
      );
      await first.stop('SIGKILL');
      const lateJobs = (await rows(db, late)).map((r) => jobIdOf(r.upstream_job));

      // 2. Two gateways start after the executions' deadline (set at submission) and race for them. Their own
      // deadline is long: the executions submitted to them below wait a minute between runs.
      await sleep(Math.max(0, submittedAt + deadlineMs + 200 - Date.now()));
      const later: ConfigInput = { ...config, executions: { ...config.executions, deadlineMs: 600_000 } };
      const [b, c] = await Promise.all([suite.spawn(later), suite.spawn(later)]);
      const ended = await waitFor(
        'the late executions ended',
        () => rows(db, late),
        (rs) => rs.every((r) => r.status !== 'PENDING' && r.status !== 'PROCESSING'),
      );
      for (const r of ended) {
        assert.deepEqual(
          { status: r.status, code: r.error_code, job: r.upstream_job },
          { status: 'FAILED', code: 'timeout', job: null },
        );
      }
      await waitFor(
        'the deletes',
        async () => lateJobs.map((j) => deletesOf(mock, j)),
        (n) => n.every((x) => x >= 1),
      );

      // 3. Two more executions, PENDING between runs with their jobs recorded (their first poll fails); each is
      // cancelled through both gateways at once.
      for (let i = 0; i < 2; i++) mock.faultAt.push(POLL_FAILS);
      const queued = [await submitExecution(b.url, key, video(10)), await submitExecution(c.url, key, video(11))];
      const pending = await waitFor(
        'PENDING again with their jobs recorded',
        () => rows(db, queued),
        (rs) => rs.every((r) => r.status === 'PENDING' && Number(r.attempts) === 1 && r.upstream_job !== null),
      );
      const queuedJobs = pending.map((r) => jobIdOf(r.upstream_job));
      const answers = await Promise.all(
        queued.flatMap((id) =>
          [b.url, c.url].map(async (url) => {
            const res = await fetch(`${url}/v1/executions/${id}/cancel`, {
              method: 'POST',
              headers: { authorization: `Bearer ${key}` },
            });
            return { status: res.status, body: (await res.json()) as { status: string } };
          }),
        ),
      );
      assert.deepEqual(
        answers.map((a) => [a.status, a.body.status]),
        Array.from({ length: 4 }, () => [200, 'CANCELLED']),
      );
      await waitFor(
        'the deletes',
        async () => queuedJobs.map((j) => deletesOf(mock, j)),
        (n) => n.every((x) => x >= 1),
      );

      // Nothing more arrives: every job was deleted once, by one process.
      await sleep(500);
      const jobs = [...lateJobs, ...queuedJobs];
      assert.deepEqual(
        jobs.map((j) => deletesOf(mock, j)),
        jobs.map(() => 1),
        'one DELETE per job',
      );
      for (const j of jobs) assert.equal(mock.videos.get(j)?.deleted, true);
      const byB = b
        .output()
        .split('\n')
        .filter((l) => l.includes(CANCELLED_LOG)).length;
      const byC = c
        .output()
        .split('\n')
        .filter((l) => l.includes(CANCELLED_LOG)).length;
      t.diagnostic(`cancels logged by the two gateways: ${byB} + ${byC}`);
      assert.equal(byB + byC, jobs.length, 'each cancel logged once, by the process that made it');
      assert.ok(!`${b.output()}${c.output()}`.includes(MOCK_MEDIA_KEY), 'no provider secret in the logs');
      const all = await rows(db, [...late, ...queued]);
      assert.ok(all.every((r) => r.upstream_job === null));
      // Each owed cancel was claimed once (decision 0045): one try, recorded as cancelled.
      const owed = await db
        .selectFrom('upstream_cancel')
        .select(['state', 'tries'])
        .where('execution_id', 'in', [...late, ...queued])
        .execute();
      assert.deepEqual(
        owed.map((r) => [r.state, Number(r.tries)]),
        jobs.map(() => ['cancelled', 1]),
      );
      assert.deepEqual(
        (await rows(db, queued)).map((r) => r.status),
        ['CANCELLED', 'CANCELLED'],
      );
      await releasedOnce(db, [...late, ...queued]);
      assert.equal(await b.stop('SIGTERM'), 0, b.output());
      assert.equal(await c.stop('SIGTERM'), 0, c.output());
    } finally {
      await db.destroy();
    }
  });
});
