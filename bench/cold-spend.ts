/**
 * A cold account's first load when its tenant has --entries settlements this month (issues 18 and 23, ADR 0046):
 * the time of `ledger.use(tenant)` for an account not in memory (dropped with `evictIdle` between runs), median
 * of --runs after one warm-up, beside a warm `use`, and the two load statements alone: the month's spend summed
 * from the entries (the load before ADR 0046) and read from `ledger_month` (after). --src points at another copy
 * of `src/` whose Ledger to time, e.g. the ledger before this change:
 *
 *   git archive d125b61 src | tar -x -C /tmp/modro-before && ln -s "$PWD/node_modules" /tmp/modro-before/node_modules
 *   node bench/cold-spend.ts --entries 1000000 [--postgres] [--src /tmp/modro-before/src]
 *
 * Seeds a fresh SQLite file in the temp folder (removed afterwards), or a fresh schema of
 * MODRO_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test) with --postgres, dropped
 * afterwards; also reports how long the migration's backfill (`backfillLedgerMonths`) takes on it. Not part of
 * `npm test`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import pg from 'pg';
import { monthStart } from '../src/billing/amounts.ts';
import { openStore, type Store, type StoreConfig } from '../src/store/db.ts';
import { backfillLedgerMonths } from '../src/store/migrations/0017-ledger-month.ts';
import { median } from './lib/stats.ts';

const { values: args } = parseArgs({
  options: {
    entries: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '21' },
    postgres: { type: 'boolean', default: false },
    src: { type: 'string', default: resolve(fileURLToPath(import.meta.url), '../../src') },
  },
});

const n = Number(args.entries);
const runs = Number(args.runs);
const TENANT = 'cold';

/** The tenant, its account and `n` settlements of this month, in one statement each; then the backfill. */
async function seed(store: Store): Promise<void> {
  const now = Date.now();
  const t0 = performance.now();
  await store.db
    .insertInto('tenant')
    .values({ id: TENANT, name: TENANT, links_valid_after: 0, created_at: 0, updated_at: 0 })
    .execute();
  await store.db
    .insertInto('account')
    .values({ tenant_id: TENANT, plan_id: null, balance_nano: 10 ** 15 - n * 1_000, held_nano: 0, created_at: 0 })
    .execute();
  // Spread over the last second (at least a month's start away except in the month's first second).
  const series =
    store.dialect === 'postgres'
      ? sql`select g as x from generate_series(1, ${n}) g`
      : sql`select x from (with recursive c(x) as (select 1 union all select x + 1 from c where x < ${n}) select x from c)`;
  await sql`
    insert into ledger_entry (tenant_id, at, kind, amount_nano, held_nano, hold_id, request_id, node)
    select ${TENANT}, cast(${now} as bigint) - (x % 1000), 'settle', -1000, 0, 'r' || x, 'r' || x, 'seed' from (${series}) s`.execute(
    store.db,
  );
  const seeded = performance.now() - t0;
  await store.db.deleteFrom('ledger_month').execute();
  const t1 = performance.now();
  await backfillLedgerMonths(store.db, store.dialect);
  console.log(
    `seeded ${n} settlements in ${(seeded / 1000).toFixed(1)} s; the migration's backfill took ${(performance.now() - t1).toFixed(0)} ms`,
  );
}

async function measure(label: string, store: Store): Promise<void> {
  const { Ledger } = (await import(join(args.src, 'billing/ledger.ts'))) as typeof import('../src/billing/ledger.ts');
  const ledger = new Ledger({ db: store.db, dialect: store.dialect });
  await ledger.start({ recover: false });
  const month = monthStart(Date.now());
  const cold: number[] = [];
  const warm: number[] = [];
  let spend = 0;
  for (let i = 0; i <= runs; i++) {
    ledger.evictIdle(Number.MAX_SAFE_INTEGER);
    const t0 = performance.now();
    await ledger.use(TENANT);
    const t1 = performance.now();
    await ledger.use(TENANT);
    const t2 = performance.now();
    if (i > 0) {
      cold.push(t1 - t0);
      warm.push(t2 - t1);
    }
    spend = ledger.account(TENANT)?.monthSpendNano ?? -1;
  }
  await ledger.close();
  if (spend !== n * 1_000) throw new Error(`month's spend ${spend}, expected ${n * 1_000}`);
  const statement = async (query: ReturnType<typeof sql>): Promise<number> => {
    const times: number[] = [];
    for (let i = 0; i <= runs; i++) {
      const t0 = performance.now();
      await query.execute(store.db);
      if (i > 0) times.push(performance.now() - t0);
    }
    return median(times);
  };
  const summed = await statement(sql`
    select a.plan_id, a.balance_nano, a.held_nano,
      (select coalesce(sum(-e.amount_nano), 0) from ledger_entry e
        where e.tenant_id = a.tenant_id and e.kind = 'settle' and e.at >= ${month}) as spent
    from account a where a.tenant_id = ${TENANT}`);
  const cached = await statement(sql`
    select a.plan_id, a.balance_nano, a.held_nano,
      coalesce((select m.spent_nano from ledger_month m
        where m.tenant_id = a.tenant_id and m.month_start = ${month}), 0) as spent
    from account a where a.tenant_id = ${TENANT}`);
  const f = (ms: number) => ms.toFixed(3);
  console.log(
    `${label}, ${n} settlements this month: cold ledger.use ${f(median(cold))} ms, warm ${f(median(warm))} ms (median of ${runs}; src ${args.src}); statement summing the entries ${f(summed)} ms, reading ledger_month ${f(cached)} ms`,
  );
}

if (args.postgres) {
  const url = process.env.MODRO_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const schema = `bench_cold_spend_${process.pid}`;
  const config: StoreConfig = { kind: 'postgres', url, schema };
  const store = await openStore(config);
  try {
    await seed(store);
    await sql`analyze ledger_entry, ledger_month, account`.execute(store.db);
    await measure('postgres', store);
  } finally {
    await store.close();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`drop schema if exists "${schema}" cascade`);
    await client.end();
  }
} else {
  const dir = mkdtempSync(join(tmpdir(), 'modro-bench-cold-spend-'));
  const store = await openStore({ kind: 'sqlite', path: join(dir, 'modro.sqlite') });
  try {
    await seed(store);
    await measure('sqlite', store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
