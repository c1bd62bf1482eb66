/**
 * Cost of the learned `auto` tier chooser per prompt: `choose()` on whole ChatRequests (reading the last
 * user turn, extracting features, scoring, picking the tier), timed call by call, at prompt lengths of about
 * 100, 1k, 4k and 8k tokens (counted with gpt-tokenizer), for open prompts and for multiple-choice prompts
 * (which learned-v5's subject head reads). Run standalone: `node bench/router-bench.ts` (the shipped chooser;
 * research/routing/eval-router.ts measures the retired versions with it too).
 */
import { countTokens } from 'gpt-tokenizer';
import type { ChatRequest } from '../src/core/ir.ts';
import { createLearnedTierChooser } from '../src/router/auto/learned.ts';
import type { TierChooser } from '../src/router/auto/tier-decision.ts';
import { seeded } from '../test/store/support.ts';

export interface RouterBenchRow {
  /** The chooser measured (its name in headers and usage records, e.g. `learned-v5`). */
  chooser: string;
  lengthTokens: number;
  /** `open`: pseudo-English; `choice`: the same followed by four option lines (v5's subject head runs). */
  kind: 'open' | 'choice';
  p50us: number;
  p99us: number;
}

const WORDS = (
  'the of and to in is that for it as with was on be by this are from at or an which have not but what all ' +
  'were when we there can more if will one about how up out them then she many some so these would other into ' +
  'has her two like him see time could no make than first been its who now people my made over did down only ' +
  'way find use may water long little very after words called just where most know get through back much go ' +
  'good new write our used me man too any day same right look think also around another came come work three ' +
  'function return const value error request model router latency tokens explain compare prove derive solve ' +
  'integral matrix probability theorem algorithm database query schema migrate deploy container kubernetes'
).split(' ');

/** Option lines that make a prompt multiple-choice (two or more lines "A." ...). */
const OPTIONS = 'A. the first answer\nB. the second answer\nC. a third one\nD. none of these\nAnswer:';

const EXTRAS = ['12', '3.5', '2024', '=', '+', '(x + 1)', '`code`', '{', '}', ';', '?', '.', ',', '\n', '%', '$'];

/** Deterministic pseudo-English with some numbers, maths and code signs, of about `tokens` tokens. */
export function syntheticPrompt(tokens: number, seed: number): string {
  const random = seeded(seed);
  const piece = (): string =>
    random() < 0.85 ? WORDS[Math.floor(random() * WORDS.length)]! : EXTRAS[Math.floor(random() * EXTRAS.length)]!;
  let text = '';
  let estimate = 0;
  // Grow by words until the tokenizer agrees the target is reached (checked in chunks to stay cheap).
  while (estimate < tokens) {
    const parts: string[] = [];
    const chunk = Math.max(8, Math.ceil((tokens - estimate) * 0.9));
    for (let i = 0; i < chunk; i++) parts.push(piece());
    text = text.length === 0 ? parts.join(' ') : `${text} ${parts.join(' ')}`;
    estimate = countTokens(text);
  }
  return text;
}

function requestFor(text: string): ChatRequest {
  return {
    model: 'auto',
    messages: [
      { role: 'system', content: [{ type: 'text', text: 'You are a helpful assistant.' }] },
      { role: 'user', content: [{ type: 'text', text }] },
    ],
    stream: false,
    includeUsage: false,
    inbound: { protocol: 'openai-chat', body: {} },
  };
}

function percentile(sortedUs: Float64Array, q: number): number {
  const index = Math.min(sortedUs.length - 1, Math.max(0, Math.ceil(q * sortedUs.length) - 1));
  return sortedUs[index]!;
}

export interface RouterBenchOptions {
  /** The chooser measured; the gateway's default learned chooser when absent. */
  chooser?: TierChooser;
  lengths?: readonly number[];
  /** Timed calls per round (after warm-up). */
  iterations?: number;
  /**
   * Rounds per length; the reported p50 and p99 are the medians over rounds, so that one burst of work
   * from another process on a shared machine does not decide the figure alone.
   */
  rounds?: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Times `run` call by call; returns per-round p50 and p99 in microseconds. */
function timeRounds(run: (i: number) => number, iterations: number, rounds: number): { p50: number[]; p99: number[] } {
  const p50: number[] = [];
  const p99: number[] = [];
  const timings = new Float64Array(iterations);
  let sink = 0;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < iterations; i++) {
      // performance.now() allocates nothing (hrtime.bigint() would add garbage to what is measured).
      const start = performance.now();
      sink += run(i);
      timings[i] = (performance.now() - start) * 1000;
    }
    timings.sort();
    p50.push(percentile(timings, 0.5));
    p99.push(percentile(timings, 0.99));
  }
  if (Number.isNaN(sink)) throw new Error('router produced NaN');
  return { p50, p99 };
}

export async function benchRouter(options: RouterBenchOptions = {}): Promise<RouterBenchRow[]> {
  const lengths = options.lengths ?? [100, 1000, 4000, 8000];
  const iterations = options.iterations ?? 2000;
  const rounds = options.rounds ?? 5;
  const chooser = options.chooser ?? createLearnedTierChooser();
  const rows: RouterBenchRow[] = [];
  for (const kind of ['open', 'choice'] as const) {
    for (const length of lengths) {
      // Several distinct prompts per length, so that nothing benefits from seeing one text over and over.
      const requests = Array.from({ length: 16 }, (_, k) => {
        const text = syntheticPrompt(length, length * 31 + k);
        return requestFor(kind === 'open' ? text : `${text}\n${OPTIONS}`);
      });
      for (let i = 0; i < 2000; i++) chooser.choose(requests[i % requests.length]!, 'balanced');
      const t = timeRounds((i) => chooser.choose(requests[i & 15]!, 'balanced').score, iterations, rounds);
      rows.push({
        chooser: chooser.name,
        lengthTokens: length,
        kind,
        p50us: Number(median(t.p50).toFixed(2)),
        p99us: Number(median(t.p99).toFixed(2)),
      });
      // Let timers and I/O run between lengths when called from a larger benchmark.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  return rows;
}

/**
 * The machine's own timing noise: p50/p99 of a busy wait of `waitUs` (20 µs unless told) measured the same
 * way. When its p99 is far above the wait, other processes or the hypervisor interrupt the CPU and the
 * router's p99 is inflated as much. The longer the wait, the likelier a call is to be hit: on a host that
 * interrupts 1–2% of 30 µs windows, any 30 µs of work reads a p99 far above 30 µs, so compare the router's
 * p99 with a wait as long as its p50.
 */
export function timerJitter(iterations = 2000, rounds = 5, waitUs = 20): { p50us: number; p99us: number } {
  const busy = (): number => {
    const start = performance.now();
    let spins = 0;
    while ((performance.now() - start) * 1000 < waitUs) spins++;
    return spins;
  };
  const t = timeRounds(busy, iterations, rounds);
  return { p50us: Number(median(t.p50).toFixed(2)), p99us: Number(median(t.p99).toFixed(2)) };
}

export function printBenchRows(title: string, rows: readonly RouterBenchRow[]): void {
  console.log(`${title}: choose() per prompt (median of 5 rounds of 2000 calls)`);
  console.log('prompt   tokens    p50 (µs)   p99 (µs)');
  for (const r of rows) {
    console.log(
      `${r.kind.padEnd(7)}${String(r.lengthTokens).padStart(8)}  ${r.p50us.toFixed(2).padStart(9)}  ${r.p99us.toFixed(2).padStart(9)}`,
    );
  }
}

if (import.meta.main) {
  const rows = await benchRouter();
  printBenchRows(rows[0]!.chooser, rows);
  for (const waitUs of [20, 30, 40]) {
    const jitter = timerJitter(2000, 5, waitUs);
    console.log(`machine noise: a ${waitUs} µs busy wait measures p50 ${jitter.p50us} µs, p99 ${jitter.p99us} µs`);
  }
}
