import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Webhook } from 'standardwebhooks';
import type { ConfigInput } from '../../src/config/schema.ts';
import { mockProvider } from '../helpers/gateway.ts';
import { type GatewayProcess, spawnGateway } from '../helpers/gateway-process.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import { type Receiver, startReceiver } from './receiver.ts';

/**
 * The stage "completed, webhook not yet sent": executions end COMPLETED while their webhooks' first attempts
 * hang at the receiver, the gateway is killed with `kill -9`, and after a restart on the same data every
 * execution's webhook arrives with a 2xx, `webhook-id` = `msg_<execution id>`, verified with the tenant's secret;
 * the executions stay COMPLETED (ended once).
 */
const API_KEY = 'mdr-kill9-exec-hooks-0123456789';
const COUNT = 4;

describe('kill -9 between an execution’s end and its webhook [sqlite]', () => {
  const dir = mkdtempSync(join(tmpdir(), 'modro-kill9-exec-hooks-'));
  const processes: GatewayProcess[] = [];
  let mock: MockOpenAI | undefined;
  let receiver: Receiver | undefined;

  after(async () => {
    for (const p of processes) if (p.exitCode() === null) await p.stop('SIGKILL');
    await receiver?.stop();
    await mock?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('every webhook is delivered after the restart with its execution’s message id', async () => {
    mock = await startMockOpenAI();
    receiver = await startReceiver({ behaviour: 'hang' });
    const config: ConfigInput = {
      auth: { keys: [{ id: 'k', key: API_KEY }] },
      logging: { level: 'warn' },
      demo: { enabled: false },
      providers: [mockProvider('up', mock.url, [{ name: 'gpt-4o-mini', qualityRank: 70, tiers: ['fast'] }])],
      executions: { pollMs: 100 },
      webhooks: { allowPrivateNetworks: true, pollMs: 50, timeoutMs: 5_000, leaseMs: 6_000, perHostConcurrency: 8 },
    };
    const headers = { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' };
    const first = await spawnGateway(config, dir);
    processes.push(first);
    const ids: string[] = [];
    for (let i = 0; i < COUNT; i++) {
      const res = await fetch(`${first.url}/v1/executions`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          model: 'fast',
          input: { messages: [{ role: 'user', content: `run ${i}` }] },
          webhook_url: receiver.url,
        }),
      });
      assert.equal(res.status, 202, await res.clone().text());
      ids.push(((await res.json()) as { id: string }).id);
    }
    // Every execution ended and its webhook's first attempt is held open by the receiver: kill now.
    await receiver.waitFor(COUNT, 30_000);
    first.child.kill('SIGKILL');
    await first.stop();
    assert.equal(first.child.signalCode, 'SIGKILL');
    const cut = receiver.received.length;

    receiver.behaviour = 200;
    const second = await spawnGateway(config, dir);
    processes.push(second);
    const deadline = Date.now() + 30_000;
    const after = () => new Set(receiver!.received.slice(cut).map((r) => r.headers['webhook-id']));
    while (after().size < COUNT) {
      assert.ok(Date.now() < deadline, `delivered ${after().size} of ${COUNT} after the restart`);
      await sleep(50);
    }
    assert.deepEqual([...after()].sort(), ids.map((id) => `msg_${id}`).sort());
    const secret = ((await (await fetch(`${second.url}/v1/webhooks/secret`, { headers })).json()) as { secret: string })
      .secret;
    for (const r of receiver.received.slice(cut)) {
      const event = new Webhook(secret).verify(r.body, r.headers) as { type: string; data: { id: string } };
      assert.equal(event.type, 'execution.completed');
      assert.equal(r.headers['webhook-id'], `msg_${event.data.id}`);
    }
    for (const id of ids) {
      const e = (await (await fetch(`${second.url}/v1/executions/${id}`, { headers })).json()) as {
        status: string;
        attempts: number;
      };
      assert.equal(e.status, 'COMPLETED');
    }
    // The upstream ran each execution once: the kill came after they ended.
    assert.equal(mock.requests.filter((r) => r.path.endsWith('/chat/completions')).length, COUNT);
    assert.equal(await second.stop(), 0, second.output().slice(-1500));
  });
});
