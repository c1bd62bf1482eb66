/**
 * The ledger's accounts follow use (issue 23, ADR 0043): the time of `ledger.start()` and the process's RSS
 * once it has started, on a database with --accounts billed accounts of three entries each (a deposit, a hold
 * and its settlement), measured in a fresh child process per start (median of --starts). --src points at
 * another copy of `src/` to compare with, e.g. the ledger before this change:
 *
 *   git archive main src | tar -x -C /tmp/modro-before && ln -s "$PWD/node_modules" /tmp/modro-before/node_modules
 *   node bench/lazy-ledger.ts --accounts 200000 [--postgres] [--src /tmp/modro-before/src]
 *
 * The seeded SQLite file is kept in the temp folder and reused by later runs with the same --accounts;
 * --postgres seeds a fresh schema of MODRO_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test),
 * dropped afterwards. Not part of `npm test`.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { blankEntry } from '../src/billing/entries.ts';
import { openStore, type StoreConfig } from '../src/store/db.ts';
import type { LedgerKind } from '../src/store/ledger-tables.ts';
import { median } from './lib/stats.ts';

const { values: args } = parseArgs({
  allowNegative: true,
  options: {
    accounts: { type: 'string', default: '200000' },
    starts: { type: 'string', default: '3' },
    postgres: { type: 'boolean', default: false },
    src: { type: 'string', default: resolve(fileURLToPath(import.meta.url), '../../src') },
    child: { type: 'string' },
    recover: { type: 'boolean', default: true },
  },
});

interface Figures {
  startMs: number;
  rssMb: number;
  rssBeforeMb: number;
  heapMb: number;
  accountsInMemory: number | null;
}

if (args.child) {
  // One start, measured in this fresh process: RSS before (store open) and after (ledger started), after a GC.
  const config = JSON.parse(args.child) as StoreConfig;
  const { openStore: open } = (await import(join(args.src, 'store/db.ts'))) as typeof import('../src/store/db.ts');
  const { Ledger } = (await import(join(args.src, 'billing/ledger.ts'))) as typeof import('../src/billing/ledger.ts');
  const store = await open(config);
  globalThis.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const ledger = new Ledger({ db: store.db, dialect: store.dialect });
  const t0 = performance.now();
  await ledger.start({ recover: args.recover });
  const startMs = performance.now() - t0;
  globalThis.gc?.();
  const mem = process.memoryUsage();
  const stats = (ledger as { cacheStats?: { accounts: number } }).cacheStats;
  const out: Figures = {
    startMs,
    rssMb: mem.rss / 2 ** 20,
    rssBeforeMb: rssBefore / 2 ** 20,
    heapMb: mem.heapUsed / 2 ** 20,
    accountsInMemory: stats ? stats.accounts : null,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
  await ledger.close();
  await store.close();
  process.exit(0);
}

const n = Number(args.accounts);
const USD = 1_000_000_000;

async function seed(config: StoreConfig): Promise<void> {
  const store = await openStore(config);
  const now = Date.now();
  const t0 = performance.now();
  for (let from = 0; from < n; from += 2_000) {
    const ids = Array.from({ length: Math.min(2_000, n - from) }, (_, i) => `acct${from + i}`);
    await store.db.transaction().execute(async (tx) => {
      for (let i = 0; i < ids.length; i += 500) {
        const chunk = ids.slice(i, i + 500);
        await tx
          .insertInto('tenant')
          .values(chunk.map((id) => ({ id, name: id, links_valid_after: 0, created_at: 0, updated_at: 0 })))
          .execute();
        await tx
          .insertInto('account')
          .values(
            chunk.map((id) => ({
              tenant_id: id,
              plan_id: null,
              balance_nano: 10 * USD - 1_000,
              held_nano: 0,
              created_at: 0,
            })),
          )
          .execute();
        const entry = (id: string, kind: LedgerKind) => ({ ...blankEntry(id, now, kind), node: 'seed' });
        await tx
          .insertInto('ledger_entry')
          .values(
            chunk.flatMap((id) => [
              {
                ...entry(id, 'deposit'),
                amount_nano: 10 * USD,
                admin: 'seed',
                reason: 'seed',
              },
              {
                ...entry(id, 'hold'),
                held_nano: 5_000,
                hold_id: `r_${id}`,
                request_id: `r_${id}`,
              },
              {
                ...entry(id, 'settle'),
                amount_nano: -1_000,
                held_nano: -5_000,
                hold_id: `r_${id}`,
                request_id: `r_${id}`,
              },
            ]),
          )
          .execute();
      }
    });
  }
  console.log(`seeded ${n} accounts, ${3 * n} entries in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  await store.close();
}

function runChild(config: StoreConfig): Promise<Figures> {
  return new Promise((ok, fail) => {
    const child = spawn(
      process.execPath,
      [
        '--expose-gc',
        fileURLToPath(import.meta.url),
        '--child',
        JSON.stringify(config),
        '--src',
        args.src,
        ...(args.recover ? [] : ['--no-recover']),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('exit', (code) => {
      if (code !== 0) return fail(new Error(`child exited ${code}`));
      ok(JSON.parse(out.trim().split('\n').at(-1)!) as Figures);
    });
  });
}

async function measure(label: string, config: StoreConfig): Promise<void> {
  const runs: Figures[] = [];
  for (let i = 0; i < Number(args.starts); i++) runs.push(await runChild(config));
  const med = (f: (r: Figures) => number) => median(runs.map(f)).toFixed(1);
  console.log(
    `${label}: ledger.start ${med((r) => r.startMs)} ms, RSS ${med((r) => r.rssBeforeMb)} -> ${med((r) => r.rssMb)} MB, heap ${med((r) => r.heapMb)} MB, accounts in memory ${runs[0]!.accountsInMemory ?? 'all (no cacheStats)'} (median of ${runs.length}; src ${args.src})`,
  );
}

if (args.postgres) {
  const url = process.env.MODRO_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const schema = `bench_lazy_ledger_${process.pid}`;
  const config: StoreConfig = { kind: 'postgres', url, schema };
  try {
    await seed(config);
    await measure(`postgres, ${n} accounts`, config);
  } finally {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`drop schema if exists "${schema}" cascade`);
    await client.end();
  }
} else {
  const dir = join(tmpdir(), `modro-bench-lazy-ledger-${n}`);
  const path = join(dir, 'modro.sqlite');
  if (!existsSync(path)) {
    const building = join(tmpdir(), `modro-bench-lazy-ledger-${n}-building-${process.pid}`);
    rmSync(building, { recursive: true, force: true });
    mkdirSync(building, { recursive: true });
    await seed({ kind: 'sqlite', path: join(building, 'modro.sqlite') });
    renameSync(building, dir);
  }
  await measure(`sqlite, ${n} accounts`, { kind: 'sqlite', path });
}
