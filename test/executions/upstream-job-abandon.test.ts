import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConfigInput } from '../../src/config/schema.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { deletesOf, jobIdOf, POLL_FAILS, waitFor as until, video } from '../helpers/upstream-jobs.ts';
import { MOCK_MEDIA_KEY, type MockOpenAIMedia, startMockOpenAIMedia } from '../mocks/openai-media.ts';
import { type AdminClient, adminClient, createKey, startTenancyGateway } from '../tenancy/helpers.ts';

/**
 * Decisions 0042 and 0045: an execution that ends without a run to stop its recorded upstream job (cancelled while
 * PENDING between runs, out of time while queued) has that job cancelled upstream once, through the provider
 * adapter's own delete, with the key the job names; the row's job is cleared and the cancel owed (a row of
 * `upstream_cancel`) in the terminal transaction. A provider that refuses or cannot be reached changes nothing of
 * the terminal state or the hold's release: a log line and `modro_execution_upstream_cancels_total{outcome="failed"}`.
 * OpenAI videos against the SDK-checked mock.
 */
const VIDEO = video('sunrise');

interface Row {
  status: string;
  attempts: number;
  upstream_job: string | null;
  error_code: string | null;
}

function gatewayConfig(mock: MockOpenAIMedia, extra: Partial<ConfigInput> = {}): ConfigInput {
  return {
    demo: { enabled: false },
    providers: [{ id: 'openai', kind: 'openai', baseUrl: mock.baseUrl, keys: [MOCK_MEDIA_KEY] }],
    executions: { pollMs: 50, leaseMs: 3_000, backoffMs: 60_000, maxBackoffMs: 60_000, cancelRetryMs: [50, 50, 50] },
    ...extra,
  };
}

async function billedTenant(admin: AdminClient, id: string): Promise<string> {
  await admin.json('POST', '/admin/api/tenants', { id });
  await admin.json('POST', '/admin/api/tenants/' + id + '/account');
  await admin.json('POST', `/admin/api/tenants/${id}/ledger`, { kind: 'credit', amountUsd: '50', reason: 'test' });
  return (await createKey(admin, id)).key;
}

async function call(gw: TestGateway, key: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${gw.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function rowOf(gw: TestGateway, id: string): Promise<Row> {
  return gw.runtime.store.db
    .selectFrom('execution')
    .select(['status', 'attempts', 'upstream_job', 'error_code'])
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
}

/** Submits a video whose first poll fails: resolves when it is PENDING again with its job recorded. */
async function pendingWithJob(
  gw: TestGateway,
  mock: MockOpenAIMedia,
  key: string,
): Promise<{ id: string; job: string }> {
  mock.faultAt.push(POLL_FAILS);
  const submitted = await call(gw, key, 'POST', '/v1/executions', VIDEO);
  assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
  const id = submitted.body['id'] as string;
  const row = await until(
    'PENDING again with its job recorded',
    () => rowOf(gw, id),
    (r) => r.status === 'PENDING' && Number(r.attempts) === 1 && r.upstream_job !== null,
  );
  const job = jobIdOf(row.upstream_job);
  assert.equal(mock.videos.get(job)?.status, 'queued', 'the job runs upstream');
  return { id, job };
}

async function holdCloses(gw: TestGateway, id: string): Promise<string[]> {
  const entries = await gw.runtime.store.db
    .selectFrom('ledger_entry')
    .select('kind')
    .where('hold_id', '=', id)
    .orderBy('id')
    .execute();
  return entries.map((e) => e.kind);
}

async function cancelsMetric(gw: TestGateway, outcome: string): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`modro_execution_upstream_cancels_total{outcome="${outcome}"}`));
  assert.ok(line, `the metric's ${outcome} series`);
  return Number(line.split(' ').at(-1));
}

const logLines = (gw: TestGateway, msg: string) =>
  gw.logs
    .flatMap((chunk) => chunk.split('\n'))
    .filter((l) => l.includes(msg))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** Cancels execution `id` through the API: CANCELLED at once, its job taken off the row, its hold released once. */
async function cancelAndCheckRow(gw: TestGateway, key: string, id: string): Promise<void> {
  const cancelled = await call(gw, key, 'POST', `/v1/executions/${id}/cancel`);
  assert.equal(cancelled.status, 200);
  assert.equal(cancelled.body['status'], 'CANCELLED');
  const row = await rowOf(gw, id);
  assert.deepEqual({ status: row.status, upstream_job: row.upstream_job }, { status: 'CANCELLED', upstream_job: null });
  assert.deepEqual(await holdCloses(gw, id), ['hold', 'release']);
}

describe('upstream jobs of executions cancelled while PENDING (decision 0042)', () => {
  let mock: MockOpenAIMedia;
  let gw: TestGateway;
  let key: string;
  before(async () => {
    mock = await startMockOpenAIMedia();
    mock.pollsToComplete = 1_000_000;
    gw = await startTenancyGateway(gatewayConfig(mock));
    key = await billedTenant(await adminClient(gw), 'acme');
  });
  after(async () => {
    await gw?.close();
    await mock?.close();
  });

  test('a cancel while PENDING deletes the recorded job upstream exactly once; CANCELLED, the hold released once', async () => {
    const { id, job } = await pendingWithJob(gw, mock, key);
    await cancelAndCheckRow(gw, key, id);
    // A second cancel answers the cancelled execution and stops nothing more.
    assert.equal((await call(gw, key, 'POST', `/v1/executions/${id}/cancel`)).body['status'], 'CANCELLED');
    await gw.runtime.executions.abandoner.settled();
    assert.equal(deletesOf(mock, job), 1, 'one DELETE of that job');
    assert.equal(mock.videos.get(job)?.deleted, true);
    const [line] = logLines(gw, 'the upstream job of an ended execution was cancelled');
    assert.ok(line, 'the cancel is logged');
    assert.deepEqual(
      { executionId: line['executionId'], jobId: line['jobId'], provider: line['provider'], keyId: line['keyId'] },
      { executionId: id, jobId: job, provider: 'openai', keyId: 'openai#1' },
    );
    assert.ok(!gw.logs.join('').includes(MOCK_MEDIA_KEY), 'no provider secret in the logs');
    assert.equal(await cancelsMetric(gw, 'cancelled'), 1);
    await gw.runtime.ledger.flush();
    assert.equal(gw.runtime.ledger.account('acme')!.heldNano, 0);
  });

  test('a provider that answers 500 to the delete once: still CANCELLED and released; the cancel is tried again and succeeds', async () => {
    const { id, job } = await pendingWithJob(gw, mock, key);
    const failedBefore = await cancelsMetric(gw, 'failed');
    const cancelledBefore = await cancelsMetric(gw, 'cancelled');
    mock.faultAt.push({
      method: 'DELETE',
      path: new RegExp(`^/v1/videos/${job}$`),
      answer: {
        status: 500,
        body: { error: { message: 'The server had an error.', type: 'server_error', code: null } },
      },
    });
    await cancelAndCheckRow(gw, key, id);
    await gw.runtime.executions.abandoner.settled();
    assert.equal(deletesOf(mock, job), 2, 'the 500, then a second try');
    assert.equal(mock.videos.get(job)?.deleted, true);
    const retry = logLines(gw, 'could not be cancelled yet').find((l) => l['jobId'] === job);
    assert.ok(retry, 'the failed try is logged');
    assert.equal(retry['status'], 500);
    assert.equal(retry['retryInMs'], 50);
    const done = logLines(gw, 'was cancelled').find((l) => l['jobId'] === job);
    assert.equal(done?.['tries'], 2);
    assert.equal(await cancelsMetric(gw, 'cancelled'), cancelledBefore + 1);
    assert.equal(await cancelsMetric(gw, 'failed'), failedBefore, 'not counted as failed');
  });

  test('a refusal that is not retryable (403): not tried again; given up, recorded on the owed cancel, logged once', async () => {
    const { id, job } = await pendingWithJob(gw, mock, key);
    const failedBefore = await cancelsMetric(gw, 'failed');
    mock.faultAt.push({
      method: 'DELETE',
      path: new RegExp(`^/v1/videos/${job}$`),
      answer: { status: 403, body: { error: { message: 'Forbidden.', type: 'invalid_request_error', code: null } } },
    });
    assert.equal((await call(gw, key, 'POST', `/v1/executions/${id}/cancel`)).body['status'], 'CANCELLED');
    await gw.runtime.executions.abandoner.settled();
    await sleep(200); // the workers' sweeps find nothing more to try
    assert.equal(deletesOf(mock, job), 1, 'one try');
    assert.equal(mock.videos.get(job)?.deleted, false);
    const owed = await gw.runtime.store.db
      .selectFrom('upstream_cancel')
      .select(['state', 'tries', 'last_status', 'last_code'])
      .where('execution_id', '=', id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(
      { state: owed.state, tries: Number(owed.tries), status: Number(owed.last_status) },
      { state: 'failed', tries: 1, status: 403 },
    );
    const given = logLines(gw, 'could not be cancelled; it may run on').filter((l) => l['jobId'] === job);
    assert.equal(given.length, 1, 'logged once');
    assert.equal(given[0]!['status'], 403);
    assert.equal(await cancelsMetric(gw, 'failed'), failedBefore + 1);
    assert.deepEqual(await holdCloses(gw, id), ['hold', 'release']);

    // The operator sees it: the admin API lists the cancels given up, with the job and key ids, never a secret.
    const admin = await adminClient(gw);
    const listed = await admin.json<{ data: Array<Record<string, unknown>>; next: string | null }>(
      'GET',
      '/admin/api/upstream-cancels?state=failed',
    );
    const row = listed.data.find((r) => r['execution_id'] === id);
    assert.ok(row, JSON.stringify(listed));
    assert.deepEqual(
      {
        state: row['state'],
        tries: row['tries'],
        status: row['last_status'],
        job: row['job_id'],
        provider: row['provider'],
        tenant: row['tenant_id'],
      },
      { state: 'failed', tries: 1, status: 403, job, provider: 'openai', tenant: 'acme' },
    );
    assert.match(String(row['provider_key']), /^openai#\d+$/);
    assert.doesNotMatch(JSON.stringify(listed), new RegExp(MOCK_MEDIA_KEY));
    const pending = await admin.json<{ data: Array<Record<string, unknown>> }>(
      'GET',
      '/admin/api/upstream-cancels?state=pending',
    );
    assert.ok(!pending.data.some((r) => r['execution_id'] === id), 'not listed as pending');
    const page = await admin.json<{ data: unknown[]; next: string | null }>(
      'GET',
      '/admin/api/upstream-cancels?limit=1',
    );
    assert.equal(page.data.length, 1);
    assert.ok(page.next, 'a cursor to the next page');
    assert.equal((await admin.request('GET', '/admin/api/upstream-cancels?state=lost')).status, 400);
    assert.equal((await fetch(`${gw.url}/admin/api/upstream-cancels`)).status, 401, 'admins only');
  });

  test('a cancel while the job is polled: the run stops and the job is deleted once (by the cancel, not twice)', async () => {
    const submitted = await call(gw, key, 'POST', '/v1/executions', VIDEO);
    const id = submitted.body['id'] as string;
    const row = await until(
      'polling its job',
      () => rowOf(gw, id),
      (r) => r.status === 'PROCESSING' && r.upstream_job !== null,
    );
    const job = jobIdOf(row.upstream_job);
    await until(
      'a poll',
      async () => mock.videos.get(job)?.polls ?? 0,
      (n) => n >= 1,
    );
    assert.equal((await call(gw, key, 'POST', `/v1/executions/${id}/cancel`)).body['status'], 'CANCELLED');
    await gw.runtime.executions.abandoner.settled();
    await until(
      'the run stopped',
      async () => gw.runtime.executions.worker.running,
      (n) => n === 0,
    );
    const polls = mock.videos.get(job)!.polls;
    await sleep(300);
    assert.equal(deletesOf(mock, job), 1, 'one DELETE of that job');
    assert.equal(mock.videos.get(job)!.polls, polls, 'no poll after the cancel');
    assert.deepEqual(await holdCloses(gw, id), ['hold', 'release']);
  });

  test('a provider that cannot be reached: still CANCELLED and released; tried four times, then logged and counted as failed', async () => {
    const { id, job } = await pendingWithJob(gw, mock, key);
    const failedBefore = await cancelsMetric(gw, 'failed');
    const before = mock.requests.length;
    await mock.close(); // connection refused from now on
    const cancelled = await call(gw, key, 'POST', `/v1/executions/${id}/cancel`);
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body['status'], 'CANCELLED');
    await gw.runtime.executions.abandoner.settled();
    assert.equal(mock.requests.length, before, 'nothing reached the provider');
    const row = await rowOf(gw, id);
    assert.deepEqual(
      { status: row.status, upstream_job: row.upstream_job },
      { status: 'CANCELLED', upstream_job: null },
    );
    assert.deepEqual(await holdCloses(gw, id), ['hold', 'release']);
    const line = logLines(gw, 'could not be cancelled; it may run on').find((l) => l['jobId'] === job);
    assert.ok(line, 'the failure is logged');
    assert.equal(line['code'], 'provider_unavailable');
    assert.equal(line['tries'], 4, 'given up after the three further tries of cancelRetryMs');
    assert.equal(await cancelsMetric(gw, 'failed'), failedBefore + 1);
    assert.ok(!gw.logs.join('').includes(MOCK_MEDIA_KEY), 'no provider secret in the logs');
    await gw.runtime.ledger.flush();
    assert.equal(gw.runtime.ledger.account('acme')!.heldNano, 0);
  });
});

describe('upstream jobs of executions whose deadline passed while queued (decision 0042)', () => {
  let mock: MockOpenAIMedia;
  before(async () => {
    mock = await startMockOpenAIMedia();
    mock.pollsToComplete = 1_000_000;
  });
  after(() => mock?.close());

  test('queued across a restart past its deadline: FAILED timeout, its job deleted upstream exactly once, released once', async () => {
    const deadlineMs = 3_000;
    const first = await startTenancyGateway(
      gatewayConfig(mock, { executions: { pollMs: 50, deadlineMs }, server: { shutdownGraceMs: 50 } }),
    );
    const path = join(first.dataDir, 'modro.db');
    let id: string;
    let job: string;
    let submittedAt: number;
    try {
      const key = await billedTenant(await adminClient(first), 'late');
      submittedAt = Date.now();
      const submitted = await call(first, key, 'POST', '/v1/executions', VIDEO);
      assert.equal(submitted.status, 202);
      id = submitted.body['id'] as string;
      const row = await until(
        'its job recorded',
        () => rowOf(first, id),
        (r) => r.upstream_job !== null,
      );
      job = jobIdOf(row.upstream_job);
    } finally {
      // Shutdown puts the run back in the queue with its job recorded (decision 0038).
      await first.runtime.shutdown();
    }
    try {
      const second = await (async () => {
        await sleep(Math.max(0, submittedAt + deadlineMs + 200 - Date.now()));
        assert.equal(mock.videos.get(job)?.deleted, false, 'the shutdown left the job running');
        return startTenancyGateway(
          gatewayConfig(mock, { storage: { kind: 'sqlite', path }, executions: { pollMs: 50, deadlineMs } }),
        );
      })();
      try {
        const row = await until(
          'ended',
          () => rowOf(second, id),
          (r) => r.status !== 'PENDING' && r.status !== 'PROCESSING',
        );
        assert.deepEqual(
          {
            status: row.status,
            error_code: row.error_code,
            upstream_job: row.upstream_job,
            attempts: Number(row.attempts),
          },
          { status: 'FAILED', error_code: 'timeout', upstream_job: null, attempts: 2 },
        );
        await second.runtime.executions.abandoner.settled();
        assert.equal(deletesOf(mock, job), 1, 'one DELETE of that job');
        assert.equal(mock.videos.get(job)?.deleted, true);
        assert.equal(mock.videos.get(job)?.polls, 0, 'never polled: the execution was out of time when claimed');
        assert.deepEqual(await holdCloses(second, id), ['hold', 'release']);
        assert.equal(await cancelsMetric(second, 'cancelled'), 1);

        // And a run under way at its deadline: aborted, FAILED timeout, its job deleted once.
        const key = (await createKey(await adminClient(second), 'late')).key;
        const live = await call(second, key, 'POST', '/v1/executions', VIDEO);
        const liveId = live.body['id'] as string;
        const polled = await until(
          'its job recorded',
          () => rowOf(second, liveId),
          (r) => r.upstream_job !== null,
        );
        const liveJob = jobIdOf(polled.upstream_job);
        const end = await until(
          'ended at its deadline',
          () => rowOf(second, liveId),
          (r) => r.status !== 'PENDING' && r.status !== 'PROCESSING',
        );
        assert.deepEqual(
          { status: end.status, error_code: end.error_code, upstream_job: end.upstream_job },
          { status: 'FAILED', error_code: 'timeout', upstream_job: null },
        );
        await second.runtime.executions.abandoner.settled();
        await sleep(300);
        assert.equal(deletesOf(mock, liveJob), 1, 'one DELETE of that job');
        assert.deepEqual(await holdCloses(second, liveId), ['hold', 'release']);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(first.dataDir, { recursive: true, force: true });
    }
  });
});
