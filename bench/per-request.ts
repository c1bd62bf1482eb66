/**
 * Where a request's CPU goes, per thread and per system call: the floor and the gateway (as `./modro start` runs
 * it, with the bench's limited key) against the bench's mock, at one concurrency (default 1, where the CPU ratio
 * of `npm run bench` is worst), alternating for --rounds rounds of 2 s. Prints, per target and round, requests per
 * second, p50, CPU ms per request of the whole process and of each thread kind (MainThread, libuv-worker for the
 * thread pool, V8Worker for GC and compiler helpers), and with --strace the system calls per request
 * (`strace -c -f` attached for the round; it slows the process, so CPU figures of those rounds are not comparable).
 * Peak RSS per round with --rss. For diagnosis, not a verdict: `npm run bench` is the measurement.
 *
 * With --plain, a third target: the same gateway process called with the configuration's own key (no limits, not
 * billed), which shows what the limited (or billed) key's stages cost beside it.
 *
 *   node bench/per-request.ts [--concurrency 1] [--rounds 3] [--strace] [--rss] [--billed] [--plain]
 *     [--gateway-node-args="--cpu-prof --cpu-prof-dir=/tmp/prof"]
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { MOCK_API_KEY } from '../test/mocks/openai-compatible.ts';
import {
  buildIfStale,
  killAllChildrenNow,
  launcherNodeFlags,
  spawnGateway,
  spawnIpcChild,
  stopChild,
} from './lib/children.ts';
import { BENCH_GATEWAY_KEY, billBenchTenant, createLimitedBenchKey, writeGatewayConfig } from './lib/gateway-config.ts';
import { openPool, runLoad } from './lib/load.ts';
import { cpuResolutionMs, cpuSeconds, memory, resetPeak } from './lib/proc.ts';
import { NON_STREAMING_BODY } from './lib/request-bodies.ts';
import { percentile } from './lib/stats.ts';

const { values: args } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    strace: { type: 'boolean', default: false },
    rss: { type: 'boolean', default: false },
    billed: { type: 'boolean', default: false },
    plain: { type: 'boolean', default: false },
    'gateway-node-args': { type: 'string', default: '' },
  },
});
const concurrency = Number(args.concurrency);
const rounds = Number(args.rounds);
for (const n of [concurrency, rounds]) {
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new Error(`bad option value ${n}`);
}
if (args.strace && spawnSync('which', ['strace']).status !== 0) throw new Error('--strace needs strace on PATH');

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const dir = mkdtempSync(join(tmpdir(), 'modro-per-request-'));
// strace's output goes elsewhere: the gateway watches the folder of its configuration (the one above).
const straceDir = mkdtempSync(join(tmpdir(), 'modro-per-request-strace-'));
const log = (line = '') => process.stdout.write(`${line}\n`);

/** CPU ms of each thread kind of a process (threads of one name summed). */
function threadCpuMs(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ms = (Number(fields[11]) + Number(fields[12])) * cpuResolutionMs;
    byName.set(name, (byName.get(name) ?? 0) + ms);
  }
  return byName;
}

/** `strace -c` summary rows: calls per system call. */
function straceCalls(path: string): Map<string, number> {
  const calls = new Map<string, number>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts.length < 5 || !/^[\d.]+$/.test(parts[0] ?? '') || parts.at(-1) === 'total') continue;
    calls.set(parts.at(-1)!, Number(parts[3]));
  }
  return calls;
}

async function main(): Promise<void> {
  const mock = await spawnIpcChild(join(here, 'mock-upstream.ts'));
  const floor = await spawnIpcChild(join(here, 'floor-proxy.ts'), { BENCH_UPSTREAM: mock.origin });
  const configPath = writeGatewayConfig(dir, mock.origin, MOCK_API_KEY);
  const key = await createLimitedBenchKey(configPath);
  if (args.billed) await billBenchTenant(configPath);
  buildIfStale();
  const extra = args['gateway-node-args'].split(/\s+/).filter(Boolean);
  const gateway = await spawnGateway(join(root, 'dist/cli/main.js'), configPath, dir, [
    ...launcherNodeFlags(),
    ...extra,
  ]);
  const targets = [
    { name: 'floor', origin: floor.origin, authorization: `Bearer ${MOCK_API_KEY}`, pid: floor.pid },
    { name: 'gateway', origin: gateway.origin, authorization: `Bearer ${key}`, pid: gateway.pid },
  ];
  if (args.plain) {
    targets.push({
      name: 'plain',
      origin: gateway.origin,
      authorization: `Bearer ${BENCH_GATEWAY_KEY}`,
      pid: gateway.pid,
    });
  }
  const body = NON_STREAMING_BODY;
  log(`c=${concurrency}, ${rounds} round(s) of 2 s per target${args.billed ? ', billed account' : ''}`);
  for (const t of targets) {
    const pool = openPool(t, concurrency);
    await runLoad(pool, t, { concurrency, body, streaming: false, durationMs: 3_000 });
    await pool.close();
  }
  for (let round = 1; round <= rounds; round++) {
    for (const t of targets) {
      const pool = openPool(t, concurrency);
      await runLoad(pool, t, { concurrency, body, streaming: false, durationMs: 300 });
      let tracer: ChildProcess | undefined;
      const traceFile = join(straceDir, `${t.name}-${round}.txt`);
      if (args.strace) {
        tracer = spawn('strace', ['-c', '-f', '-o', traceFile, '-p', String(t.pid)], { stdio: 'ignore' });
        await sleep(700);
      }
      resetPeak(t.pid);
      const cpu0 = cpuSeconds(t.pid);
      const threads0 = threadCpuMs(t.pid);
      const r = await runLoad(pool, t, { concurrency, body, streaming: false, durationMs: 2_000 });
      await sleep(1_150); // the usage writer's batch and late GC of the window are charged to it, as in the bench
      const cpu1 = cpuSeconds(t.pid);
      const threads1 = threadCpuMs(t.pid);
      await pool.close();
      const n = Math.max(1, r.completed);
      const perThread = [...threads1]
        .map(([name, ms]) => [name, (ms - (threads0.get(name) ?? 0)) / n] as const)
        .filter(([, ms]) => ms > 0)
        .map(([name, ms]) => `${name} ${ms.toFixed(3)}`)
        .join(', ');
      log(
        `${t.name.padEnd(8)} round ${round}: ${Math.round(r.completed / (r.elapsedMs / 1000))} req/s, p50 ${percentile(r.totalMs, 50).toFixed(3)} ms, CPU ${(((cpu1 - cpu0) * 1000) / n).toFixed(3)} ms/req (${perThread})${r.errors ? `, ${r.errors} errors: ${r.firstError}` : ''}`,
      );
      if (args.rss) log(`         peak RSS ${memory(t.pid).peakMB.toFixed(1)} MB`);
      if (tracer) {
        tracer.kill('SIGINT');
        await new Promise((resolve) => tracer.once('exit', resolve));
        const calls = [...straceCalls(traceFile)].sort((a, b) => b[1] - a[1]);
        const total = calls.reduce((sum, [, c]) => sum + c, 0);
        log(
          `         system calls per request: ${(total / n).toFixed(1)} (${calls
            .slice(0, 10)
            .map(([name, c]) => `${name} ${(c / n).toFixed(2)}`)
            .join(', ')})`,
        );
      }
    }
  }
  await stopChild(gateway.proc, 10_000); // a clean exit writes --cpu-prof profiles
}

try {
  await main();
} finally {
  killAllChildrenNow();
  rmSync(dir, { recursive: true, force: true });
  rmSync(straceDir, { recursive: true, force: true });
}
