/**
 * `node bench/tail.ts [--rounds 5] [--duration-s 8] [--connections 256]`: tail latency under load, measured
 * the way the pipeline issue measured it. The gateway and the floor proxy are pinned to core 0, the mock
 * upstream and wrk to the other cores; rounds alternate floor and gateway; wrk's own latency histogram gives
 * p50/p90/p99/max. Needs `wrk` and `taskset` (Debian: apt-get install wrk). The gateway's event-loop delay
 * (modro_event_loop_delay_seconds on /metrics) is read after each gateway cell. Not part of `npm test`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
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
import { BENCH_GATEWAY_KEY, writeGatewayConfig } from './lib/gateway-config.ts';
import { NON_STREAMING_BODY } from './lib/request-bodies.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    'duration-s': { type: 'string', default: '8' },
    connections: { type: 'string', default: '256' },
    'gateway-output': { type: 'string' },
  },
});
const rounds = Number(args.rounds);
const durationS = Number(args['duration-s']);
const connections = Number(args.connections);

for (const tool of ['wrk', 'taskset']) {
  if (spawnSync('which', [tool]).status !== 0) {
    process.stderr.write(`bench/tail.ts needs ${tool} on PATH\n`);
    process.exit(2);
  }
}
const otherCores = cpus().length > 1 ? `1-${cpus().length - 1}` : '0';
const pin = (pid: number, cores: string) => spawnSync('taskset', ['-a', '-pc', cores, String(pid)], { stdio: 'ignore' });

const dir = mkdtempSync(join(tmpdir(), 'modro-tail-'));
const script = join(dir, 'post.lua');

interface Cell {
  target: string;
  round: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  socketErrors: string;
  loopDelayMaxMs?: number;
}

function toMs(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!match) return Number.NaN;
  const value = Number(match[1]);
  return match[2] === 'us' ? value / 1000 : match[2] === 'ms' ? value : match[2] === 's' ? value * 1000 : value * 60_000;
}

function runWrk(origin: string, authorization: string): Omit<Cell, 'target' | 'round'> {
  writeFileSync(
    script,
    `wrk.method = "POST"\nwrk.body = ${JSON.stringify(NON_STREAMING_BODY)}\n` +
      `wrk.headers["Content-Type"] = "application/json"\nwrk.headers["Authorization"] = "${authorization}"\n`,
  );
  const out = spawnSync(
    'taskset',
    ['-c', otherCores, 'wrk', '-t1', `-c${connections}`, `-d${durationS}s`, '--latency', '-s', script, `${origin}/v1/chat/completions`],
    { encoding: 'utf8' },
  ).stdout;
  const pct = (p: string) => toMs(new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out)?.[1] ?? '');
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]),
    p50: pct('50'),
    p90: pct('90'),
    p99: pct('99'),
    max: toMs(/Latency\s+\S+\s+\S+\s+(\S+)/.exec(out)?.[1] ?? ''),
    socketErrors: /Socket errors:.*$/m.exec(out)?.[0] ?? '',
  };
}

let lastScrape = '';
async function loopDelayMax(origin: string): Promise<number | undefined> {
  const res = await fetch(`${origin}/metrics`);
  const text = await res.text();
  lastScrape = text;
  const line = /^modro_event_loop_delay_seconds\{quantile="max"\} (\S+)$/m.exec(text);
  return line ? Number(line[1]) * 1000 : undefined;
}

/** Observations above 0.5 s in a histogram of the last scrape (summed over label sets). */
function slowCount(name: string): number {
  let total = 0;
  let fast = 0;
  for (const m of lastScrape.matchAll(new RegExp(`^${name}_count(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) total += Number(m[1]);
  for (const m of lastScrape.matchAll(new RegExp(`^${name}_bucket\\{[^}]*le="0.5"[^}]*\\} (\\S+)$`, 'gm'))) fast += Number(m[1]);
  return total - fast;
}

async function main(): Promise<void> {
  const mock = await spawnIpcChild(join(here, 'mock-upstream.ts'));
  const floor = await spawnIpcChild(join(here, 'floor-proxy.ts'), { BENCH_UPSTREAM: mock.origin });
  buildIfStale();
  const gateway = await spawnGateway(
    join(root, 'dist/cli/main.js'),
    writeGatewayConfig(dir, mock.origin, MOCK_API_KEY),
    dir,
    launcherNodeFlags(),
    args['gateway-output'],
  );
  pin(gateway.pid, '0');
  pin(floor.pid, '0');
  pin(mock.pid, otherCores);
  const targets = [
    { name: 'floor', origin: floor.origin, authorization: `Bearer ${MOCK_API_KEY}` },
    { name: 'gateway', origin: gateway.origin, authorization: `Bearer ${BENCH_GATEWAY_KEY}` },
  ];
  // Warm both up (JIT, pools) before the first measured cell.
  for (const t of targets) runWrk(t.origin, t.authorization);
  const cells: Cell[] = [];
  for (let round = 1; round <= rounds; round++) {
    const order = round % 2 === 1 ? targets : [...targets].reverse();
    for (const t of order) {
      if (t.name === 'gateway') await loopDelayMax(t.origin); // reads reset the window
      const cell: Cell = { target: t.name, round, ...runWrk(t.origin, t.authorization) };
      if (t.name === 'gateway') {
        cell.loopDelayMaxMs = await loopDelayMax(t.origin);
        process.stdout.write(
          `  (cumulative) requests > 0.5 s: ${slowCount('modro_request_duration_seconds')}, upstream first byte > 0.5 s: ${slowCount('modro_upstream_first_byte_seconds')}\n`,
        );
      }
      cells.push(cell);
      process.stdout.write(
        `round ${round} ${t.name.padEnd(7)} ${cell.rps.toFixed(0).padStart(6)} req/s  p50 ${cell.p50.toFixed(1)} ms  ` +
          `p90 ${cell.p90.toFixed(1)} ms  p99 ${cell.p99.toFixed(1)} ms  max ${cell.max.toFixed(1)} ms` +
          (cell.loopDelayMaxMs === undefined ? '' : `  loop delay max ${cell.loopDelayMaxMs.toFixed(1)} ms`) +
          (cell.socketErrors ? `  ${cell.socketErrors}` : '') +
          '\n',
      );
    }
  }
  // Stopped with SIGTERM (not killed) so that profiling flags given through MODRO_NODE_FLAGS write their output.
  await stopChild(gateway.proc, 10_000);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const p99 = (name: string) => median(cells.filter((c) => c.target === name).map((c) => c.p99));
  const ratio = p99('gateway') / p99('floor');
  process.stdout.write(
    `\nc=${connections}: median p99 gateway ${p99('gateway').toFixed(1)} ms, floor ${p99('floor').toFixed(1)} ms, ` +
      `ratio ${ratio.toFixed(2)}x (target <= 2x: ${ratio <= 2 ? 'PASS' : 'MISS'})\n`,
  );
}

try {
  await main();
} finally {
  killAllChildrenNow();
  rmSync(dir, { recursive: true, force: true });
}
