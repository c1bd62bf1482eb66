/**
 * `npm run bench:replicas [-- --quick]`: the gateway embedded (SQLite, limits in memory, one process) beside
 * the gateway on PostgreSQL + Redis with 1, 2 and 3 replicas, all called with the bench's limited key (rpm,
 * tpm, quota, IP and model lists, scopes; docs/benchmarks.md) against the same mock upstream. The load is
 * split evenly over the replicas (as a round-robin load balancer would, without one's own cost). Reports
 * throughput, latency and gateway CPU per request (summed over the replicas).
 *
 * Options: --quick (one short round), --rounds N, --duration-ms N, --concurrency N, --replicas 1,2,3.
 * Services: MODRO_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test; a schema of its own,
 * dropped at the end) and MODRO_BENCH_REDIS_URL (default redis://127.0.0.1:6379; a key prefix of its own).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { MOCK_API_KEY } from '../test/mocks/openai-compatible.ts';
import {
  buildIfStale,
  type GatewayChild,
  killAllChildrenNow,
  launcherNodeFlags,
  spawnGateway,
  spawnIpcChild,
  stopChild,
} from './lib/children.ts';
import { createLimitedBenchKey, writeGatewayConfig } from './lib/gateway-config.ts';
import { type LoadResult, openPool, runLoad } from './lib/load.ts';
import { cpuSeconds } from './lib/proc.ts';
import { NON_STREAMING_BODY } from './lib/request-bodies.ts';
import { median, percentile } from './lib/stats.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const PG_URL = process.env['MODRO_BENCH_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env['MODRO_BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    'duration-ms': { type: 'string' },
    concurrency: { type: 'string' },
    replicas: { type: 'string' },
  },
});
const PLAN = {
  rounds: Number(args.rounds ?? (args.quick ? 1 : 3)),
  durationMs: Number(args['duration-ms'] ?? (args.quick ? 1_500 : 3_000)),
  warmupMs: args.quick ? 1_000 : 2_000,
  concurrency: Number(args.concurrency ?? 64),
  replicas: (args.replicas ?? '1,2,3').split(',').map((s) => Number.parseInt(s, 10)),
};
for (const n of [PLAN.rounds, PLAN.durationMs, PLAN.concurrency, ...PLAN.replicas]) {
  if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new Error(`bad option value ${n}`);
}

const log = (line = '') => process.stdout.write(`${line}\n`);
const dir = mkdtempSync(join(tmpdir(), 'modro-bench-replicas-'));

interface Row {
  profile: string;
  replicas: number;
  reqPerS: number;
  p50: number;
  p99: number;
  cpuMsPerReq: number;
  errors: number;
  firstError: string | undefined;
}

/** One measurement: the load split over the replicas' origins, CPU read from every replica. */
async function measureOnce(gateways: GatewayChild[], key: string, durationMs: number): Promise<Omit<Row, 'profile'>> {
  const per = Math.max(1, Math.round(PLAN.concurrency / gateways.length));
  const targets = gateways.map((g) => ({ origin: g.origin, authorization: `Bearer ${key}` }));
  const pools = targets.map((t) => openPool(t, per));
  const cpuBefore = gateways.map((g) => cpuSeconds(g.pid));
  const started = performance.now();
  let results: LoadResult[];
  try {
    results = await Promise.all(
      targets.map((t, i) =>
        runLoad(pools[i]!, t, { concurrency: per, body: NON_STREAMING_BODY, streaming: false, durationMs }),
      ),
    );
  } finally {
    await Promise.all(pools.map((p) => p.close()));
  }
  const elapsed = performance.now() - started;
  const cpu = gateways.reduce((sum, g, i) => sum + cpuSeconds(g.pid) - cpuBefore[i]!, 0);
  const completed = results.reduce((s, r) => s + r.completed, 0);
  const times = results.flatMap((r) => r.totalMs);
  return {
    replicas: gateways.length,
    reqPerS: (completed / elapsed) * 1000,
    p50: percentile(times, 50),
    p99: percentile(times, 99),
    cpuMsPerReq: completed > 0 ? (cpu * 1000) / completed : Number.NaN,
    errors: results.reduce((s, r) => s + r.errors, 0),
    firstError: results.find((r) => r.firstError)?.firstError,
  };
}

async function profile(name: string, gateways: GatewayChild[], key: string): Promise<Row> {
  await measureOnce(gateways, key, PLAN.warmupMs);
  const rounds: Array<Omit<Row, 'profile'>> = [];
  for (let i = 0; i < PLAN.rounds; i++) {
    rounds.push(await measureOnce(gateways, key, PLAN.durationMs));
    await sleep(1_150); // past the usage flush interval: each round pays for its own writes
  }
  const pick = (f: (r: Omit<Row, 'profile'>) => number) => median(rounds.map(f));
  const row: Row = {
    profile: name,
    replicas: gateways.length,
    reqPerS: pick((r) => r.reqPerS),
    p50: pick((r) => r.p50),
    p99: pick((r) => r.p99),
    cpuMsPerReq: pick((r) => r.cpuMsPerReq),
    errors: rounds.reduce((s, r) => s + r.errors, 0),
    firstError: rounds.find((r) => r.firstError)?.firstError,
  };
  log(
    `  ${name}, ${row.replicas} replica(s): ${row.reqPerS.toFixed(0)} req/s, p50 ${row.p50.toFixed(2)} ms, p99 ${row.p99.toFixed(2)} ms, ` +
      `gateway CPU ${row.cpuMsPerReq.toFixed(3)} ms/req${row.errors ? `, ${row.errors} errors (${row.firstError})` : ''}`,
  );
  return row;
}

async function main(): Promise<number> {
  const schema = `modro_bench_${randomBytes(4).toString('hex')}`;
  const prefix = `modro-bench:${randomBytes(4).toString('hex')}:`;
  const rows: Row[] = [];
  let running: GatewayChild[] = [];
  const stopAll = async () => {
    await Promise.all(running.map((g) => stopChild(g.proc, 15_000)));
    running = [];
  };
  try {
    const mock = await spawnIpcChild(join(here, 'mock-upstream.ts'));
    buildIfStale();
    const nodeArgs = launcherNodeFlags();
    const cli = join(root, 'dist/cli/main.js');
    log(
      `Plan: c=${PLAN.concurrency} split over the replicas, ${PLAN.rounds} round(s) of ${PLAN.durationMs} ms, limited key`,
    );

    // Embedded: SQLite, limits in memory, one process (as `npm run bench` runs it).
    const embeddedDir = join(dir, 'embedded');
    mkdirSync(embeddedDir);
    const embeddedConfig = writeGatewayConfig(embeddedDir, mock.origin, MOCK_API_KEY);
    const embeddedKey = await createLimitedBenchKey(embeddedConfig);
    running = [await spawnGateway(cli, embeddedConfig, embeddedDir, nodeArgs)];
    rows.push(await profile('embedded (SQLite, memory)', running, embeddedKey));
    await stopAll();

    // Shared: PostgreSQL + Redis, one configuration for every replica, each in a folder of its own (journal).
    const sharedDir = join(dir, 'shared');
    mkdirSync(sharedDir);
    const sharedConfig = writeGatewayConfig(sharedDir, mock.origin, MOCK_API_KEY, {
      storage: { kind: 'postgres', url: PG_URL, schema },
      redis: { url: REDIS_URL, keyPrefix: prefix },
      tenancy: { secret: 'bench-shared-secret-of-at-least-32-characters' },
    });
    const sharedKey = await createLimitedBenchKey(sharedConfig);
    for (const n of PLAN.replicas) {
      for (let i = 0; i < n; i++) {
        const replicaDir = join(sharedDir, `replica-${i}`);
        mkdirSync(replicaDir, { recursive: true });
        running.push(await spawnGateway(cli, sharedConfig, replicaDir, nodeArgs));
      }
      rows.push(await profile('PostgreSQL + Redis', running, sharedKey));
      await stopAll();
    }
    await stopChild(mock.proc);

    log();
    log('| profile | replicas | req/s | p50 ms | p99 ms | gateway CPU ms/req (all replicas) |');
    log('|---|---|---|---|---|---|');
    for (const r of rows) {
      log(
        `| ${r.profile} | ${r.replicas} | ${r.reqPerS.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.cpuMsPerReq.toFixed(3)} |`,
      );
    }
    return rows.some((r) => r.errors > 0) ? 1 : 0;
  } finally {
    await stopAll().catch(() => {});
    const db = new pg.Client({ connectionString: PG_URL });
    await db
      .connect()
      .then(() => db.query(`drop schema if exists "${schema}" cascade`))
      .catch(() => {});
    await db.end().catch(() => {});
    const redis = new Redis(REDIS_URL, { lazyConnect: true });
    redis.on('error', () => {});
    await redis
      .connect()
      .then(async () => {
        const keys = await redis.keys(`${prefix}*`);
        if (keys.length > 0) await redis.del(...keys);
      })
      .catch(() => {});
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    killAllChildrenNow();
    console.error(err);
    process.exitCode = 1;
  },
);
