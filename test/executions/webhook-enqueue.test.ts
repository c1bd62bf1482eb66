import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Transaction } from 'kysely';
import type { WebhookEnqueue, WebhookMessage } from '../../src/core/execution-contracts.ts';
import type { Database } from '../../src/store/schema.ts';
import { mockProvider, type TestGateway } from '../helpers/gateway.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import { startTenancyGateway } from '../tenancy/helpers.ts';

/**
 * The seam to webhook delivery (contracts.ts): on the terminal transition of an execution with a webhook_url,
 * the worker calls `WebhookEnqueue.enqueue` inside the transaction of the state change, once, with a stable
 * message id. If the enqueue fails, the state change does not happen either, and the execution is run again
 * once its lease expires: the message exists exactly when the terminal state does.
 */
describe('executions → WebhookEnqueue', () => {
  let mock: MockOpenAI;
  let gw: TestGateway;
  const messages: Array<WebhookMessage & { statusInTrx: string }> = [];
  let failNext = 0;
  const webhooks: WebhookEnqueue = {
    async enqueue(trx, message) {
      const row = await (trx as Transaction<Database>)
        .selectFrom('execution')
        .select('status')
        .where('id', '=', message.data['id'] as string)
        .executeTakeFirstOrThrow();
      if (failNext > 0) {
        failNext--;
        throw new Error('webhook store unavailable');
      }
      messages.push({ ...message, statusInTrx: row.status });
    },
  };

  before(async () => {
    mock = await startMockOpenAI();
    gw = await startTenancyGateway(
      {
        demo: { enabled: false },
        logging: { level: 'fatal' },
        providers: [mockProvider('up', mock.url, [{ name: 'gpt-4o-mini', qualityRank: 70, tiers: ['fast'] }])],
        executions: { leaseMs: 1_000, pollMs: 100 },
      },
      {},
      { executions: { webhooks } },
    );
  });
  after(async () => {
    await gw?.close();
    await mock?.close();
  });

  const submit = (body: Record<string, unknown>) =>
    gw.client.post<{ id: string }>('/executions', {
      body: { model: 'fast', input: { messages: [{ role: 'user', content: 'hi' }] }, ...body },
    });
  async function ended(id: string): Promise<{ status: string; attempts: number }> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const e = await gw.client.get<{ status: string; attempts: number }>(`/executions/${id}`);
      if (!['PENDING', 'PROCESSING'].includes(e.status)) return e;
      assert.ok(Date.now() < deadline, `stuck: ${JSON.stringify(e)}`);
      await sleep(20);
    }
  }

  test('one message per terminal state, in its transaction; none without a webhook_url', async () => {
    const { id } = await submit({ webhook_url: 'https://example.com/hook', metadata: { a: 'b' } });
    assert.equal((await ended(id)).status, 'COMPLETED');
    const { id: quiet } = await submit({});
    await ended(quiet);
    const cancelled = await submit({ webhook_url: 'https://example.com/hook' });
    await gw.client.post(`/executions/${cancelled.id}/cancel`);
    await sleep(200);
    const mine = messages.filter((m) => m.data['id'] === id);
    assert.equal(mine.length, 1);
    assert.equal(mine[0]!.messageId, `msg_${id}`);
    assert.equal(mine[0]!.type, 'execution.completed');
    assert.equal(mine[0]!.url, 'https://example.com/hook');
    assert.equal(mine[0]!.tenantId, 'default');
    assert.equal(mine[0]!.statusInTrx, 'COMPLETED', 'called inside the transaction that ended it');
    assert.equal(mine[0]!.data['status'], 'COMPLETED');
    assert.deepEqual(mine[0]!.data['metadata'], { a: 'b' });
    assert.equal(messages.filter((m) => m.data['id'] === quiet).length, 0);
    const cancel = messages.filter((m) => m.data['id'] === cancelled.id);
    assert.deepEqual(
      cancel.map((m) => m.type),
      ['execution.cancelled'],
    );
  });

  test('an output too large for a webhook (over 256 KiB) is left out, flagged; GET has it whole', async () => {
    const big = 'lorem ipsum '.repeat(25_000); // 300,000 bytes
    mock.options.reply = big;
    try {
      const { id } = await submit({ webhook_url: 'https://example.com/hook' });
      assert.equal((await ended(id)).status, 'COMPLETED');
      const [message] = messages.filter((m) => m.data['id'] === id);
      assert.ok(message);
      assert.equal(message.data['output'], null);
      assert.equal(message.data['output_omitted'], true);
      assert.equal(message.data['status'], 'COMPLETED');
      assert.ok(message.data['usage'], 'the rest of the execution is there');
      const body = JSON.stringify({ type: message.type, timestamp: new Date().toISOString(), data: message.data });
      assert.ok(Buffer.byteLength(body) <= 256 * 1024, `${Buffer.byteLength(body)} bytes`);
      const whole = await gw.client.get<{ output: { text: string } }>(`/executions/${id}`);
      assert.equal(whole.output.text, big);
    } finally {
      delete mock.options.reply;
    }
    // Under the cap the output is carried, with no flag.
    const { id: small } = await submit({ webhook_url: 'https://example.com/hook' });
    await ended(small);
    const [carried] = messages.filter((m) => m.data['id'] === small);
    assert.equal((carried!.data['output'] as { text: string }).text, 'Echo: hi');
    assert.equal(carried!.data['output_omitted'], undefined);
  });

  test('an enqueue that fails rolls the state change back; the execution runs again and ends once', async () => {
    failNext = 1;
    const { id } = await submit({ webhook_url: 'https://example.com/hook' });
    const e = await ended(id);
    assert.equal(e.status, 'COMPLETED');
    assert.equal(e.attempts, 2, 'run again after its lease expired');
    assert.equal(messages.filter((m) => m.data['id'] === id).length, 1);
  });
});
