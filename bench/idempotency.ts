/**
 * What an Idempotency-Key costs (docs/idempotency.md). Two measurements:
 *  1. the stage alone: `begin` + `finish` of a new key, and `begin` of a replay, on SQLite (node:sqlite runs each
 *     statement synchronously on the event loop, so this is also how long the loop is held) and on PostgreSQL;
 *  2. through HTTP: non-streaming chat completions against the mock upstream on one in-process gateway (SQLite),
 *     without the header, with a new key each, and replays of one key; at c=1 and c=16.
 *
 *   node bench/idempotency.ts [--n 2000] [--postgres]
 *
 * Not part of `npm test`; figures go to docs/idempotency.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { fingerprint, Idempotency } from '../src/idempotency/idempotency.ts';
import { openStore, type StoreConfig } from '../src/store/db.ts';
import { mockProvider, startGateway, TEST_API_KEY } from '../test/helpers/gateway.ts';
import { startMockOpenAI } from '../test/mocks/openai-compatible.ts';

const { values } = parseArgs({ options: { n: { type: 'string', default: '2000' }, postgres: { type: 'boolean' } } });
const N = Number(values.n);
const PG_URL = process.env['MODRO_BENCH_POSTGRES_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

function pct(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
const fmt = (ms: number) => `${(ms * 1000).toFixed(0)} µs`;
const line = (what: string, s: number[]) =>
  console.log(
    `  ${what.padEnd(34)} p50 ${fmt(pct(s, 50)).padStart(8)}  p99 ${fmt(pct(s, 99)).padStart(8)}  (n=${s.length})`,
  );

async function stage(config: StoreConfig, label: string): Promise<void> {
  const store = await openStore(config);
  const idem = new Idempotency({ db: store.db, ttlMs: 86_400_000, lockTimeoutMs: 600_000 });
  const body = JSON.stringify({ model: 'fast', messages: [{ role: 'user', content: 'x'.repeat(200) }] });
  const response = { status: 200, headers: { 'content-type': 'application/json' }, body: 'y'.repeat(600) };
  const fresh: number[] = [];
  const replay: number[] = [];
  const fp: number[] = [];
  for (let i = 0; i < N; i++) {
    let t = performance.now();
    const f = fingerprint('POST', '/v1/chat/completions', body);
    fp.push(performance.now() - t);
    t = performance.now();
    const begun = await idem.begin('bench', `k${i}`, f);
    if (begun.kind === 'new') await begun.finish(response);
    fresh.push(performance.now() - t);
    t = performance.now();
    await idem.begin('bench', `k${i}`, f);
    replay.push(performance.now() - t);
  }
  console.log(`stage alone [${label}]`);
  line('fingerprint (sha256 of ~250 B)', fp);
  line('new key: begin + finish', fresh);
  line('replay: begin', replay);
  await store.close();
}

async function http(): Promise<void> {
  const mock = await startMockOpenAI({ fast: true });
  const gw = await startGateway({
    demo: { enabled: false },
    providers: [mockProvider('up', mock.url, [{ name: 'gpt-4o-mini', qualityRank: 70, tiers: ['fast'] }])],
    logging: { level: 'error' },
  });
  const body = JSON.stringify({ model: 'fast', max_tokens: 16, messages: [{ role: 'user', content: 'hello' }] });
  const call = async (headers: Record<string, string>) => {
    const t = performance.now();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json', ...headers },
      body,
    });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    return performance.now() - t;
  };
  let k = 0;
  const modes: Array<[string, () => Record<string, string>]> = [
    ['no header', () => ({})],
    ['new key each', () => ({ 'idempotency-key': `b${process.pid}-${++k}` })],
    ['replay of one key', () => ({ 'idempotency-key': 'replayed-key' })],
  ];
  for (let i = 0; i < 300; i++) await call({}); // warm-up
  await call({ 'idempotency-key': 'replayed-key' });
  // Modes alternate in rounds of N/10 requests, so a machine whose load drifts weighs on each alike.
  for (const concurrency of [1, 16]) {
    console.log(`HTTP chat completions, SQLite, c=${concurrency} (modes alternating in 10 rounds)`);
    const samples = new Map(modes.map(([what]) => [what, [] as number[]]));
    const elapsed = new Map(modes.map(([what]) => [what, 0]));
    for (let round = 0; round < 10; round++) {
      for (const [what, headers] of modes) {
        const into = samples.get(what)!;
        const target = Math.round(((round + 1) * N) / 10);
        const t0 = performance.now();
        await Promise.all(
          Array.from({ length: concurrency }, async () => {
            while (into.length < target) into.push(await call(headers()));
          }),
        );
        elapsed.set(what, elapsed.get(what)! + performance.now() - t0);
      }
    }
    for (const [what] of modes) {
      const s = samples.get(what)!;
      line(`${what} (${((s.length / elapsed.get(what)!) * 1000).toFixed(0)} req/s)`, s);
    }
  }
  await gw.close();
  await mock.close();
}

const dir = mkdtempSync(join(tmpdir(), 'modro-bench-idem-'));
try {
  await stage({ kind: 'sqlite', path: join(dir, 'modro.db') }, 'sqlite');
  if (values.postgres) {
    const schema = `bench_idem_${process.pid}`;
    await stage({ kind: 'postgres', url: PG_URL, schema }, 'postgres');
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    await client.query(`drop schema if exists "${schema}" cascade`);
    await client.end();
  }
  await http();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
