import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

/**
 * The load generator: `concurrency` closed loops over one undici Pool with as many keep-alive connections,
 * each sending the next request as soon as the previous response has been read to the end. The same code
 * runs for every target; only the origin and the Authorization header change.
 */
export interface LoadTarget {
  origin: string;
  authorization: string;
  /** Default `/v1/chat/completions`. */
  path?: string;
  /** Replaces the body of the load options (a profile whose gateway speaks another format than the floor). */
  body?: string;
  /** The status of a success (default 200; 202 for submissions of executions). */
  okStatus?: number;
}

export interface LoadOptions {
  concurrency: number;
  body: string;
  streaming: boolean;
  /** Loops stop starting requests after this long; requests in flight finish. */
  durationMs: number;
}

export interface LoadResult {
  completed: number;
  errors: number;
  /** First failure seen, for the report (status and the start of the body). */
  firstError: string | undefined;
  elapsedMs: number;
  /** Per request: until the whole response was read (ms). */
  totalMs: number[];
  /** Streams only: until the first chunk carrying an SSE `data:` line (ms). */
  ttfbMs: number[];
}

const DATA = Buffer.from('data:');

/** Opens the connections of one measurement; close it when done. */
export function openPool(target: LoadTarget, concurrency: number): Pool {
  return new Pool(target.origin, { connections: concurrency, pipelining: 1, keepAliveTimeout: 60_000 });
}

export async function runLoad(pool: Pool, target: LoadTarget, options: LoadOptions): Promise<LoadResult> {
  const headers = {
    'content-type': 'application/json',
    authorization: target.authorization,
  };
  const path = target.path ?? '/v1/chat/completions';
  const body = target.body ?? options.body;
  const result: LoadResult = { completed: 0, errors: 0, firstError: undefined, elapsedMs: 0, totalMs: [], ttfbMs: [] };
  const started = performance.now();
  const deadline = started + options.durationMs;

  async function one(): Promise<void> {
    const t0 = performance.now();
    let ttfb = -1;
    let failed = false;
    let errorText = '';
    try {
      const res = await pool.request({ path, method: 'POST', headers, body });
      failed = res.statusCode !== (target.okStatus ?? 200);
      for await (const chunk of res.body) {
        if (ttfb < 0 && options.streaming && (chunk as Buffer).includes(DATA)) ttfb = performance.now() - t0;
        if (failed && errorText.length < 300) errorText += String(chunk);
      }
      if (failed) errorText = `HTTP ${res.statusCode}: ${errorText.slice(0, 300)}`;
    } catch (err) {
      failed = true;
      errorText = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    }
    const total = performance.now() - t0;
    if (failed || (options.streaming && ttfb < 0)) {
      result.errors++;
      result.firstError ??= errorText || 'stream without a data line';
      return;
    }
    result.completed++;
    result.totalMs.push(total);
    if (options.streaming) result.ttfbMs.push(ttfb);
  }

  async function loop(): Promise<void> {
    // Bounded: stops at the deadline, and after too many failures (a broken target must not spin).
    while (performance.now() < deadline && result.errors < 100) await one();
  }

  await Promise.all(Array.from({ length: options.concurrency }, loop));
  result.elapsedMs = performance.now() - started;
  return result;
}
