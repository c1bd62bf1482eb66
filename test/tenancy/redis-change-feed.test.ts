import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { runTenancyCommand } from '../../src/cli/tenancy-commands.ts';
import { RedisChangeFeed, type SettingsChangeFeed } from '../../src/tenancy/change-feed.ts';
import { REDIS_TEST_URL, redisRelay, redisTest, testPrefix } from '../helpers/redis.ts';

/**
 * Settings notices over Redis pub/sub: a version published by one replica reaches another at once; a notice
 * that cannot be sent never fails the write (the poll underneath catches up); a subscription that comes back
 * after an outage triggers a reload (notices sent meanwhile were lost).
 */

function fakePoll(): SettingsChangeFeed & { published: number[]; subscribed: number } {
  const feed = {
    published: [] as number[],
    subscribed: 0,
    subscribe() {
      feed.subscribed++;
    },
    async publish(version: number) {
      feed.published.push(version);
    },
    close() {},
  };
  return feed;
}

/** Until `n` connections are subscribed to the channel (asked of Redis itself). */
async function subscribers(channel: string, n: number): Promise<void> {
  const client = new Redis(REDIS_TEST_URL);
  try {
    await until(async () => {
      const [, count] = (await client.pubsub('NUMSUB', channel)) as [string, number];
      return Number(count) === n;
    }, `${n} subscriber(s)`);
  } finally {
    client.disconnect();
  }
}

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, what);
    await sleep(10);
  }
}

describe('Redis settings notices', () => {
  redisTest('a version published by one replica reaches the other within milliseconds', async () => {
    const channel = `${testPrefix()}settings`;
    const publisher = new Redis(REDIS_TEST_URL);
    const poll = fakePoll();
    const a = new RedisChangeFeed({
      poll,
      subscriber: new Redis(REDIS_TEST_URL),
      publish: (ch, m) => publisher.publish(ch, m),
      channel,
      onError: (err) => assert.fail(String(err)),
    });
    const b = new RedisChangeFeed({
      poll: fakePoll(),
      subscriber: new Redis(REDIS_TEST_URL),
      publish: (ch, m) => publisher.publish(ch, m),
      channel,
      onError: (err) => assert.fail(String(err)),
    });
    const seen: Array<number | undefined> = [];
    b.subscribe((v) => seen.push(v));
    a.subscribe(() => {});
    await subscribers(channel, 2);
    assert.equal(seen.length, 0, 'no reload at the first connection (the directory was just loaded)');
    assert.equal(poll.subscribed, 1, 'the poll runs underneath');
    const started = Date.now();
    await a.publish(42);
    await until(() => seen.includes(42), 'version 42 arrives');
    const ms = Date.now() - started;
    assert.ok(ms < 1_000, `${ms} ms`);
    assert.deepEqual(poll.published, [42]);
    a.close();
    b.close();
    publisher.disconnect();
  });

  redisTest('Redis away: publishing does not fail the write; the subscription reloads once it is back', async () => {
    const relay = await redisRelay();
    const channel = `${testPrefix()}settings`;
    const publisher = new Redis(relay.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    publisher.on('error', () => {});
    const subscriber = new Redis(relay.url);
    subscriber.on('error', () => {});
    const errors: unknown[] = [];
    const feed = new RedisChangeFeed({
      poll: fakePoll(),
      subscriber,
      publish: (ch, m) => publisher.publish(ch, m),
      channel,
      onError: (err) => errors.push(err),
    });
    const seen: Array<number | undefined> = [];
    feed.subscribe((v) => seen.push(v));
    try {
      await subscribers(channel, 1);
      await relay.down();
      await until(() => publisher.status !== 'ready', 'the publisher noticed');
      await feed.publish(7); // resolves: the write committed, the notice is best effort
      assert.equal(errors.length, 1);
      await relay.up();
      // ioredis reconnects with a growing back-off (up to 2 s a try); a loaded machine adds to it.
      await until(() => seen.length >= 1, 'a reload after the subscription came back', 30_000);
      assert.equal(seen.at(-1), undefined, 'a catch-up reload (no version: reload whatever it is)');
    } finally {
      feed.close();
      publisher.disconnect();
      await relay.close();
    }
  });

  redisTest('a change made with the CLI is announced on the channel too', async () => {
    const prefix = testPrefix();
    const dir = mkdtempSync(join(tmpdir(), 'modro-cli-redis-'));
    const configPath = join(dir, 'modro.yaml');
    writeFileSync(
      configPath,
      JSON.stringify({
        storage: { kind: 'sqlite', path: join(dir, 'modro.db') },
        redis: { url: REDIS_TEST_URL, keyPrefix: prefix },
      }),
    );
    const subscriber = new Redis(REDIS_TEST_URL);
    const messages: string[] = [];
    subscriber.on('message', (_channel, message) => messages.push(message));
    await subscriber.subscribe(`${prefix}settings`);
    try {
      let stderr = '';
      const code = await runTenancyCommand(
        ['tenants', 'create', 'acme', '--config', configPath],
        {},
        { write: () => {} },
        { write: (text) => (stderr += text) },
      );
      assert.equal(code, 0, stderr);
      await until(() => messages.length === 1, 'the new settings version was published');
      assert.ok(Number(messages[0]) > 0);
      const listed = await runTenancyCommand(['tenants', 'list', '--config', configPath], {}, { write: () => {} });
      assert.equal(listed, 0);
      await sleep(100);
      assert.equal(messages.length, 1, 'a command that changes nothing announces nothing');
    } finally {
      subscriber.disconnect();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
