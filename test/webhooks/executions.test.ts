import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI from 'openai';
import { Webhook } from 'standardwebhooks';
import { mockProvider, type TestGateway } from '../helpers/gateway.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import { adminClient, createTenantWithKey, startTenancyGateway } from '../tenancy/helpers.ts';
import { type Receiver, startReceiver } from './receiver.ts';

/**
 * Executions and their webhooks end to end on one gateway: an execution submitted with the `openai` SDK and a
 * `webhook_url` ends COMPLETED (or CANCELLED), and its terminal state reaches a loopback receiver, verified
 * with the tenant's secret by the Standard Webhooks package, `webhook-id` = `msg_<execution id>`; the delivery
 * shows in the tenant's log. Without `webhooks.allowPrivateNetworks`, a loopback `webhook_url` is a 400.
 */
describe('executions → signed webhooks', () => {
  let mock: MockOpenAI;
  let receiver: Receiver;
  let gw: TestGateway;
  let key: string;
  let client: OpenAI;

  before(async () => {
    mock = await startMockOpenAI();
    receiver = await startReceiver({ behaviour: 200 });
    gw = await startTenancyGateway({
      demo: { enabled: false },
      logging: { level: 'warn' },
      providers: [mockProvider('up', mock.url, [{ name: 'gpt-4o-mini', qualityRank: 70, tiers: ['fast'] }])],
      executions: { pollMs: 100 },
      webhooks: { allowPrivateNetworks: true, pollMs: 50 },
    });
    const admin = await adminClient(gw);
    key = (await createTenantWithKey(admin, { id: 'hooked' })).key;
    client = new OpenAI({ baseURL: gw.baseURL, apiKey: key, maxRetries: 0 });
  });
  after(async () => {
    await gw?.close();
    await receiver?.stop();
    await mock?.close();
  });

  test('a completed execution’s webhook arrives signed, with its id and result, and is in the log', async () => {
    const { id } = await client.post<{ id: string }>('/executions', {
      body: {
        model: 'fast',
        input: { messages: [{ role: 'user', content: 'hello hook' }] },
        webhook_url: receiver.url,
        metadata: { order: '7' },
      },
    });
    const got = (await receiver.waitFor(1, 20_000))[0]!;
    assert.equal(got.headers['webhook-id'], `msg_${id}`);
    const secret = (await client.get<{ secret: string }>('/webhooks/secret')).secret;
    const event = new Webhook(secret).verify(got.body, got.headers) as {
      type: string;
      data: { id: string; status: string; output: { text: string }; metadata: Record<string, string> };
    };
    assert.equal(event.type, 'execution.completed');
    assert.equal(event.data.id, id);
    assert.equal(event.data.status, 'COMPLETED');
    assert.equal(event.data.output.text, 'Echo: hello hook');
    assert.deepEqual(event.data.metadata, { order: '7' });
    assert.ok(!got.body.includes(mock.url), 'no provider URL in the webhook');

    const deadline = Date.now() + 5_000;
    let log: { data: Array<{ message_id: string; status: string; attempts: Array<{ status_code: number }> }> };
    for (;;) {
      log = await client.get('/webhooks/deliveries', { query: { message_id: `msg_${id}` } });
      if (log.data[0]?.status === 'delivered' || Date.now() > deadline) break;
      await sleep(20);
    }
    assert.equal(log.data[0]!.status, 'delivered');
    assert.deepEqual(
      log.data[0]!.attempts.map((a) => a.status_code),
      [200],
    );
  });

  test('a loopback webhook_url is refused at submission unless the operator allows private networks', async () => {
    const strict = await startTenancyGateway({
      demo: { enabled: false },
      logging: { level: 'warn' },
      providers: [mockProvider('up', mock.url, [{ name: 'gpt-4o-mini', qualityRank: 70, tiers: ['fast'] }])],
    });
    try {
      const admin = await adminClient(strict);
      const { key: strictKey } = await createTenantWithKey(admin, { id: 'strict' });
      for (const url of [
        receiver.url,
        'http://169.254.169.254/latest',
        'http://[::1]/hook',
        'https://u:p@example.com/x',
      ]) {
        const res = await fetch(`${strict.url}/v1/executions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${strictKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            model: 'fast',
            input: { messages: [{ role: 'user', content: 'x' }] },
            webhook_url: url,
          }),
        });
        const body = (await res.json()) as { error: { code: string; param: string } };
        assert.equal(res.status, 400, url);
        assert.deepEqual([body.error.code, body.error.param], ['invalid_request', 'webhook_url'], url);
      }
      const ok = await fetch(`${strict.url}/v1/executions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${strictKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'fast',
          input: { messages: [{ role: 'user', content: 'x' }] },
          webhook_url: 'https://hooks.example.com/modro',
        }),
      });
      assert.equal(ok.status, 202, await ok.clone().text());
      await ok.arrayBuffer();
    } finally {
      await strict.close();
    }
  });
});
