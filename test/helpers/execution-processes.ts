import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { verifyLedger } from '../../src/billing/verify.ts';
import { runLedgerCommand } from '../../src/cli/ledger-commands.ts';
import { runTenancyCommand } from '../../src/cli/tenancy-commands.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import type { Database } from '../../src/store/schema.ts';
import { createSqliteDialect } from '../../src/store/sqlite-dialect.ts';
import { isCI } from './ci.ts';
import { POSTGRES_TEST_URL } from './databases.ts';
import { type GatewayProcess, removeDataDir, spawnGateway } from './gateway-process.ts';

/**
 * The harness of the executions' tests across real gateway processes (test/executions/processes.test.ts,
 * upstream-job-kill.test.ts): a billed tenant made through the CLI, the gateway's database opened from the test,
 * and the checks that after `kill -9` and a restart every execution ended once and every hold closed once.
 */

export async function pgProblem(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: POSTGRES_TEST_URL, connectionTimeoutMillis: 2_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.end();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

function capture() {
  let text = '';
  const write = (t: string) => {
    text += t;
  };
  return { out: { write }, text: () => text };
}

async function cli(run: typeof runTenancyCommand, args: string[]): Promise<string> {
  const c = capture();
  const code = await run(args, {}, c.out, c.out);
  assert.equal(code, 0, c.text());
  return c.text();
}

/** A billed tenant with a key and $1000, made through the CLI on the configuration's database. */
export async function seed(cliConfig: string): Promise<string> {
  await cli(runTenancyCommand, ['tenants', 'create', 'acme', '--config', cliConfig]);
  const made = await cli(runTenancyCommand, ['keys', 'create', '--tenant', 'acme', '--json', '--config', cliConfig]);
  await cli(runLedgerCommand, [
    'ledger',
    'deposit',
    'acme',
    '--usd',
    '1000',
    '--reason',
    'seed',
    '--config',
    cliConfig,
  ]);
  return (JSON.parse(made) as { key: string }).key;
}

export type Storage = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string; schema: string };

export function openDb(storage: Storage): Kysely<Database> {
  if (storage.kind === 'sqlite') return new Kysely<Database>({ dialect: createSqliteDialect(storage.path) });
  const pool = new pg.Pool({ connectionString: storage.url, options: `-c search_path=${storage.schema}` });
  pool.on('error', () => {});
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_TEST_URL });
  await client.connect();
  await client.query(`drop schema if exists "${schema}" cascade`);
  await client.end();
}

/**
 * Every execution has ended; checks exactly-once settlement and (text runs, `records`) usage records, and returns
 * the rows. Media runs write no usage record.
 */
export async function checkEnded(
  db: Kysely<Database>,
  ids: string[],
  options: { records?: boolean; killedAt?: number } = {},
) {
  const checkRecords = options.records ?? true;
  const rows = await db.selectFrom('execution').selectAll().execute();
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const id of ids) assert.ok(byId.has(id), `accepted execution ${id} survived`);
  const entries = await db.selectFrom('ledger_entry').select(['kind', 'hold_id', 'amount_nano', 'held_nano']).execute();
  const records = await db.selectFrom('usage_record').select(['request_id', 'cost_nano_usd', 'status', 'at']).execute();
  for (const row of rows) {
    assert.ok(['COMPLETED', 'FAILED'].includes(row.status), `${row.id} is ${row.status}`);
    const closes = entries.filter((e) => e.hold_id === row.id && (e.kind === 'settle' || e.kind === 'release'));
    assert.equal(closes.length, 1, `${row.id}: one settle or release, got ${closes.length}`);
    const runs = records.filter((r) => r.request_id.startsWith(`${row.id}-`));
    assert.ok(runs.length <= Number(row.attempts), `${row.id}: ${runs.length} records for ${row.attempts} attempts`);
    if (row.status === 'COMPLETED') {
      assert.equal(closes[0]!.kind, 'settle');
      assert.equal(-Number(closes[0]!.amount_nano), Number(row.cost_nano));
      if (!checkRecords) continue;
      const last = runs.find((r) => r.request_id === `${row.id}-${row.attempts}`);
      assert.ok(last, `${row.id}: the record of its completing run`);
      assert.equal(Number(last.cost_nano_usd), Number(row.cost_nano));
      // No run is recorded twice. An earlier run may also be recorded as served: the kill can land after its usage
      // record and before its terminal commit (docs/executions.md: "A run interrupted mid-call may have been served
      // by the provider"); then the next run served it again.
      const ids = runs.map((r) => r.request_id);
      assert.equal(new Set(ids).size, ids.length, `${row.id}: a run recorded twice (${ids})`);
      assert.equal(Number(last.status), 200, `${row.id}: its completing run succeeded`);
      // Such an earlier served run is at most one, and one the kill interrupted: it started before the kill.
      if (options.killedAt !== undefined) {
        const killedAt = options.killedAt;
        const others = runs.filter((r) => Number(r.status) === 200 && r !== last);
        const described = runs.map((r) => `${r.request_id} ${r.status} at ${r.at}`).join(', ');
        assert.ok(
          others.length <= 1 && others.every((r) => Number(r.at) < killedAt),
          `${row.id}: one successful run besides the one the kill interrupted (runs: ${described}; killed at ${killedAt})`,
        );
      }
    }
  }
  const verified = await verifyLedger(db);
  assert.deepEqual(verified.problems, []);
  assert.equal(verified.openHolds, 0);
  return rows;
}

export async function untilAllEnded(db: Kysely<Database>, total: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const open = await db
      .selectFrom('execution')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('status', 'in', ['PENDING', 'PROCESSING'])
      .executeTakeFirstOrThrow();
    const all = await db
      .selectFrom('execution')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    if (Number(open.n) === 0 && Number(all.n) >= total) return;
    if (Date.now() > deadline) assert.fail(`${open.n} executions still open`);
    await sleep(100);
  }
}

const unreachable = await pgProblem();

/** One suite's setting: a temp folder, its database, the gateways it started (all cleaned up after it). */
export interface ProcessSuite {
  /** The suite's temp folder: the database file (SQLite), the CLI's configuration, gateways' data folders. */
  dir(): string;
  /** SQLite: `modro.db` in dir(); PostgreSQL: a schema of the suite's own. */
  storage(): Storage;
  /** Starts a gateway process in `dataDir` (default dir()); every one still running is killed after the suite. */
  spawn(config: ConfigInput, dataDir?: string): Promise<GatewayProcess>;
  /** Writes `config` as the CLI's configuration in dir() and seeds a billed tenant through it (seed()): its key. */
  seedTenant(config: ConfigInput): Promise<string>;
}

/**
 * A `describe` of tests across real gateway processes on `kind`: skipped when PostgreSQL is unreachable (failed
 * in CI), with a fresh folder and schema, and the gateways, the folder and the schema removed after it.
 */
export function processSuite(title: string, kind: 'sqlite' | 'postgres', body: (suite: ProcessSuite) => void): void {
  describe(title, () => {
    if (kind === 'postgres' && unreachable && !isCI()) {
      test('PostgreSQL', { skip: `PostgreSQL unreachable (${unreachable})` }, () => {});
      return;
    }
    const schema = `t_proc_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    const gateways: GatewayProcess[] = [];
    let dir = '';
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'modro-proc-suite-'));
    });
    after(async () => {
      for (const gw of gateways) if (gw.exitCode() === null) await gw.stop('SIGKILL');
      removeDataDir(dir);
      if (kind === 'postgres') await dropSchema(schema);
    });
    body({
      dir: () => dir,
      storage: () =>
        kind === 'sqlite'
          ? { kind: 'sqlite', path: join(dir, 'modro.db') }
          : { kind: 'postgres', url: POSTGRES_TEST_URL, schema },
      spawn: async (config, dataDir = dir) => {
        const gw = await spawnGateway(config, dataDir);
        gateways.push(gw);
        return gw;
      },
      seedTenant: (config) => {
        const path = join(dir, 'cli.yaml');
        writeFileSync(path, JSON.stringify(config));
        return seed(path);
      },
    });
  });
}

/** `POST /v1/executions` with `body`; asserts the 202 and answers the execution's id. */
export async function submitExecution(url: string, key: string, body: unknown): Promise<string> {
  const res = await fetch(`${url}/v1/executions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = (await res.json()) as { id: string };
  assert.equal(res.status, 202, JSON.stringify(answer));
  return answer.id;
}
