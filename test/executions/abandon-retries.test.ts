import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { GatewayError } from '../../src/core/errors.ts';
import type { ExecutionRunner, UpstreamJob } from '../../src/core/execution-contracts.ts';
import { UpstreamJobAbandoner } from '../../src/executions/abandon.ts';
import { RunnerRegistry } from '../../src/executions/registry.ts';
import type { Logger } from '../../src/ops/logger.ts';

/**
 * The retries of an upstream cancel (decision 0042): a retryable failure is tried again after each wait of
 * `executions.cancelRetryMs`, a refusal that is not retryable is not, and a gateway that stops gives up on the
 * tries still waiting (logged and counted as failed) instead of waiting for them. The end-to-end cases against
 * the OpenAI videos mock are in upstream-job-abandon.test.ts.
 */

const JOB: UpstreamJob = { id: 'video_1', provider: 'openai', model: 'sora-2', key: 'openai#1' } as UpstreamJob;

function setup(failures: GatewayError[], retryMs: number[]) {
  const lines: Array<{ level: string; facts: Record<string, unknown>; msg: string }> = [];
  const log = (level: string) => (facts: Record<string, unknown>, msg: string) => lines.push({ level, facts, msg });
  const logger = { info: log('info'), warn: log('warn'), error: log('error') } as unknown as Logger;
  let calls = 0;
  const runner = {
    kinds: ['video'],
    abandon: async () => {
      calls++;
      const failure = failures.shift();
      if (failure) throw failure;
    },
  } as unknown as ExecutionRunner;
  const abandoner = new UpstreamJobAbandoner(
    new RunnerRegistry().add(runner, () => undefined),
    logger,
    retryMs,
  );
  const row = { id: 'exec_1', tenantId: 't1', kind: 'video', job: JSON.stringify(JOB) };
  return { abandoner, row, lines, calls: () => calls };
}

test('a retryable failure is tried again after each wait; success ends it, counted once as cancelled', async () => {
  const unavailable = () => new GatewayError('provider_unavailable', 'overloaded', { upstreamStatus: 503 });
  const { abandoner, row, lines, calls } = setup([unavailable(), unavailable()], [20, 20, 20]);
  abandoner.abandon(row);
  await abandoner.settled();
  assert.equal(calls(), 3);
  assert.deepEqual(abandoner.counters, { cancelled: 1, failed: 0 });
  assert.deepEqual(
    lines.map((l) => [l.level, l.facts['tries']]),
    [
      ['info', 1],
      ['info', 2],
      ['info', 3],
    ],
  );
  assert.match(lines.at(-1)!.msg, /was cancelled/);
});

test('a refusal that is not retryable (401) is not tried again', async () => {
  const { abandoner, row, lines, calls } = setup(
    [new GatewayError('authentication_failed', 'bad key', { upstreamStatus: 401 })],
    [20, 20, 20],
  );
  abandoner.abandon(row);
  await abandoner.settled();
  assert.equal(calls(), 1);
  assert.deepEqual(abandoner.counters, { cancelled: 0, failed: 1 });
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.level, 'warn');
  assert.equal(lines[0]!.facts['status'], 401);
});

test('retries run out: counted once as failed after the last wait', async () => {
  const unavailable = () => new GatewayError('timeout', 'slow');
  const { abandoner, row, calls } = setup([unavailable(), unavailable(), unavailable()], [10, 10]);
  abandoner.abandon(row);
  await abandoner.settled();
  assert.equal(calls(), 3, 'the first try and one per wait');
  assert.deepEqual(abandoner.counters, { cancelled: 0, failed: 1 });
});

test('a stopping gateway gives up on a try still waiting, at once, logged and counted as failed', async () => {
  const { abandoner, row, lines, calls } = setup(
    [new GatewayError('provider_unavailable', 'overloaded', { upstreamStatus: 503 })],
    [60_000],
  );
  abandoner.abandon(row);
  while (!lines.some((l) => l.facts['retryInMs'] === 60_000)) await sleep(2);
  assert.equal(abandoner.pending, 1, 'waiting for its next try');
  const started = Date.now();
  await abandoner.drain();
  assert.ok(Date.now() - started < 1_000, 'drain does not wait for the next try');
  assert.equal(abandoner.pending, 0);
  assert.equal(calls(), 1);
  assert.deepEqual(abandoner.counters, { cancelled: 0, failed: 1 });
  const last = lines.at(-1)!;
  assert.equal(last.level, 'warn');
  assert.equal(last.facts['stopping'], 'the gateway is stopping');
  assert.match(last.msg, /it may run on/);
});
