/**
 * The executions profile (issue 19, docs/executions.md): the gateway as `./modro start` runs it, on the embedded
 * default (SQLite), against the bench's mock upstream in its own process.
 *
 *   1. Submissions: `POST /v1/executions` (a chat body as input) in closed loops at --levels (default 1,16) with
 *      the in-process worker off, so the figures are the 202 alone: submissions per second, p50 and p99 of the
 *      202 (target: p99 under 5 ms at c=16).
 *   2. RSS with --queued (default 10,000) executions queued, each input about 4 KB: the gateway's RSS after the
 *      submissions, then restarted over that queue with the worker on (RSS right after start and the peak while
 *      the worker drains it): flat, not proportional to the queued inputs. The drain rate is reported too.
 *   3. End to end on an idle queue: --e2e (default 200) executions submitted at c=4, each from its submission
 *      to its completion against the mock (the row's created_at → completed_at, in ms).
 *
 *   node bench/executions.ts [--quick] [--levels 1,16] [--duration-ms 5000] [--queued 10000] [--e2e 200] [--pin]
 *
 * `--pin` (needs `taskset`, 2+ cores): the gateway (all its threads) on core 0, this process (the load) and the
 * mock on the others, so the gateway's tail is not the load generator's share of the same cores.
 *
 * `npm run bench` runs it at the end (--quick there when the bench is quick); `npm run bench:executions` alone.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse, stringify } from 'yaml';
import { MOCK_API_KEY } from '../test/mocks/openai-compatible.ts';
import {
  buildIfStale,
  type Child,
  type GatewayChild,
  killAllChildrenNow,
  launcherNodeFlags,
  spawnGateway,
  spawnIpcChild,
  stopChild,
} from './lib/children.ts';
import { BENCH_GATEWAY_KEY, writeGatewayConfig } from './lib/gateway-config.ts';
import { openPool, runLoad } from './lib/load.ts';
import { memory } from './lib/proc.ts';
import { percentile } from './lib/stats.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    levels: { type: 'string' },
    'duration-ms': { type: 'string' },
    queued: { type: 'string' },
    e2e: { type: 'string' },
    /** A copy of everything the gateway prints (for diagnosis, with MODRO_NODE_FLAGS adding --trace-gc). */
    'gateway-output': { type: 'string' },
    pin: { type: 'boolean', default: false },
  },
});
const quick = args.quick === true;
const LEVELS = (args.levels ?? '1,16').split(',').map(Number);
const DURATION_MS = Number(args['duration-ms'] ?? (quick ? 2_000 : 5_000));
const QUEUED = Number(args.queued ?? 10_000);
const E2E = Number(args.e2e ?? (quick ? 50 : 200));
for (const n of [...LEVELS, DURATION_MS, QUEUED, E2E]) {
  if (!Number.isInteger(n) || n < 1 || n > 1_000_000) throw new Error(`bad option value ${n}`);
}

const log = (line = '') => process.stdout.write(`${line}\n`);
const PIN = args.pin === true;
if (PIN && (cpus().length < 2 || spawnSync('which', ['taskset']).status !== 0)) {
  process.stderr.write('bench/executions.ts --pin needs taskset and at least 2 cores\n');
  process.exit(2);
}
const pin = (pid: number, cores: string) => {
  if (spawnSync('taskset', ['-a', '-pc', cores, String(pid)], { stdio: 'ignore' }).status !== 0) {
    throw new Error(`taskset could not pin ${pid} to ${cores}`);
  }
};
const SMALL = JSON.stringify({
  model: 'fast',
  input: { max_tokens: 16, messages: [{ role: 'user', content: 'Summarise this in one line.' }] },
});
/** About 4 KB of input: what would show in the RSS if queued inputs were held in memory. */
const LARGE = JSON.stringify({
  model: 'fast',
  input: { max_tokens: 16, messages: [{ role: 'user', content: 'lorem ipsum dolor sit amet '.repeat(150) }] },
});

const dir = mkdtempSync(join(tmpdir(), 'modro-bench-exec-'));

function setExecutions(configPath: string, executions: Record<string, unknown>): void {
  const config = parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  config['executions'] = executions;
  writeFileSync(configPath, stringify(config));
}

function count(db: DatabaseSync, where: string): number {
  return (db.prepare(`select count(*) as n from execution where ${where}`).get() as { n: number }).n;
}

async function main(): Promise<number> {
  let mock: Child | undefined;
  let gateway: GatewayChild | undefined;
  const others = `1-${cpus().length - 1}`;
  const start = async (configPath: string) => {
    const child = await spawnGateway(
      join(root, 'dist/cli/main.js'),
      configPath,
      dir,
      launcherNodeFlags(),
      args['gateway-output'],
    );
    if (PIN) pin(child.pid, '0');
    return child;
  };
  try {
    mock = await spawnIpcChild(join(here, 'mock-upstream.ts'));
    if (PIN) {
      pin(process.pid, others);
      pin(mock.pid, others);
    }
    const configPath = writeGatewayConfig(dir, mock.origin, MOCK_API_KEY);
    buildIfStale();
    const authorization = `Bearer ${BENCH_GATEWAY_KEY}`;
    log(
      `Executions profile (SQLite, gateway from dist/ as ./modro start runs it; ${quick ? 'quick' : 'full'}${PIN ? `; gateway pinned to core 0, load and mock to ${others}` : ''})`,
    );

    // 1. Submissions, worker off.
    setExecutions(configPath, { enabled: false });
    gateway = await start(configPath);
    const idleMB = memory(gateway.pid).rssMB;
    const target = { origin: gateway.origin, authorization, path: '/v1/executions', okStatus: 202 };
    log('| c | submissions/s | p50 ms | p99 ms | errors |');
    log('|---|---|---|---|---|');
    let submitted = 0;
    let p99At16 = Number.NaN;
    for (const c of LEVELS) {
      const pool = openPool(target, c);
      try {
        await runLoad(pool, target, { concurrency: c, body: SMALL, streaming: false, durationMs: 500 });
        const r = await runLoad(pool, target, {
          concurrency: c,
          body: SMALL,
          streaming: false,
          durationMs: DURATION_MS,
        });
        submitted += r.completed;
        const p99 = percentile(r.totalMs, 99);
        if (c === 16) p99At16 = p99;
        log(
          `| ${c} | ${Math.round(r.completed / (r.elapsedMs / 1000))} | ${percentile(r.totalMs, 50).toFixed(2)} | ${p99.toFixed(2)} | ${r.errors}${r.firstError ? ` (${r.firstError.slice(0, 80)})` : ''} |`,
        );
      } finally {
        await pool.close();
      }
    }
    if (Number.isFinite(p99At16))
      log(`Target p99 of the 202 < 5 ms at c=16: ${p99At16 < 5 ? 'PASS' : 'MISS'} (${p99At16.toFixed(2)} ms)`);
    // The machine's share of that p99: the same gateway answering GET /v1/models (no database, no upstream).
    {
      const pool = openPool({ origin: gateway.origin, authorization }, 16);
      try {
        const r = await runModelsLoad(pool, authorization, DURATION_MS);
        log(
          `Reference, GET /v1/models at c=16 on the same gateway: p50 ${percentile(r, 50).toFixed(2)} ms, p99 ${percentile(r, 99).toFixed(2)} ms`,
        );
      } finally {
        await pool.close();
      }
    }

    // 2. RSS with QUEUED queued (4 KB inputs).
    const db = new DatabaseSync(join(dir, 'modro.db'), { readOnly: true });
    try {
      const pending = count(db, "status = 'PENDING'");
      const more = Math.max(0, QUEUED - pending);
      if (more > 0) {
        const pool = openPool(target, 16);
        try {
          let left = more;
          await Promise.all(
            Array.from({ length: 16 }, async () => {
              while (left-- > 0) {
                const res = await pool.request({
                  path: '/v1/executions',
                  method: 'POST',
                  headers: { authorization, 'content-type': 'application/json' },
                  body: LARGE,
                });
                await res.body.text();
                if (res.statusCode !== 202) throw new Error(`submission answered ${res.statusCode}`);
              }
            }),
          );
        } finally {
          await pool.close();
        }
      }
      await sleep(2_000);
      const queued = count(db, "status = 'PENDING'");
      const afterMB = memory(gateway.pid).rssMB;
      await stopChild(gateway.proc, 15_000);
      gateway = undefined;
      log(
        `RSS, worker off: ${idleMB.toFixed(1)} MB idle at start → ${afterMB.toFixed(1)} MB with ${queued} queued (${pending} small + ${more} of ~4 KB; ${submitted} submissions measured)`,
      );

      setExecutions(configPath, { enabled: true, concurrency: 16, perTenant: 16, pollMs: 200 });
      gateway = await start(configPath);
      const startMB = memory(gateway.pid).rssMB;
      let peakMB = startMB;
      const t0 = performance.now();
      const deadline = t0 + 600_000;
      while (count(db, "status in ('PENDING','PROCESSING')") > 0 && performance.now() < deadline) {
        peakMB = Math.max(peakMB, memory(gateway.pid).rssMB);
        await sleep(100);
      }
      const drainS = (performance.now() - t0) / 1000;
      const done = count(db, "status = 'COMPLETED'");
      const failed = count(db, "status = 'FAILED'");
      log(
        `RSS, worker on over that queue: ${startMB.toFixed(1)} MB after start, peak ${peakMB.toFixed(1)} MB while draining; ` +
          `drained ${done} completed, ${failed} failed in ${drainS.toFixed(1)} s (${Math.round((done + failed) / drainS)} executions/s)`,
      );

      // 3. End to end on an idle queue, c=4.
      const marker = Date.now();
      let left = E2E;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (left-- > 0) {
            const res = await fetch(`${gateway!.origin}/v1/executions`, {
              method: 'POST',
              headers: { authorization, 'content-type': 'application/json' },
              body: SMALL,
            });
            const { id } = (await res.json()) as { id: string };
            for (;;) {
              const row = db.prepare('select status from execution where id = ?').get(id) as { status: string };
              if (row.status !== 'PENDING' && row.status !== 'PROCESSING') break;
              await sleep(2);
            }
          }
        }),
      );
      const e2e = (
        db
          .prepare(
            `select completed_at - created_at as ms from execution where created_at >= ? and status = 'COMPLETED'`,
          )
          .all(marker) as Array<{ ms: number }>
      ).map((r) => r.ms);
      log(
        `End to end (submission → COMPLETED, c=4, ${e2e.length} executions): p50 ${percentile(e2e, 50)} ms, p99 ${percentile(e2e, 99)} ms`,
      );
    } finally {
      db.close();
    }
    return 0;
  } finally {
    await Promise.allSettled([gateway, mock].flatMap((c) => (c ? [stopChild(c.proc, 15_000)] : [])));
    rmSync(dir, { recursive: true, force: true });
  }
}

process.on('SIGINT', () => {
  killAllChildrenNow();
  process.exit(130);
});
main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    killAllChildrenNow();
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);

/** GET /v1/models in 16 closed loops for `durationMs`; the latencies (ms). */
async function runModelsLoad(pool: ReturnType<typeof openPool>, authorization: string, durationMs: number) {
  const latencies: number[] = [];
  const end = performance.now() + durationMs;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        const res = await pool.request({ path: '/v1/models', method: 'GET', headers: { authorization } });
        await res.body.text();
        if (res.statusCode === 200) latencies.push(performance.now() - t0);
      }
    }),
  );
  return latencies;
}
