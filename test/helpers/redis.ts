import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { it } from 'node:test';
import { Redis } from 'ioredis';
import { isCI } from './ci.ts';

/**
 * Redis for tests (MODRO_TEST_REDIS_URL, default redis://127.0.0.1:6379). Each test uses a key prefix of its
 * own (`testPrefix`), so suites running side by side, or next to a colleague's, never share counters.
 * Redis unreachable: `redisTest` skips with the reason, except in CI (isCI), where the test fails.
 */
export const REDIS_TEST_URL = process.env.MODRO_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export const redisProbe = await probeRedis(REDIS_TEST_URL);

async function probeRedis(url: string): Promise<{ ok: true } | { ok: false; reason: string }> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  } finally {
    client.disconnect();
  }
}

/** A test that needs Redis: skipped without it outside CI, failed without it in CI. */
export function redisTest(name: string, body: () => Promise<void>, options: { timeout?: number } = {}): void {
  if (redisProbe.ok) {
    it(name, options, body);
  } else if (isCI()) {
    it(name, () => assert.fail(`Redis unreachable at ${REDIS_TEST_URL}: ${redisProbe.reason} (required in CI)`));
  } else {
    it(name, {
      skip: `Redis unreachable at ${REDIS_TEST_URL} (${redisProbe.reason}); in CI this fails instead`,
    }, () => {});
  }
}

export function testPrefix(): string {
  return `modro-test:${randomBytes(6).toString('hex')}:`;
}

/** Deletes every key under a prefix (after a test). */
export async function dropPrefix(prefix: string): Promise<void> {
  const client = new Redis(REDIS_TEST_URL);
  try {
    const keys = await client.keys(`${prefix}*`);
    if (keys.length > 0) await client.del(...keys);
  } finally {
    client.disconnect();
  }
}

/**
 * A TCP relay in front of Redis that a test can cut (`down`: close every connection and stop listening) and
 * restore (`up`, same port): Redis going away and coming back without touching the real one.
 */
export interface RedisRelay {
  url: string;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function redisRelay(target = REDIS_TEST_URL): Promise<RedisRelay> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let listenPort = 0;
  const start = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((client) => {
        const upstream = connect(Number(port) || 6379, hostname);
        sockets.add(client);
        sockets.add(upstream);
        client.pipe(upstream).pipe(client);
        const end = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', end).on('close', end);
        upstream.on('error', end).on('close', end);
      });
      s.once('error', reject);
      s.listen(listenPort, '127.0.0.1', () => {
        listenPort = (s.address() as { port: number }).port;
        server = s;
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      if (!server) return resolve();
      server.close(() => resolve());
      server = undefined;
    });
  await start();
  return {
    url: `redis://127.0.0.1:${listenPort}`,
    down: stop,
    up: start,
    close: stop,
  };
}
