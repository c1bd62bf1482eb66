import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Webhook } from 'standardwebhooks';
import { runTenancyCommand } from '../../src/cli/tenancy-commands.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import { mockProvider } from '../helpers/gateway.ts';
import { type GatewayProcess, spawnGateway } from '../helpers/gateway-process.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import { type Receiver, startReceiver } from './receiver.ts';

/**
 * `modro worker` beside a gateway that neither runs executions nor delivers webhooks (`executions.enabled` and
 * `webhooks.deliver` both false): the worker runs the executions and delivers their webhooks, signed with the
 * secret the gateway's API shows (one SQLite database, one data folder).
 */
describe('modro worker delivers webhooks (SQLite)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'modro-hook-worker-'));
  let mock: MockOpenAI | undefined;
  let receiver: Receiver | undefined;
  let gateway: GatewayProcess | undefined;
  let worker: ChildProcess | undefined;

  after(async () => {
    // Only the processes this test started, by their own handle.
    if (worker && worker.exitCode === null) worker.kill('SIGKILL');
    if (gateway && gateway.exitCode() === null) await gateway.stop('SIGKILL');
    await receiver?.stop();
    await mock?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the gateway queues, the worker runs and delivers, signed with the tenant’s secret', async () => {
    mock = await startMockOpenAI();
    receiver = await startReceiver({ behaviour: 200 });
    const config: ConfigInput = {
      storage: { kind: 'sqlite', path: join(dir, 'modro.db') },
      logging: { level: 'warn' },
      demo: { enabled: false },
      providers: [mockProvider('up', mock.url, [{ name: 'gpt-4o-mini', qualityRank: 70, tiers: ['fast'] }])],
      executions: { enabled: false, pollMs: 100 },
      webhooks: { deliver: false, allowPrivateNetworks: true, pollMs: 50 },
    };
    const configPath = join(dir, 'cli.yaml');
    writeFileSync(configPath, JSON.stringify(config));
    let out = '';
    const sink = {
      write: (t: string) => {
        out += t;
        return true;
      },
    };
    await runTenancyCommand(['tenants', 'create', 'acme', '--config', configPath], {}, sink, sink);
    assert.equal(
      await runTenancyCommand(['keys', 'create', '--tenant', 'acme', '--json', '--config', configPath], {}, sink, sink),
      0,
      out,
    );
    const key = (JSON.parse(out.slice(out.indexOf('{'))) as { key: string }).key;

    gateway = await spawnGateway(config, dir);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${gateway.url}/v1/executions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'fast',
          input: { messages: [{ role: 'user', content: `hook ${i}` }] },
          webhook_url: receiver.url,
        }),
      });
      assert.equal(res.status, 202, await res.clone().text());
      ids.push(((await res.json()) as { id: string }).id);
    }
    await sleep(300);
    assert.equal(receiver.received.length, 0, 'nothing ran or was delivered by the gateway');

    const child = spawn(process.execPath, ['src/cli/main.ts', 'worker', '--config', configPath], {
      cwd: new URL('../..', import.meta.url).pathname,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker = child;
    let log = '';
    child.stdout!.on('data', (d) => {
      log += d;
    });
    child.stderr!.on('data', (d) => {
      log += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await receiver.waitFor(ids.length, 30_000);
    const secret = (
      (await (
        await fetch(`${gateway.url}/v1/webhooks/secret`, { headers: { authorization: `Bearer ${key}` } })
      ).json()) as { secret: string }
    ).secret;
    const delivered = receiver.received.map((r) => {
      const event = new Webhook(secret).verify(r.body, r.headers) as { type: string; data: { id: string } };
      assert.equal(r.headers['webhook-id'], `msg_${event.data.id}`);
      assert.equal(event.type, 'execution.completed');
      return event.data.id;
    });
    assert.deepEqual(delivered.sort(), [...ids].sort());
    child.kill('SIGTERM');
    assert.equal(await exited, 0, log);
    assert.equal(await gateway.stop('SIGTERM'), 0, gateway.output());
  });
});
