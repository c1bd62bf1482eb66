import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
import { mockProvider, type TestGateway } from '../helpers/gateway.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import { adminClient, createKey, startTenancyGateway } from '../tenancy/helpers.ts';

/**
 * The worker's concurrency limits (executions.perTenant, perProvider, concurrency): sampled from the queue
 * while a slow upstream holds every run, a tenant never has more runs than its limit, while another tenant's
 * executions run beside them.
 */
describe('executions: per-tenant and overall concurrency', () => {
  let mock: MockOpenAI;
  let gw: TestGateway;
  before(async () => {
    mock = await startMockOpenAI();
    mock.faults.sticky = { kind: 'delay', ms: 300 };
    gw = await startTenancyGateway({
      demo: { enabled: false },
      providers: [mockProvider('up', mock.url, [{ name: 'gpt-4o-mini', qualityRank: 70, tiers: ['fast'] }])],
      executions: { concurrency: 3, perTenant: 2, pollMs: 50 },
    });
  });
  after(async () => {
    await gw?.close();
    await mock?.close();
  });

  test('a busy tenant waits for its own runs; another tenant is served meanwhile', async () => {
    const admin = await adminClient(gw);
    await admin.json('POST', '/admin/api/tenants', { id: 'busy' });
    await admin.json('POST', '/admin/api/tenants', { id: 'calm' });
    const busy = new OpenAI({ baseURL: gw.baseURL, apiKey: (await createKey(admin, 'busy')).key, maxRetries: 0 });
    const calm = new OpenAI({ baseURL: gw.baseURL, apiKey: (await createKey(admin, 'calm')).key, maxRetries: 0 });
    const body = { model: 'fast', input: { messages: [{ role: 'user', content: 'hi' }] } };
    for (let i = 0; i < 6; i++) await busy.post('/executions', { body });
    const { id: calmId } = await calm.post<{ id: string }>('/executions', { body });
    const db = gw.runtime.store.db;
    let most = { busy: 0, all: 0 };
    let calmRanWhileBusyWaited = false;
    const deadline = Date.now() + 15_000;
    for (;;) {
      const rows = await db.selectFrom('execution').select(['id', 'tenant_id', 'status']).execute();
      const running = rows.filter((r) => r.status === 'PROCESSING');
      const busyRunning = running.filter((r) => r.tenant_id === 'busy').length;
      most = { busy: Math.max(most.busy, busyRunning), all: Math.max(most.all, running.length) };
      const busyWaiting = rows.some((r) => r.tenant_id === 'busy' && r.status === 'PENDING');
      if (busyWaiting && rows.some((r) => r.id === calmId && r.status !== 'PENDING')) calmRanWhileBusyWaited = true;
      if (rows.every((r) => r.status === 'COMPLETED')) break;
      assert.ok(Date.now() < deadline, 'all complete');
      await sleep(10);
    }
    assert.equal(most.busy, 2, 'the busy tenant ran two at a time, never more');
    assert.ok(most.all <= 3, `at most 3 at once in all (saw ${most.all})`);
    assert.ok(calmRanWhileBusyWaited, "the other tenant's execution did not wait behind the busy one's queue");
  });
});
