import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Kysely } from 'kysely';
import type { ConfigInput } from '../../src/config/schema.ts';
import type { Database } from '../../src/store/schema.ts';
import { openDb, processSuite, submitExecution } from '../helpers/execution-processes.ts';
import type { GatewayProcess } from '../helpers/gateway-process.ts';
import {
  deletesOf,
  type HoldingProxy,
  jobIdOf,
  POLL_FAILS,
  startHoldingProxy,
  video,
  waitFor,
} from '../helpers/upstream-jobs.ts';
import { MOCK_MEDIA_KEY, type MockOpenAIMedia, startMockOpenAIMedia } from '../mocks/openai-media.ts';

/**
 * Decision 0045: the upstream cancel an ended execution owes is a row written in its terminal transaction, so it
 * survives the gateway: `kill -9` between the terminal commit and the provider getting the cancel, or a stop
 * (SIGTERM or `kill -9`) while a retryable failure waits for its next try. The restarted gateway sends it, and the
 * provider (the OpenAI videos mock) gets exactly one successful cancel for the job.
 */

interface Owed {
  state: string;
  tries: number;
  lease_token: string | null;
  last_status: number | null;
}

const owedCancel = (db: Kysely<Database>, id: string): Promise<Owed | undefined> =>
  db
    .selectFrom('upstream_cancel')
    .select(['state', 'tries', 'lease_token', 'last_status'])
    .where('execution_id', '=', id)
    .executeTakeFirst();

const executionRow = (db: Kysely<Database>, id: string) =>
  db
    .selectFrom('execution')
    .select(['status', 'attempts', 'upstream_job'])
    .where('id', '=', id)
    .executeTakeFirstOrThrow();

async function cancel(gw: GatewayProcess, key: string, id: string): Promise<void> {
  const res = await fetch(`${gw.url}/v1/executions/${id}/cancel`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}` },
  });
  const body = (await res.json()) as { status: string };
  assert.deepEqual([res.status, body.status], [200, 'CANCELLED']);
}

/** Submits a video whose first poll fails: PENDING for a minute, its job recorded. Answers the ids. */
async function pendingWithJob(
  gw: GatewayProcess,
  mock: MockOpenAIMedia,
  db: Kysely<Database>,
  key: string,
  i: number,
): Promise<{ id: string; job: string }> {
  mock.faultAt.push(POLL_FAILS);
  const id = await submitExecution(gw.url, key, video(i));
  const row = await waitFor(
    'PENDING again with its job recorded',
    () => executionRow(db, id),
    (r) => r.status === 'PENDING' && Number(r.attempts) === 1 && r.upstream_job !== null,
  );
  return { id, job: jobIdOf(row.upstream_job) };
}

async function releasedOnce(db: Kysely<Database>, id: string): Promise<void> {
  const entries = await db.selectFrom('ledger_entry').select('kind').where('hold_id', '=', id).orderBy('id').execute();
  assert.deepEqual(
    entries.map((e) => e.kind),
    ['hold', 'release'],
  );
}

function config(storage: ConfigInput['storage'], baseUrl: string, cancelRetryMs?: number[]): ConfigInput {
  return {
    storage,
    logging: { level: 'info' },
    demo: { enabled: false },
    providers: [{ id: 'openai', kind: 'openai', baseUrl, keys: [MOCK_MEDIA_KEY] }],
    executions: {
      leaseMs: 1_000,
      pollMs: 100,
      backoffMs: 60_000,
      maxBackoffMs: 60_000,
      ...(cancelRetryMs ? { cancelRetryMs } : {}),
    },
  };
}

for (const kind of ['sqlite', 'postgres'] as const) {
  processSuite(`kill -9 after an execution's terminal commit, before its upstream cancel [${kind}]`, kind, (suite) => {
    let mock: MockOpenAIMedia;
    let proxy: HoldingProxy;
    before(async () => {
      mock = await startMockOpenAIMedia();
      mock.pollsToComplete = 1_000_000;
      proxy = await startHoldingProxy(mock.url);
    });
    after(async () => {
      await proxy.close();
      await mock.close();
    });

    test('the restarted gateway sends the cancel the killed one owed: exactly one reaches the provider', async (t) => {
      const storage = suite.storage();
      const cfg = config(storage, `${proxy.origin}/v1`);
      const key = await suite.seedTenant(cfg);
      const db = openDb(storage);
      try {
        const first = await suite.spawn(cfg);
        const { id, job } = await pendingWithJob(first, mock, db, key, 1);
        // The gateway's DELETE leaves it and never reaches the provider: the gateway is killed meanwhile.
        proxy.hold('DELETE', /^\/v1\/videos\//);
        await cancel(first, key, id);
        await waitFor(
          'the cancel on its way',
          async () => proxy.held(),
          (n) => n === 1,
        );
        await first.stop('SIGKILL');
        proxy.drop();
        assert.equal(deletesOf(mock, job), 0, 'the provider got no cancel');
        const ended = await executionRow(db, id);
        assert.deepEqual({ status: ended.status, job: ended.upstream_job }, { status: 'CANCELLED', job: null });
        t.diagnostic(`owed after the kill: ${JSON.stringify(await owedCancel(db, id))}`);

        const second = await suite.spawn(cfg);
        // Due again when the killed process's claim ends (CANCEL_LEASE_MS, 15 s).
        await waitFor(
          'the cancel sent again',
          async () => deletesOf(mock, job),
          (n) => n >= 1,
          60_000,
        );
        await waitFor(
          'recorded as cancelled',
          () => owedCancel(db, id),
          (r) => r?.state === 'cancelled',
        );
        assert.equal(await second.stop('SIGTERM'), 0, second.output());
        assert.equal(deletesOf(mock, job), 1, 'exactly one cancel reached the provider');
        assert.equal(mock.videos.get(job)?.deleted, true);
        const owed = await owedCancel(db, id);
        assert.equal(Number(owed?.tries), 2, 'the interrupted try counts');
        assert.ok(second.output().includes('the upstream job of an ended execution was cancelled'));
        assert.ok(!second.output().includes(MOCK_MEDIA_KEY), 'no provider secret in the logs');
        await releasedOnce(db, id);
      } finally {
        await db.destroy();
      }
    });
  });
}

processSuite('a retryable cancel failure, then the gateway stops [sqlite]', 'sqlite', (suite) => {
  let mock: MockOpenAIMedia;
  before(async () => {
    mock = await startMockOpenAIMedia();
    mock.pollsToComplete = 1_000_000;
  });
  after(() => mock.close());

  /** The provider answers 503 to the job's first delete. */
  const deleteFailsOnce = (job: string) =>
    mock.faultAt.push({
      method: 'DELETE',
      path: new RegExp(`^/v1/videos/${job}$`),
      answer: { status: 503, body: { error: { message: 'overloaded', type: 'server_error', code: null } } },
    });

  test('after SIGTERM, and after kill -9, the restarted gateway tries the cancel again and it succeeds', async () => {
    const storage = suite.storage();
    const cfg = config(storage, mock.baseUrl, [4_000]);
    const key = await suite.seedTenant(cfg);
    const db = openDb(storage);
    const failedOnce = (id: string) =>
      waitFor(
        'the first try failed, the next one waits',
        () => owedCancel(db, id),
        (r) => r?.state === 'pending' && Number(r.tries) === 1 && r.last_status === 503 && r.lease_token === null,
      );
    try {
      // 1. A fails retryably; the gateway stops gracefully before the next try.
      const first = await suite.spawn(cfg);
      const a = await pendingWithJob(first, mock, db, key, 1);
      deleteFailsOnce(a.job);
      await cancel(first, key, a.id);
      await failedOnce(a.id);
      assert.equal(await first.stop('SIGTERM'), 0, first.output());
      assert.equal((await owedCancel(db, a.id))?.state, 'pending', 'a stop gives nothing up');
      assert.ok(!first.output().includes('it may run on'), 'nothing logged as given up');
      assert.equal(deletesOf(mock, a.job), 1);

      // 2. The restarted gateway tries A again. B fails retryably, and this gateway is killed before B's next try.
      const second = await suite.spawn(cfg);
      const b = await pendingWithJob(second, mock, db, key, 2);
      await waitFor(
        'A cancelled after the restart',
        () => owedCancel(db, a.id),
        (r) => r?.state === 'cancelled',
      );
      deleteFailsOnce(b.job);
      await cancel(second, key, b.id);
      await failedOnce(b.id);
      await second.stop('SIGKILL');
      assert.equal(deletesOf(mock, b.job), 1);

      // 3. The next start tries B again.
      const third = await suite.spawn(cfg);
      await waitFor(
        'B cancelled after the restart',
        () => owedCancel(db, b.id),
        (r) => r?.state === 'cancelled',
      );
      assert.equal(await third.stop('SIGTERM'), 0, third.output());
      for (const { id, job } of [a, b]) {
        assert.equal(deletesOf(mock, job), 2, `${job}: the 503, then the try after the restart`);
        assert.equal(mock.videos.get(job)?.deleted, true);
        assert.equal(Number((await owedCancel(db, id))?.tries), 2);
        await releasedOnce(db, id);
      }
    } finally {
      await db.destroy();
    }
  });
});
