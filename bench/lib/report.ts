import type { Measurement, TargetName } from './measure.ts';
import { median } from './stats.ts';

/**
 * Turns the rounds of measurements into the printed tables and the target verdicts. Every figure is the
 * median across rounds; differences between gateway and floor are taken within a round (the two ran
 * back to back) and then the median of those is reported, so drift on a noisy machine cancels out.
 */
export interface RoundMeasurement extends Measurement {
  round: number;
  streaming: boolean;
  /** Gateway cells: its event-loop delay during the cell (from /metrics). */
  loopDelay?: LoopDelay;
}

export interface LoopDelay {
  p99Ms: number;
  maxMs: number;
}

export const TARGETS: TargetName[] = ['direct', 'floor', 'gateway'];

/** Limits from the issue, as ratios and differences against the floor from the same run. */
export const LIMITS = { cpuRatio: 2, addedP50Ms: 0.5, addedTtfbP50Ms: 1, peakRssMB: 150, p99Ratio: 2 };

function pick(all: RoundMeasurement[], streaming: boolean, concurrency: number, target: TargetName) {
  return all.filter((m) => m.streaming === streaming && m.concurrency === concurrency && m.target === target);
}

function med(ms: RoundMeasurement[], f: (m: RoundMeasurement) => number): number {
  return median(ms.map(f));
}

/** The process whose CPU a target's requests cost beyond the upstream's (none for direct). */
function proxyCpu(m: RoundMeasurement): number {
  if (m.target === 'floor') return m.cpuMsPerRequest.floor;
  if (m.target === 'gateway') return m.cpuMsPerRequest.gateway;
  return Number.NaN;
}

/** Median across rounds of (gateway − floor) of a per-round figure. */
function pairedDifference(all: RoundMeasurement[], streaming: boolean, c: number, f: (m: RoundMeasurement) => number) {
  const gateway = pick(all, streaming, c, 'gateway');
  const floor = pick(all, streaming, c, 'floor');
  const diffs = gateway.flatMap((g) => {
    const fl = floor.find((x) => x.round === g.round);
    return fl ? [f(g) - f(fl)] : [];
  });
  return median(diffs);
}

const num = (v: number, digits = 2) => (Number.isFinite(v) ? v.toFixed(digits) : '-');
const pad = (s: string, n: number) => s.padStart(n);

/** One right-aligned cell: the median across rounds of `f`. */
function cell(ms: RoundMeasurement[], f: (m: RoundMeasurement) => number, digits: number, width: number): string {
  return pad(num(med(ms, f), digits), width);
}

function errorCell(ms: RoundMeasurement[], width: number): string {
  return pad(String(ms.reduce((sum, m) => sum + m.errors, 0)), width);
}

export function nonStreamingTable(all: RoundMeasurement[], levels: number[]): string {
  const lines = [
    '   c  target      req/s   p50 ms   p99 ms   proxy CPU ms/req   mock CPU ms/req   load CPU ms/req   errors',
    '  --  -------  --------  -------  -------  -----------------  ----------------  ----------------  -------',
  ];
  for (const c of levels) {
    for (const target of TARGETS) {
      const ms = pick(all, false, c, target);
      if (ms.length === 0) continue;
      const cells = [
        pad(String(c), 4),
        ` ${target.padEnd(7)}`,
        cell(ms, (m) => m.rps, 0, 9),
        cell(ms, (m) => m.p50, 2, 8),
        cell(ms, (m) => m.p99, 2, 8),
        cell(ms, proxyCpu, 3, 18),
        cell(ms, (m) => m.cpuMsPerRequest.mock, 3, 17),
        cell(ms, (m) => m.cpuMsPerRequest.load, 3, 17),
        errorCell(ms, 8),
      ];
      lines.push(cells.join(' '));
    }
  }
  return lines.join('\n');
}

export function streamingTable(all: RoundMeasurement[], levels: number[]): string {
  const lines = [
    '   c  target    streams/s  TTFB p50  TTFB p99  total p50  total p99  proxy CPU ms/stream  errors',
    '  --  -------  ----------  --------  --------  ---------  ---------  -------------------  ------',
  ];
  for (const c of levels) {
    for (const target of TARGETS) {
      const ms = pick(all, true, c, target);
      if (ms.length === 0) continue;
      const cells = [
        pad(String(c), 4),
        ` ${target.padEnd(7)}`,
        cell(ms, (m) => m.rps, 1, 11),
        cell(ms, (m) => m.ttfbP50, 2, 9),
        cell(ms, (m) => m.ttfbP99, 2, 9),
        cell(ms, (m) => m.p50, 2, 10),
        cell(ms, (m) => m.p99, 2, 10),
        cell(ms, proxyCpu, 3, 20),
        errorCell(ms, 7),
      ];
      lines.push(cells.join(' '));
    }
  }
  return lines.join('\n');
}

export interface Verdict {
  name: string;
  value: string;
  limit: string;
  pass: boolean;
}

export function verdicts(
  all: RoundMeasurement[],
  levels: number[],
  streamLevels: number[],
  gatewayPeakRssMB: number,
): Verdict[] {
  const out: Verdict[] = [];
  const ratios = levels.map((c) => {
    const gw = med(pick(all, false, c, 'gateway'), proxyCpu);
    const fl = med(pick(all, false, c, 'floor'), proxyCpu);
    return { c, ratio: gw / fl };
  });
  // Strict: every concurrency level must be within the limit, not just the best one.
  const worst = Math.max(...ratios.map((r) => r.ratio));
  out.push({
    name: 'gateway CPU per request / floor CPU per request (non-streaming, worst level)',
    value: `${num(worst)}x  (${ratios.map((r) => `c=${r.c}: ${num(r.ratio)}x`).join(', ')})`,
    limit: `<= ${LIMITS.cpuRatio}x`,
    pass: worst <= LIMITS.cpuRatio,
  });
  // The latency targets are defined at concurrency 1; a run without that level has no verdict for them.
  if (levels.includes(1)) {
    const added = pairedDifference(all, false, 1, (m) => m.p50);
    out.push({
      name: 'added latency at c=1, p50 (gateway - floor)',
      value: `${num(added, 3)} ms`,
      limit: `<= ${LIMITS.addedP50Ms} ms`,
      pass: added <= LIMITS.addedP50Ms,
    });
  }
  if (streamLevels.includes(1)) {
    const addedTtfb = pairedDifference(all, true, 1, (m) => m.ttfbP50);
    out.push({
      name: 'added time to first byte at c=1, p50 (gateway - floor)',
      value: `${num(addedTtfb, 3)} ms`,
      limit: `<= ${LIMITS.addedTtfbP50Ms} ms`,
      pass: addedTtfb <= LIMITS.addedTtfbP50Ms,
    });
  }
  // Tail latency at the highest level: the gateway's p99 over the floor's, per round (they ran back to back).
  const top = levels.at(-1)!;
  const p99Ratios = pick(all, false, top, 'gateway').flatMap((g) => {
    const fl = pick(all, false, top, 'floor').find((x) => x.round === g.round);
    return fl ? [g.p99 / fl.p99] : [];
  });
  const p99Ratio = median(p99Ratios);
  out.push({
    name: `gateway p99 / floor p99 at c=${top} (non-streaming, median of per-round ratios)`,
    value: `${num(p99Ratio)}x  (rounds: ${p99Ratios.map((r) => `${num(r)}x`).join(', ')})`,
    limit: `<= ${LIMITS.p99Ratio}x`,
    pass: p99Ratio <= LIMITS.p99Ratio,
  });
  out.push({
    name: `gateway peak RSS during c=${levels.at(-1)}`,
    value: `${num(gatewayPeakRssMB, 1)} MB`,
    limit: `<= ${LIMITS.peakRssMB} MB`,
    pass: gatewayPeakRssMB <= LIMITS.peakRssMB,
  });
  return out;
}

export function verdictLines(list: Verdict[]): string {
  return list.map((v) => `  [${v.pass ? 'PASS' : 'MISS'}] ${v.name}: ${v.value} (target ${v.limit})`).join('\n');
}

/** Informational differences printed beside the verdicts. */
export function extraDifferences(all: RoundMeasurement[], levels: number[], streamLevels: number[]): string {
  const lines: string[] = [];
  for (const c of levels) {
    const d50 = pairedDifference(all, false, c, (m) => m.p50);
    const d99 = pairedDifference(all, false, c, (m) => m.p99);
    const gw = pick(all, false, c, 'gateway').filter((m) => m.loopDelay);
    const delay = gw.length
      ? `; gateway event-loop delay p99 ${num(
          med(gw, (m) => m.loopDelay!.p99Ms),
          1,
        )} ms, max ${num(
          med(gw, (m) => m.loopDelay!.maxMs),
          1,
        )} ms`
      : '';
    lines.push(`  non-streaming c=${c}: gateway - floor  p50 ${num(d50, 3)} ms, p99 ${num(d99, 3)} ms${delay}`);
  }
  for (const c of streamLevels) {
    const t50 = pairedDifference(all, true, c, (m) => m.ttfbP50);
    const total50 = pairedDifference(all, true, c, (m) => m.p50);
    lines.push(`  streaming c=${c}: gateway - floor  TTFB p50 ${num(t50, 3)} ms, total p50 ${num(total50, 3)} ms`);
  }
  return lines.join('\n');
}
