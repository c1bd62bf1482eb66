/**
 * `npm run bench [-- --quick]`: the gateway against the floor (a minimal Node pass-through proxy) and a
 * direct call to the same mock upstream, in one run, alternating, on 127.0.0.1. Prints throughput, latency,
 * time to first byte, CPU per request and peak RSS, then the targets from the issue as PASS/MISS.
 * docs/benchmarks.md explains the method and keeps the figures.
 *
 * Options: --quick (one short round), --rounds N, --duration-ms N, --levels 1,16,64,256,
 * --stream-levels 1,16, --profile-levels 1,16 (Responses and embeddings profiles; --no-profiles: chat only;
 * --no-executions: without the executions profile, bench/executions.ts, which runs last), --json FILE (raw measurements), --gateway-node-args="--cpu-prof --cpu-prof-dir=DIR" (with `=`)
 * (extra Node flags for the gateway process, for profiling; its figures are then for orientation only),
 * --gateway-output FILE (a copy of everything the gateway prints), --unlimited-key (call the gateway with the
 * configured key, which has no limits, instead of a managed key with every per-key limit set high), --billed
 * (the managed key's tenant is a billed account with a balance and a plan: every request holds and settles).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { MOCK_API_KEY } from '../test/mocks/openai-compatible.ts';
import {
  buildIfStale,
  type Child,
  killAllChildrenNow,
  launcherNodeFlags,
  spawnGateway,
  spawnIpcChild,
  stopChild,
} from './lib/children.ts';
import {
  BENCH_GATEWAY_KEY,
  billBenchTenant,
  createLimitedBenchKey,
  verifyBenchLedger,
  writeGatewayConfig,
} from './lib/gateway-config.ts';
import { type LoadTarget, openPool, runLoad } from './lib/load.ts';
import { type Measurement, measure, type ProcessName, type TargetName } from './lib/measure.ts';
import { cpuResolutionMs, cpuSeconds, machineTicks, memory, resetPeak, stealShare } from './lib/proc.ts';
import {
  extraDifferences,
  type LoopDelay,
  nonStreamingTable,
  type RoundMeasurement,
  streamingTable,
  TARGETS,
  verdictLines,
  verdicts,
} from './lib/report.ts';
import {
  EMBEDDINGS_BODY,
  NON_STREAMING_BODY,
  RESPONSES_BODY,
  RESPONSES_STREAMING_BODY,
  STREAMING_BODY,
} from './lib/request-bodies.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
/** Hypervisor steal above this share of the machine's CPU time marks a run whose figures are unreliable. */
const STEAL_WARN = 0.02;

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    'duration-ms': { type: 'string' },
    levels: { type: 'string' },
    'stream-levels': { type: 'string' },
    'profile-levels': { type: 'string' },
    'no-profiles': { type: 'boolean', default: false },
    'no-executions': { type: 'boolean', default: false },
    json: { type: 'string' },
    'gateway-node-args': { type: 'string' },
    'gateway-output': { type: 'string' },
    'unlimited-key': { type: 'boolean', default: false },
    billed: { type: 'boolean', default: false },
  },
});

const list = (text: string | undefined, fallback: number[]) =>
  text ? text.split(',').map((s) => Number.parseInt(s, 10)) : fallback;

const PLAN = {
  rounds: Number(args.rounds ?? (args.quick ? 1 : 3)),
  durationMs: Number(args['duration-ms'] ?? (args.quick ? 1_000 : 2_000)),
  /** Streams are slower per request; a longer window gives enough samples for a p99 at c=1. */
  streamDurationMs: Number(args['duration-ms'] ?? (args.quick ? 1_500 : 3_000)),
  warmupMs: args.quick ? 500 : 1_000,
  /** Once per target before the first level, so the first level does not measure code still being optimised. */
  initialWarmupMs: args.quick ? 1_000 : 3_000,
  /** Past the gateway's usage flush interval (1 s by default), so each window pays for its own writes. */
  settleMs: 1_150,
  levels: list(args.levels, [1, 16, 64, 256]),
  streamLevels: list(args['stream-levels'], [1, 16]),
  /** Levels of the Responses and embeddings profiles. */
  /** `--no-profiles`: chat only (e.g. to profile the chat path alone with --gateway-node-args). */
  profileLevels: args['no-profiles'] ? [] : list(args['profile-levels'], [1, 16]),
  /** Mock pause between SSE events in the streaming phase. */
  paceMs: 2,
};
for (const n of [PLAN.rounds, PLAN.durationMs, ...PLAN.levels, ...PLAN.streamLevels, ...PLAN.profileLevels]) {
  if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new Error(`bad option value ${n}`);
}

const log = (line = '') => process.stdout.write(`${line}\n`);

const dir = mkdtempSync(join(tmpdir(), 'modro-bench-'));

async function main(): Promise<number> {
  const all: RoundMeasurement[] = [];
  let gatewayRequests = 0;
  let mock: Child | undefined;
  let floor: Child | undefined;
  let gateway: Awaited<ReturnType<typeof spawnGateway>> | undefined;
  try {
    mock = await spawnIpcChild(join(here, 'mock-upstream.ts'));
    floor = await spawnIpcChild(join(here, 'floor-proxy.ts'), { BENCH_UPSTREAM: mock.origin });
    const configPath = writeGatewayConfig(dir, mock.origin, MOCK_API_KEY);
    // By default the gateway is called with a managed key whose limits are all set (never refusing), so the
    // figures include every per-key check; --unlimited-key uses the configured key without limits instead.
    const gatewayKey = args['unlimited-key'] ? BENCH_GATEWAY_KEY : await createLimitedBenchKey(configPath);
    if (args.billed && !args['unlimited-key']) await billBenchTenant(configPath);
    log(
      `Gateway key: ${args['unlimited-key'] ? 'configured, no limits' : 'managed, with rpm, tpm, quota, IP and model lists, scopes'}` +
        (args.billed && !args['unlimited-key'] ? '; billed: a balance, a plan with a cap, a hold per request' : ''),
    );
    // As `./modro start` runs it: compiled into dist/ (built here when out of date) with the launcher's Node flags.
    buildIfStale();
    const extraNodeArgs = gatewayNodeArgs(args['gateway-node-args']);
    const nodeArgs = [...launcherNodeFlags(), ...extraNodeArgs];
    log(`Gateway: node ${nodeArgs.join(' ')} dist/cli/main.js start (as ./modro start runs it)`);
    gateway = await spawnGateway(join(root, 'dist/cli/main.js'), configPath, dir, nodeArgs, args['gateway-output']);

    const targets: Record<TargetName, LoadTarget> = {
      direct: { origin: mock.origin, authorization: `Bearer ${MOCK_API_KEY}` },
      floor: { origin: floor.origin, authorization: `Bearer ${MOCK_API_KEY}` },
      gateway: { origin: gateway.origin, authorization: `Bearer ${gatewayKey}` },
    };
    const pids: Record<ProcessName, number> = {
      mock: mock.pid,
      floor: floor.pid,
      gateway: gateway.pid,
      load: process.pid,
    };

    printHeader(PLAN);
    const ticksAtStart = machineTicks();
    await printIdleCpu(pids);
    gatewayRequests += await sanityCheck(targets);
    gatewayRequests += await initialWarmup(targets);

    const peaks = { gateway: Number.NaN, floor: Number.NaN, peakReset: false };
    log('Non-streaming: measuring ...');
    for (const c of PLAN.levels) {
      if (c === PLAN.levels.at(-1)) {
        peaks.peakReset = resetPeak(gateway.pid) && resetPeak(floor.pid);
      }
      gatewayRequests += await runLevel(all, targets, pids, c, false);
      if (c === PLAN.levels.at(-1)) {
        peaks.gateway = memory(gateway.pid).peakMB;
        peaks.floor = memory(floor.pid).peakMB;
      }
    }

    await setPace(mock, PLAN.paceMs);
    log('Streaming: measuring ...');
    for (const c of PLAN.streamLevels) gatewayRequests += await runLevel(all, targets, pids, c, true);
    await setPace(mock, 0);

    // Profiles: the gateway's other endpoints, each target sending the same request to the same path. The
    // bench's provider is of kind openai, whose Responses API the mock serves (recorded answers): the gateway
    // passes /v1/responses through, as it does for OpenAI itself.
    const responses: RoundMeasurement[] = [];
    const embeddings: RoundMeasurement[] = [];
    const profiles = PLAN.profileLevels.length > 0;
    if (profiles) log('Responses API (/v1/responses, passed through to an OpenAI upstream): measuring ...');
    const viaResponses = (body: string) =>
      Object.fromEntries(TARGETS.map((t) => [t, { ...targets[t], path: '/v1/responses', body }])) as Record<
        TargetName,
        LoadTarget
      >;
    for (const c of PLAN.profileLevels) {
      gatewayRequests += await runLevel(responses, viaResponses(RESPONSES_BODY), pids, c, false);
    }
    if (profiles) {
      await setPace(mock, PLAN.paceMs);
      gatewayRequests += await runLevel(responses, viaResponses(RESPONSES_STREAMING_BODY), pids, 1, true);
      await setPace(mock, 0);
      log('Embeddings (/v1/embeddings, 16 inputs per request): measuring ...');
    }
    const viaEmbeddings = Object.fromEntries(
      TARGETS.map((t) => [t, { ...targets[t], path: '/v1/embeddings', body: EMBEDDINGS_BODY }]),
    ) as Record<TargetName, LoadTarget>;
    for (const c of PLAN.profileLevels) gatewayRequests += await runLevel(embeddings, viaEmbeddings, pids, c, false);

    const metricsTotal = await scrapeRequestsTotal(gateway.origin);
    const endMemory = memory(gateway.pid);
    const steal = stealShare(ticksAtStart, machineTicks());

    log();
    log(`Non-streaming, median of ${PLAN.rounds} round(s) of ${PLAN.durationMs} ms per target and level:`);
    log(nonStreamingTable(all, PLAN.levels));
    log();
    log(`Streaming (${PLAN.paceMs} ms between upstream events), median of ${PLAN.rounds} round(s):`);
    log(streamingTable(all, PLAN.streamLevels));
    log();
    log(
      `Peak RSS during c=${PLAN.levels.at(-1)}${peaks.peakReset ? '' : ' (VmHWM could not be reset: lifetime peak)'}: ` +
        `gateway ${peaks.gateway.toFixed(1)} MB, floor ${peaks.floor.toFixed(1)} MB; ` +
        `gateway at the end: RSS ${endMemory.rssMB.toFixed(1)} MB, lifetime peak ${endMemory.peakMB.toFixed(1)} MB`,
    );
    if (steal !== undefined) {
      // On a shared virtual machine the host can take the CPUs away mid-run: every process slows, unevenly,
      // and latency and per-request CPU then move far more than any change to the gateway would.
      log(
        `Hypervisor steal during the measurements: ${(steal * 100).toFixed(1)}% of the machine's CPU time` +
          (steal > STEAL_WARN
            ? ` (above ${STEAL_WARN * 100}%: the host was busy; compare this run's figures with care)`
            : ''),
      );
    }
    log();
    log('Gateway minus floor, median of per-round differences:');
    log(extraDifferences(all, PLAN.levels, PLAN.streamLevels));
    log();
    log(
      `Targets${extraNodeArgs.length ? ` (NOT VALID: the gateway ran with extra flags ${extraNodeArgs.join(' ')})` : ''}:`,
    );
    const verdictList = verdicts(all, PLAN.levels, PLAN.streamLevels, peaks.gateway);
    log(verdictLines(verdictList));
    log();
    const profileVerdicts = (list: RoundMeasurement[], streams: number[]) =>
      verdictLines(verdicts(list, PLAN.profileLevels, streams, Number.NaN).filter((v) => !v.name.includes('RSS')));
    if (profiles) {
      log(`Responses API profile, median of ${PLAN.rounds} round(s):`);
      log(nonStreamingTable(responses, PLAN.profileLevels));
      log(streamingTable(responses, [1]));
      log(extraDifferences(responses, PLAN.profileLevels, [1]));
      log(profileVerdicts(responses, [1]));
      log();
      log(`Embeddings profile (16 inputs per request), median of ${PLAN.rounds} round(s):`);
      log(nonStreamingTable(embeddings, PLAN.profileLevels));
      log(extraDifferences(embeddings, PLAN.profileLevels, []));
      log(profileVerdicts(embeddings, []));
      log();
    }
    await printRouterCost();

    const gatewayPid = gateway.pid;
    const logLines = gateway.logLines;
    await stopChild(gateway.proc, 15_000);
    gateway = undefined;
    const rows = countUsageRows(join(dir, 'modro.db'));
    log(
      `Gateway bookkeeping: ${gatewayRequests} requests sent, modro_requests_total ${metricsTotal}, ` +
        `usage_record rows ${rows} (pid ${gatewayPid}); ${logLines.length} log line(s) at info level` +
        (logLines.length ? `, first: ${logLines[0]!.slice(0, 200)}` : ''),
    );
    if (args.billed && !args['unlimited-key']) log(`Billing: ${await verifyBenchLedger(configPath)}`);
    // The executions profile (bench/executions.ts) in its own run, after the chat gateway has stopped.
    if (!args['no-profiles'] && !args['no-executions']) {
      log();
      const profile = spawnSync(process.execPath, [join(here, 'executions.ts'), ...(args.quick ? ['--quick'] : [])], {
        stdio: 'inherit',
      });
      if (profile.status !== 0) log(`WARNING: the executions profile failed (exit ${profile.status})`);
    }
    if (args.json) {
      writeFileSync(
        args.json,
        JSON.stringify(
          {
            plan: PLAN,
            machine: machine(),
            peaks,
            endMemory,
            verdicts: verdictList,
            measurements: all,
            profiles: { responses, embeddings },
          },
          null,
          2,
        ),
      );
      log(`Raw measurements written to ${args.json}`);
    }
    const errors = all.reduce((s, m) => s + m.errors, 0);
    if (errors > 0) {
      log(`WARNING: ${errors} failed request(s); first: ${all.find((m) => m.firstError)?.firstError}`);
      return 1;
    }
    return 0;
  } finally {
    await Promise.allSettled([gateway, floor, mock].flatMap((c) => (c ? [stopChild(c.proc)] : [])));
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * One concurrency level: a warm-up per target (connections opened, code optimised), then `rounds` rounds
 * in which the three targets run back to back, the starting target rotating each round.
 * Returns how many requests the gateway was sent.
 */
async function runLevel(
  all: RoundMeasurement[],
  targets: Record<TargetName, LoadTarget>,
  pids: Record<ProcessName, number>,
  concurrency: number,
  streaming: boolean,
): Promise<number> {
  const body = streaming ? STREAMING_BODY : NON_STREAMING_BODY;
  const durationMs = streaming ? PLAN.streamDurationMs : PLAN.durationMs;
  const pools = Object.fromEntries(TARGETS.map((t) => [t, openPool(targets[t], concurrency)])) as Record<
    TargetName,
    ReturnType<typeof openPool>
  >;
  let gatewayRequests = 0;
  try {
    for (const target of TARGETS) {
      const warm = await runLoad(pools[target], targets[target], {
        concurrency,
        body,
        streaming,
        durationMs: PLAN.warmupMs,
      });
      if (target === 'gateway') gatewayRequests += warm.completed + warm.errors;
      if (warm.errors > 0) throw new Error(`warm-up against ${target} failed: ${warm.firstError}`);
    }
    await sleep(PLAN.settleMs);
    for (let round = 0; round < PLAN.rounds; round++) {
      for (let i = 0; i < TARGETS.length; i++) {
        const target = TARGETS[(i + round) % TARGETS.length]!;
        // A scrape resets the gateway's event-loop delay window, so the one after the cell covers just it.
        if (target === 'gateway') await loopDelay(targets.gateway.origin);
        const m: Measurement & { loopDelay?: LoopDelay } = await measure(
          target,
          targets[target],
          pools[target],
          { concurrency, body, streaming, durationMs },
          pids,
          PLAN.settleMs,
        );
        if (target === 'gateway') {
          gatewayRequests += m.completed + m.errors;
          m.loopDelay = await loopDelay(targets.gateway.origin);
        }
        all.push({ ...m, round, streaming });
        log(
          `  ${streaming ? 'stream' : 'plain '} c=${String(concurrency).padEnd(3)} round ${round + 1} ${target.padEnd(7)} ` +
            `${m.rps.toFixed(0).padStart(6)} req/s  p50 ${m.p50.toFixed(2)} ms  p99 ${m.p99.toFixed(2)} ms` +
            (m.loopDelay
              ? `  loop delay p99 ${m.loopDelay.p99Ms.toFixed(1)} ms max ${m.loopDelay.maxMs.toFixed(1)} ms`
              : '') +
            (streaming ? `  TTFB p50 ${m.ttfbP50.toFixed(2)} ms` : '') +
            (m.errors ? `  ERRORS ${m.errors}: ${m.firstError}` : ''),
        );
      }
    }
  } finally {
    await Promise.allSettled(Object.values(pools).map((p) => p.close()));
  }
  return gatewayRequests;
}

/** Switches the mock between whole-body answers (0) and paced streams, and waits until it has. */
async function setPace(mock: Child, paceMs: number): Promise<void> {
  const acknowledged = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the mock did not acknowledge the pace change')), 5_000);
    const onMessage = (message: { type?: string; pace?: number }) => {
      if (message.type !== 'paced' || message.pace !== paceMs) return;
      clearTimeout(timer);
      mock.proc.off('message', onMessage);
      resolve();
    };
    mock.proc.on('message', onMessage);
  });
  mock.proc.send({ pace: paceMs });
  await acknowledged;
}

async function initialWarmup(targets: Record<TargetName, LoadTarget>): Promise<number> {
  let gatewayRequests = 0;
  for (const target of TARGETS) {
    const pool = openPool(targets[target], 16);
    try {
      const options = { concurrency: 16, body: NON_STREAMING_BODY, streaming: false, durationMs: PLAN.initialWarmupMs };
      const warm = await runLoad(pool, targets[target], options);
      if (target === 'gateway') gatewayRequests += warm.completed + warm.errors;
      if (warm.errors > 0) throw new Error(`warm-up against ${target} failed: ${warm.firstError}`);
    } finally {
      await pool.close();
    }
  }
  return gatewayRequests;
}

/** One request per target and mode, checked, before anything is timed. Returns requests sent to the gateway. */
async function sanityCheck(targets: Record<TargetName, LoadTarget>): Promise<number> {
  for (const target of TARGETS) {
    for (const streaming of [false, true]) {
      const res = await request(`${targets[target].origin}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: targets[target].authorization },
        body: streaming ? STREAMING_BODY : NON_STREAMING_BODY,
      });
      const text = await res.body.text();
      const ok = res.statusCode === 200 && (streaming ? text.includes('data: [DONE]') : text.includes('"choices"'));
      if (!ok)
        throw new Error(
          `sanity check: ${target} ${streaming ? 'stream' : 'request'} answered ${res.statusCode}: ${text.slice(0, 300)}`,
        );
      if (target === 'gateway' && !streaming && !args['unlimited-key'] && !res.headers['x-ratelimit-limit-requests']) {
        throw new Error('sanity check: the limited key got no x-ratelimit headers');
      }
      if (target === 'gateway' && !streaming) {
        log(
          `Gateway routed model "fast" to ${res.headers['x-model-router-model']} (tier ${res.headers['x-model-router-tier']})`,
        );
      }
    }
  }
  return 2;
}

/** The gateway's event-loop delay since the previous scrape (modro_event_loop_delay_seconds). */
async function loopDelay(origin: string): Promise<LoopDelay> {
  const res = await request(`${origin}/metrics`);
  const text = await res.body.text();
  const read = (q: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`modro_event_loop_delay_seconds{quantile="${q}"}`));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) * 1000 : Number.NaN;
  };
  return { p99Ms: read('0.99'), maxMs: read('max') };
}

async function scrapeRequestsTotal(origin: string): Promise<number> {
  const res = await request(`${origin}/metrics`);
  const text = await res.body.text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('modro_requests_total{')) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

function countUsageRows(path: string): number | string {
  if (!existsSync(path)) return 'no database file';
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const row = db.prepare('SELECT count(*) AS n FROM usage_record').get() as { n: number };
    return row.n;
  } finally {
    db.close();
  }
}

async function printRouterCost(): Promise<void> {
  const path = join(here, 'router-bench.ts');
  if (!existsSync(path)) {
    log('Router cost: skipped (bench/router-bench.ts is not there yet)');
    return;
  }
  try {
    const mod = (await import(pathToFileURL(path).href)) as { benchRouter?: () => unknown };
    if (typeof mod.benchRouter !== 'function') {
      log('Router cost: skipped (bench/router-bench.ts does not export benchRouter())');
      return;
    }
    log('Router cost:');
    const result = await mod.benchRouter();
    if (Array.isArray(result) && result.every((row) => row !== null && typeof row === 'object')) {
      log(rowsTable(result as Array<Record<string, unknown>>));
    } else if (typeof result === 'string') log(result);
    else if (result !== undefined) log(JSON.stringify(result, null, 2));
  } catch (err) {
    log(`Router cost: failed (${err instanceof Error ? err.message : String(err)})`);
  }
}

/** Extra Node flags for the gateway; `--…-dir=` paths are made absolute (the gateway runs in a temp dir). */
function gatewayNodeArgs(text: string | undefined): string[] {
  return (text ?? '')
    .split(' ')
    .filter(Boolean)
    .map((arg) => arg.replace(/^(--[a-z-]+-dir=)(.+)$/, (_, flag: string, path: string) => flag + resolve(path)));
}

/** Plain right-aligned columns, headed by the rows' keys. */
function rowsTable(rows: Array<Record<string, unknown>>): string {
  const keys = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const cells = [keys, ...rows.map((row) => keys.map((k) => String(row[k] ?? '')))];
  const widths = keys.map((_, i) => Math.max(...cells.map((line) => line[i]!.length)));
  return cells.map((line) => `  ${line.map((cell, i) => cell.padStart(widths[i]!)).join('  ')}`).join('\n');
}

/** What each process burns doing nothing (timers, the usage flush tick), so per-request CPU can be judged. */
async function printIdleCpu(pids: Record<ProcessName, number>): Promise<void> {
  const names = Object.keys(pids) as ProcessName[];
  const before = names.map((n) => cpuSeconds(pids[n]));
  const idleMs = 2_000;
  await sleep(idleMs);
  const after = names.map((n) => cpuSeconds(pids[n]));
  const parts = names.map((n, i) => `${n} ${(((after[i]! - before[i]!) * 1000) / (idleMs / 1000)).toFixed(0)} ms/s`);
  log(`Idle CPU over ${idleMs / 1000} s: ${parts.join(', ')}`);
}

function machine() {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    date: new Date().toISOString(),
  };
}

function printHeader(plan: typeof PLAN): void {
  const m = machine();
  log(`Modro benchmark, ${m.date}`);
  log(`Machine: ${m.cpus} x ${m.cpuModel}, ${m.platform}, Node ${m.node}; CPU time resolution ${cpuResolutionMs} ms`);
  log(
    `Plan: ${plan.rounds} round(s), ${plan.durationMs} ms per measurement (streams ${plan.streamDurationMs} ms), ` +
      `levels ${plan.levels.join('/')}, stream levels ${plan.streamLevels.join('/')}`,
  );
}

// However the bench ends (an exception, Ctrl-C, a closed stdout pipe), no child and no temp dir outlive it.
process.on('exit', () => {
  killAllChildrenNow();
  rmSync(dir, { recursive: true, force: true });
});
process.stdout.on('error', () => process.exit(1));
process.on('SIGINT', () => process.exit(130));

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
