/**
 * Memory follows active keys (issue 23): the gateway started on an empty database and on one holding
 * 1,000,000 managed keys (1,000 tenants, or --tenants), as `./modro start` runs it. Reports, per database,
 * the time from spawning the process to the first 200 from /readyz and the idle RSS a few seconds later
 * (median of --starts starts each), then, on the big database, the latency of GET /v1/models (an
 * authenticated request that never reaches a provider) for --cold keys never used before (cold: one lookup
 * by hash, and one of its tenant by id when that tenant is not in memory yet) and right after for the same
 * keys (warm: from memory), and the cost of those lookups measured in-process on the same file
 * (node:sqlite runs it synchronously on the event loop). Targets: RSS and time to healthy within 10% of the
 * empty database; cold p50 and p99 under 5 ms above warm.
 *
 *   node bench/many-keys.ts [--keys 1000000] [--tenants 1000] [--cold 2000] [--starts 5] [--postgres [--vacuum] [--checkpoint]] [--skip-sqlite]
 *
 * The seeded SQLite file is kept in a folder of the temp folder and reused by later runs with the same --keys and
 * --tenants (seeding a million keys took 86 s on the 2-core development machine). --postgres adds the
 * same measurement on PostgreSQL (MODRO_BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test, a fresh schema
 * dropped afterwards); with --vacuum the seeded tables get VACUUM ANALYZE first, as autovacuum would have
 * done on a database in steady state; with --checkpoint a CHECKPOINT runs after seeding (the bulk load's dirty
 * pages written out before the starts are timed, statistics left unanalysed). --skip-sqlite measures
 * PostgreSQL only. Not part of `npm test`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { openStore, type StoreConfig } from '../src/store/db.ts';
import { sha256Hex } from '../src/tenancy/auth.ts';
import { TenancyRepository } from '../src/tenancy/repository.ts';
import { seededKey, seededKeyId, seededTenantOf, seedManagedKeys } from '../test/helpers/seed-keys.ts';
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
import { BENCH_GATEWAY_KEY, writeGatewayConfig } from './lib/gateway-config.ts';
import { memory } from './lib/proc.ts';
import { median, percentile } from './lib/stats.ts';

const { values: args } = parseArgs({
  options: {
    keys: { type: 'string', default: '1000000' },
    tenants: { type: 'string', default: '1000' },
    cold: { type: 'string', default: '2000' },
    starts: { type: 'string', default: '5' },
    'idle-ms': { type: 'string', default: '5000' },
    postgres: { type: 'boolean', default: false },
    'skip-sqlite': { type: 'boolean', default: false },
    vacuum: { type: 'boolean', default: false },
    checkpoint: { type: 'boolean', default: false },
  },
});
const KEYS = Number(args.keys);
const TENANTS = Number(args.tenants);
const COLD = Number(args.cold);
const STARTS = Number(args.starts);
const IDLE_MS = Number(args['idle-ms']);
/** Cold keys looked up after start before the measured ones (not counted). */
const WARMUP_LOOKUPS = 50;
/** Cached keys and tenants re-read by a reload in the measurement (tenancy.cache.keys' and .tenants' defaults). */
const RELOAD_KEYS = 10_000;
const RELOAD_TENANTS = 10_000;
const PG_URL = process.env['MODRO_BENCH_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const dir = mkdtempSync(join(tmpdir(), 'modro-bench-many-keys-'));
const log = (line = '') => process.stdout.write(`${line}\n`);

interface StartFigures {
  healthyMs: number;
  rssMB: number;
}

interface Profile {
  name: string;
  empty: StartFigures;
  full: StartFigures;
  cold: number[];
  warm: number[];
  lookup: number[];
  reloadMs: number[];
}

/** Spawn → first 200 from /readyz, then idle for IDLE_MS and read RSS from /proc. */
async function startOnce(
  cli: string,
  config: string,
  cwd: string,
  nodeArgs: string[],
): Promise<{ gw: GatewayChild; figures: StartFigures }> {
  const started = performance.now();
  const gw = await spawnGateway(cli, config, cwd, nodeArgs);
  for (;;) {
    const res = await fetch(`${gw.origin}/readyz`).catch(() => undefined);
    await res?.arrayBuffer();
    if (res?.status === 200) break;
    await sleep(5);
  }
  const healthyMs = performance.now() - started;
  await sleep(IDLE_MS);
  return { gw, figures: { healthyMs, rssMB: memory(gw.pid).rssMB } };
}

async function startFigures(cli: string, config: string, cwd: string, nodeArgs: string[]): Promise<StartFigures> {
  const { gw, figures } = await startOnce(cli, config, cwd, nodeArgs);
  await stopChild(gw.proc, 15_000);
  return figures;
}

/** Distinct random key indices. */
function sample(n: number): number[] {
  const picked = new Set<number>();
  while (picked.size < Math.min(n, KEYS)) picked.add(randomBytes(4).readUInt32BE() % KEYS);
  return [...picked];
}

async function timedModels(origin: string, key: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${origin}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
  await res.arrayBuffer();
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`GET /v1/models answered ${res.status}`);
  return ms;
}

/** Each sampled key twice in a row: the first request looks it up (cold), the second finds it in memory. */
async function coldAndWarm(origin: string): Promise<{ cold: number[]; warm: number[] }> {
  const cold: number[] = [];
  const warm: number[] = [];
  // Warm the connection and the route first (the configured key is not a managed key: no lookup).
  for (let i = 0; i < 200; i++) await timedModels(origin, BENCH_GATEWAY_KEY);
  // Then the first cold lookups after start, not counted: they open the pool's connections and prepare the
  // statement (a cost of the process's first queries, not of a cold key).
  const picked = sample(COLD + WARMUP_LOOKUPS);
  for (const i of picked.slice(0, WARMUP_LOOKUPS)) await timedModels(origin, seededKey(i));
  for (const i of picked.slice(WARMUP_LOOKUPS)) {
    cold.push(await timedModels(origin, seededKey(i)));
    warm.push(await timedModels(origin, seededKey(i)));
  }
  return { cold, warm };
}

/** The lookup itself, in this process, on the same database: what one cold key blocks the event loop for on SQLite. */
async function lookupCost(config: StoreConfig): Promise<{ lookup: number[]; reloadMs: number[] }> {
  const store = await openStore(config);
  try {
    const repo = new TenancyRepository(store.db);
    const lookup: number[] = [];
    for (const i of sample(COLD)) {
      const hash = sha256Hex(seededKey(i));
      const t0 = performance.now();
      const row = await repo.findActiveKey(hash);
      // A cold key of a tenant not in memory: its tenant is read too (by primary key).
      const tenant = row && (await repo.getTenant(row.tenantId));
      lookup.push(performance.now() - t0);
      if (!tenant) throw new Error(`seeded key ${i} or its tenant not found`);
    }
    // A reload with full caches at the default bounds: 10,000 cached keys and their tenants (at most 10,000) re-read.
    const picked = sample(RELOAD_KEYS);
    const cached = picked.map((i) => seededKeyId(i));
    const cachedTenants = [...new Set(picked.map((i) => seededTenantOf(i, TENANTS)))].slice(0, RELOAD_TENANTS);
    const reloadMs: number[] = [];
    for (let n = 0; n < 5; n++) {
      const t0 = performance.now();
      const rows = await repo.loadTenantsAndKeys(cachedTenants, cached);
      reloadMs.push(performance.now() - t0);
      if (rows.keys.length !== cached.length) throw new Error(`reload found ${rows.keys.length} of ${cached.length}`);
    }
    return { lookup, reloadMs };
  } finally {
    await store.close();
  }
}

async function seed(config: StoreConfig): Promise<void> {
  const store = await openStore(config);
  try {
    const t0 = performance.now();
    let shown = 0;
    await seedManagedKeys(store.db, {
      keys: KEYS,
      tenants: TENANTS,
      onProgress: (done) => {
        if (done - shown >= 100_000 || done === KEYS) {
          shown = done;
          process.stdout.write(`\r  seeding: ${done.toLocaleString('en')} keys`);
        }
      },
    });
    log(`\r  seeded ${KEYS.toLocaleString('en')} keys in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } finally {
    await store.close();
  }
}

async function profile(
  name: string,
  cli: string,
  nodeArgs: string[],
  mockOrigin: string,
  emptyStorage: StoreConfig,
  fullStorage: StoreConfig,
): Promise<Profile> {
  log(`${name}:`);
  const emptyDir = join(dir, `${name}-empty`);
  const fullDir = join(dir, `${name}-full`);
  mkdirSync(emptyDir);
  mkdirSync(fullDir);
  const emptyConfig = writeGatewayConfig(emptyDir, mockOrigin, MOCK_API_KEY, { storage: emptyStorage });
  const fullConfig = writeGatewayConfig(fullDir, mockOrigin, MOCK_API_KEY, { storage: fullStorage });
  // Alternate so that drift of the machine (colleagues' load) hits both alike.
  const empty: StartFigures[] = [];
  const full: StartFigures[] = [];
  for (let i = 0; i < STARTS; i++) {
    empty.push(await startFigures(cli, emptyConfig, emptyDir, nodeArgs));
    full.push(await startFigures(cli, fullConfig, fullDir, nodeArgs));
  }
  const pick = (list: StartFigures[]): StartFigures => ({
    healthyMs: median(list.map((f) => f.healthyMs)),
    rssMB: median(list.map((f) => f.rssMB)),
  });
  const { gw } = await startOnce(cli, fullConfig, fullDir, nodeArgs);
  let latencies: { cold: number[]; warm: number[] };
  try {
    latencies = await coldAndWarm(gw.origin);
  } finally {
    await stopChild(gw.proc, 15_000);
  }
  const costs = await lookupCost(fullStorage);
  return { name, empty: pick(empty), full: pick(full), ...latencies, ...costs };
}

function report(p: Profile): boolean {
  const within = (full: number, empty: number) => full <= empty * 1.1;
  const rssOk = within(p.full.rssMB, p.empty.rssMB);
  const healthyOk = within(p.full.healthyMs, p.empty.healthyMs);
  const addedP50 = percentile(p.cold, 50) - percentile(p.warm, 50);
  const addedP99 = percentile(p.cold, 99) - percentile(p.warm, 99);
  const coldOk = addedP50 < 5 && addedP99 < 5;
  const f = (n: number, d = 2) => n.toFixed(d);
  log();
  log(`### ${p.name}: ${KEYS.toLocaleString('en')} keys, ${TENANTS.toLocaleString('en')} tenants`);
  log();
  log('| database | time to healthy ms | idle RSS MB |');
  log('|---|---|---|');
  log(`| empty | ${f(p.empty.healthyMs, 0)} | ${f(p.empty.rssMB, 1)} |`);
  log(`| ${KEYS.toLocaleString('en')} keys | ${f(p.full.healthyMs, 0)} | ${f(p.full.rssMB, 1)} |`);
  log(
    `| ratio | ${f(p.full.healthyMs / p.empty.healthyMs)} ${healthyOk ? 'PASS' : 'MISS'} (<= 1.10) | ` +
      `${f(p.full.rssMB / p.empty.rssMB)} ${rssOk ? 'PASS' : 'MISS'} (<= 1.10) |`,
  );
  log();
  log(
    `GET /v1/models, ${p.cold.length} keys, each first cold then warm (ms; after ${WARMUP_LOOKUPS} uncounted cold keys):`,
  );
  log();
  log('| | p50 | p90 | p99 | max |');
  log('|---|---|---|---|---|');
  for (const [label, xs] of [
    ['cold (first request of the key)', p.cold],
    ['warm (second request)', p.warm],
    ['lookup by hash and of the tenant by id alone, in-process', p.lookup],
  ] as const) {
    log(
      `| ${label} | ${f(percentile(xs, 50), 3)} | ${f(percentile(xs, 90), 3)} | ${f(percentile(xs, 99), 3)} | ${f(Math.max(...xs), 3)} |`,
    );
  }
  log();
  log(`cold − warm: p50 ${f(addedP50, 3)} ms, p99 ${f(addedP99, 3)} ms → ${coldOk ? 'PASS' : 'MISS'} (< 5 ms each)`);
  // The same key's two requests, paired: less exposed to the machine's noise than two separate distributions.
  const paired = p.cold.map((c, i) => c - p.warm[i]!);
  log(`per key, cold minus warm: p50 ${f(percentile(paired, 50), 3)} ms, p90 ${f(percentile(paired, 90), 3)} ms`);
  log(
    `reload with ${RELOAD_KEYS.toLocaleString('en')} cached keys (their tenants and the keys re-read, in-process): ` +
      `median ${f(median(p.reloadMs), 1)} ms of ${p.reloadMs.length}`,
  );
  return rssOk && healthyOk && coldOk;
}

async function main(): Promise<number> {
  let pgSchemas: string[] = [];
  try {
    const mock = await spawnIpcChild(join(here, 'mock-upstream.ts'));
    buildIfStale();
    const nodeArgs = launcherNodeFlags();
    const cli = join(root, 'dist/cli/main.js');
    const profiles: Profile[] = [];

    if (!args['skip-sqlite']) {
      // A folder of its own: the gateway keeps its data files (journal, generated secrets) beside the database.
      const seededDir = join(tmpdir(), `modro-many-keys-${KEYS}-${TENANTS}`);
      mkdirSync(seededDir, { recursive: true });
      const seeded = join(seededDir, 'modro.db');
      if (!existsSync(seeded)) {
        log(`Seeding ${seeded} (kept for later runs)`);
        const partial = `${seeded}.partial`;
        rmSync(partial, { force: true });
        await seed({ kind: 'sqlite', path: partial });
        renameSync(partial, seeded);
        for (const suffix of ['-wal', '-shm']) rmSync(`${partial}${suffix}`, { force: true });
      } else {
        log(`Reusing ${seeded}`);
      }
      profiles.push(
        await profile(
          'SQLite',
          cli,
          nodeArgs,
          mock.origin,
          { kind: 'sqlite', path: join(dir, 'empty.db') },
          { kind: 'sqlite', path: seeded },
        ),
      );
    }

    if (args.postgres) {
      const suffix = randomBytes(4).toString('hex');
      const empty: StoreConfig = { kind: 'postgres', url: PG_URL, schema: `modro_bench_empty_${suffix}` };
      const full: StoreConfig = { kind: 'postgres', url: PG_URL, schema: `modro_bench_keys_${suffix}` };
      pgSchemas = [empty.schema!, full.schema!];
      log('Seeding PostgreSQL');
      await seed(full);
      if (args.vacuum) {
        // What a database in steady state has had: autovacuum's pass over the new rows, and statistics.
        const t0 = performance.now();
        const client = new pg.Client({ connectionString: PG_URL });
        await client.connect();
        await client.query(`vacuum analyze "${full.schema}".api_key`);
        await client.query(`vacuum analyze "${full.schema}".tenant`);
        await client.end();
        log(`  vacuum analyze: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      }
      if (args.checkpoint) {
        const t0 = performance.now();
        const client = new pg.Client({ connectionString: PG_URL });
        await client.connect();
        await client.query('checkpoint');
        await client.end();
        log(`  checkpoint: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      }
      profiles.push(await profile('PostgreSQL', cli, nodeArgs, mock.origin, empty, full));
    }
    await stopChild(mock.proc);
    let ok = true;
    for (const p of profiles) ok = report(p) && ok;
    return ok ? 0 : 1;
  } finally {
    killAllChildrenNow();
    if (pgSchemas.length > 0) {
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      for (const schema of pgSchemas) await client.query(`drop schema if exists "${schema}" cascade`);
      await client.end();
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
