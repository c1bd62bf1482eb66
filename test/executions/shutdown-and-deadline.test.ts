import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { mockProvider, type TestGateway } from '../helpers/gateway.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import { startTenancyGateway } from '../tenancy/helpers.ts';

/**
 * A run that outlives its execution's deadline is aborted and ends FAILED `timeout`; a run still going when the
 * gateway shuts down (after `server.shutdownGraceMs`) is aborted and put back in the queue, not failed.
 */
const MODELS = [{ name: 'gpt-4o-mini', qualityRank: 70, tiers: ['fast' as const] }];
const INPUT = { messages: [{ role: 'user', content: 'slow one' }] };

interface Execution {
  id: string;
  status: string;
  attempts: number;
  error: { code: string; retryable: boolean } | null;
}

describe('executions: deadline during a run, shutdown during a run', () => {
  let mock: MockOpenAI;
  before(async () => {
    mock = await startMockOpenAI();
    // Slower than the deadline, faster than the provider's own first-byte timeout (3 s).
    mock.faults.sticky = { kind: 'delay', ms: 2_500 };
  });
  after(async () => {
    await mock?.close();
  });

  test('past its deadline a run is aborted and the execution ends FAILED timeout', async () => {
    const gw: TestGateway = await startTenancyGateway({
      demo: { enabled: false },
      providers: [mockProvider('up', mock.url, MODELS)],
      executions: { deadlineMs: 1_000 },
    });
    try {
      const started = Date.now();
      const { id } = await gw.client.post<Execution>('/executions', { body: { model: 'fast', input: INPUT } });
      let e: Execution;
      do {
        await sleep(20);
        e = await gw.client.get<Execution>(`/executions/${id}`);
      } while (e.status === 'PENDING' || e.status === 'PROCESSING');
      assert.equal(e.status, 'FAILED');
      assert.equal(e.error?.code, 'timeout');
      assert.equal(e.attempts, 1);
      assert.ok(Date.now() - started < 2_300, 'ended at its deadline, not when the slow upstream answered');
    } finally {
      await gw.close();
    }
  });

  test('at shutdown a run still going is put back to PENDING and runs again after the restart', async () => {
    const gw: TestGateway = await startTenancyGateway({
      demo: { enabled: false },
      providers: [mockProvider('up', mock.url, MODELS)],
      server: { shutdownGraceMs: 200 },
    });
    let id: string;
    try {
      ({ id } = await gw.client.post<Execution>('/executions', { body: { model: 'fast', input: INPUT } }));
      let e: Execution;
      do {
        await sleep(20);
        e = await gw.client.get<Execution>(`/executions/${id}`);
      } while (e.status === 'PENDING');
      assert.equal(e.status, 'PROCESSING');
      await gw.runtime.shutdown();
      const db = new DatabaseSync(join(gw.dataDir, 'modro.db'), { readOnly: true });
      const row = db.prepare('select status, attempts, lease_owner from execution where id = ?').get(id) as {
        status: string;
        attempts: number;
        lease_owner: string | null;
      };
      db.close();
      assert.deepEqual({ ...row }, { status: 'PENDING', attempts: 1, lease_owner: null });
    } finally {
      await gw.runtime.shutdown();
    }
    mock.faults.clear();
    const again = await startTenancyGateway({
      demo: { enabled: false },
      providers: [mockProvider('up', mock.url, MODELS)],
      storage: { kind: 'sqlite', path: join(gw.dataDir, 'modro.db') },
    });
    try {
      let e: Execution;
      do {
        await sleep(20);
        e = await again.client.get<Execution>(`/executions/${id}`);
      } while (e.status === 'PENDING' || e.status === 'PROCESSING');
      assert.equal(e.status, 'COMPLETED');
      assert.equal(e.attempts, 2);
    } finally {
      await again.close();
      rmSync(gw.dataDir, { recursive: true, force: true });
    }
  });
});
