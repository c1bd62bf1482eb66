import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { generateMasterKey } from '../../src/channels/master-key.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import { isCI } from '../helpers/ci.ts';
import { POSTGRES_TEST_URL } from '../helpers/databases.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { type GatewayProcess, removeDataDir, spawnGateway } from '../helpers/gateway-process.ts';
import { dropPrefix, REDIS_TEST_URL, redisProbe, testPrefix } from '../helpers/redis.ts';
import { type MockOpenAI, startMockOpenAI } from '../mocks/openai-compatible.ts';
import { ADMIN_PASSWORD, ADMIN_USER, type AdminClient, adminClient } from '../tenancy/helpers.ts';

/**
 * A channel change made on one replica reaches another within a second through Redis pub/sub (issue 21): two
 * gateway processes on PostgreSQL and Redis, with the channel revision poll set to a minute, so anything seen
 * sooner on the second replica came through the notice. Skipped without PostgreSQL or Redis, except in CI.
 */

const pgProblem = await (async () => {
  const client = new pg.Client({ connectionString: POSTGRES_TEST_URL, connectionTimeoutMillis: 3_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    await client.end().catch(() => {});
  }
})();
const missing = [
  ...(pgProblem ? [`PostgreSQL unreachable: ${pgProblem}`] : []),
  ...(redisProbe.ok ? [] : [`Redis unreachable: ${redisProbe.reason}`]),
];

const KEY = 'mdr-replica-channel-key-0123456789';
const CHANNEL_KEY = 'sk-channel-replica-0123456789abcdefghij';
const BAD_KEY = 'sk-channel-replica-bad-0123456789abcdefg';

describe('channel changes across two replicas through Redis', { timeout: 120_000 }, () => {
  if (missing.length > 0) {
    if (isCI()) it('PostgreSQL and Redis are reachable (required in CI)', () => assert.fail(missing.join('; ')));
    else it('two replicas', { skip: missing.join('; ') }, () => {});
    return;
  }
  const schema = `modro_chan_${randomBytes(4).toString('hex')}`;
  const prefix = testPrefix();
  const replicas: GatewayProcess[] = [];
  const dirs: string[] = [];
  let upstream: MockOpenAI;
  let admin: AdminClient;

  before(async () => {
    upstream = await startMockOpenAI({ apiKeys: [CHANNEL_KEY] });
    const config: ConfigInput = {
      storage: { kind: 'postgres', url: POSTGRES_TEST_URL, schema },
      redis: { url: REDIS_TEST_URL, keyPrefix: prefix },
      demo: { enabled: false },
      logging: { level: 'warn' },
      auth: { keys: [{ id: 'k', key: KEY }] },
      // A minute: a change seen sooner on the other replica came through the Redis notice.
      channels: { pollMs: 60_000 },
      tenancy: {
        secret: 'a-shared-secret-of-at-least-32-characters',
        cache: { pollMs: 60_000 },
        admin: { username: ADMIN_USER, password: ADMIN_PASSWORD },
      },
    };
    // The children inherit the environment: one master key for both.
    process.env['MODRO_MASTER_KEY'] = generateMasterKey();
    try {
      for (let i = 0; i < 2; i++) {
        const dir = mkdtempSync(join(tmpdir(), `modro-chan-replica-${i}-`));
        dirs.push(dir);
        replicas.push(await spawnGateway(config, dir));
      }
    } finally {
      delete process.env['MODRO_MASTER_KEY'];
    }
    admin = await adminClient({ url: replicas[0]!.url } as TestGateway);
  });
  after(async () => {
    await Promise.all(replicas.map((r) => r.stop('SIGKILL')));
    const db = new pg.Client({ connectionString: POSTGRES_TEST_URL });
    await db.connect();
    await db.query(`drop schema if exists "${schema}" cascade`).catch(() => {});
    await db.end();
    await dropPrefix(prefix).catch(() => {});
    for (const dir of dirs) removeDataDir(dir);
    await upstream?.close();
  });

  const models = async (url: string) => {
    const res = await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } });
    return ((await res.json()) as { data: Array<{ id: string }> }).data.map((m) => m.id);
  };
  /** ms until `url`'s model list satisfies `ok`, failing after `limitMs`. */
  const until = async (url: string, ok: (ids: string[]) => boolean, limitMs: number) => {
    const started = Date.now();
    while (!ok(await models(url))) {
      assert.ok(Date.now() - started < limitMs, `not seen within ${limitMs} ms`);
      await sleep(20);
    }
    return Date.now() - started;
  };

  it('created, disabled and enabled on one replica: the other follows within a second each time', async () => {
    const other = replicas[1]!.url;
    assert.ok(!(await models(other)).includes('chan/gpt-4o-mini'));
    const created = await admin.request('POST', '/admin/api/channels', {
      id: 'chan',
      kind: 'openai',
      baseUrl: upstream.url,
      models: [{ name: 'gpt-4o-mini', price: { input: 1, output: 2 }, qualityRank: 70 }],
      credentials: [{ key: CHANNEL_KEY }],
    });
    assert.equal(created.status, 201, await created.text());
    await until(other, (ids) => ids.includes('chan/gpt-4o-mini'), 1_000);
    const served = await fetch(`${other}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chan/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(served.status, 200, await served.text());

    await admin.json('PATCH', '/admin/api/channels/chan', { enabled: false });
    await until(other, (ids) => !ids.includes('chan/gpt-4o-mini'), 1_000);
    await admin.json('PATCH', '/admin/api/channels/chan', { enabled: true });
    await until(other, (ids) => ids.includes('chan/gpt-4o-mini'), 1_000);
  });

  it('a change made with the CLI is announced too: both replicas follow within a second', async () => {
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, ['src/cli/main.ts', 'channels', ...args, '--config', join(dirs[0]!, 'modro.yaml')], {
        cwd: new URL('../..', import.meta.url).pathname,
        encoding: 'utf8',
      });
    const off = cli('disable', 'chan');
    assert.equal(off.status, 0, off.stderr);
    for (const r of replicas) await until(r.url, (ids) => !ids.includes('chan/gpt-4o-mini'), 1_000);
    const on = cli('enable', 'chan');
    assert.equal(on.status, 0, on.stderr);
    for (const r of replicas) await until(r.url, (ids) => ids.includes('chan/gpt-4o-mini'), 1_000);
  });

  it('a credential the provider rejects on one replica leaves rotation on the other too', async () => {
    const other = replicas[1]!.url;
    const created = await admin.request('POST', '/admin/api/channels', {
      id: 'rot',
      kind: 'openai',
      baseUrl: upstream.url,
      models: [{ name: 'gpt-4o-mini', price: { input: 1, output: 2 }, qualityRank: 70 }],
      credentials: [{ key: BAD_KEY }, { key: CHANNEL_KEY }],
    });
    assert.equal(created.status, 201, await created.text());
    await until(other, (ids) => ids.includes('rot/gpt-4o-mini'), 1_000);
    const badSeen = () => upstream.requests.filter((r) => r.headers.authorization === `Bearer ${BAD_KEY}`).length;
    const ask = (url: string) =>
      fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'rot/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
      });
    // Round-robin over two keys: within two requests the first replica tries the bad one (and fails over).
    for (let i = 0; i < 2 && badSeen() === 0; i++) assert.equal((await ask(replicas[0]!.url)).status, 200);
    assert.equal(badSeen(), 1);
    await sleep(300); // the verdict travels over Redis in milliseconds
    // Without the verdict, the second replica's round-robin would try the bad key within two requests.
    for (let i = 0; i < 4; i++) assert.equal((await ask(other)).status, 200);
    assert.equal(badSeen(), 1, 'the other replica never tried the rejected key');
  });

  it('one credential drained on one replica: the other stops using it within a second', async () => {
    const other = replicas[1]!.url;
    const channel = await admin.json<{ credentials: Array<{ id: string }> }>('GET', '/admin/api/channels/chan');
    const [only] = channel.credentials;
    await admin.json('POST', `/admin/api/channels/chan/credentials/${only!.id}/drain`);
    // Its only credential drained, the channel has nothing left to serve with on the other replica either.
    await until(other, (ids) => !ids.includes('chan/gpt-4o-mini'), 1_000);
    await admin.json('POST', `/admin/api/channels/chan/credentials/${only!.id}/activate`);
    await until(other, (ids) => ids.includes('chan/gpt-4o-mini'), 1_000);
  });

  it('a models refresh asked on one replica lists the providers on the other too', async () => {
    const other = replicas[1]!.url;
    upstream.options.models = ['gpt-4o-mini', 'gpt-4.1-mini'];
    const answer = await admin.json<{ results: Array<{ provider: string; added: string[] }> }>(
      'POST',
      '/admin/api/catalog/refresh',
    );
    // This replica's first listing (its schedule is off): everything listed is new to it.
    assert.ok(answer.results.find((r) => r.provider === 'chan')?.added.includes('gpt-4.1-mini'));
    await until(replicas[0]!.url, (ids) => ids.includes('chan/gpt-4.1-mini'), 1_000);
    // The other replica's schedule is off: only the notice can make it list.
    await until(other, (ids) => ids.includes('chan/gpt-4.1-mini'), 1_000);
  });

  it('modro discover --refresh tells every running gateway to list its providers now', async () => {
    upstream.options.models = ['gpt-4o-mini', 'gpt-4.1-mini', 'gpt-5-nano'];
    const cli = spawnSync(
      process.execPath,
      ['src/cli/main.ts', 'discover', '--refresh', '--config', join(dirs[0]!, 'modro.yaml')],
      {
        cwd: new URL('../..', import.meta.url).pathname,
        encoding: 'utf8',
        env: { ...process.env, OPENAI_API_KEY: '' },
      },
    );
    assert.equal(cli.status, 0, cli.stderr + cli.stdout);
    assert.match(cli.stdout, /told to list their providers now/);
    for (const r of replicas) await until(r.url, (ids) => ids.includes('chan/gpt-5-nano'), 1_000);
  });
});
