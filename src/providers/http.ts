import { GatewayError } from '../core/errors.ts';
import type { CallContext, Timeouts, UpstreamLimits, UpstreamTarget } from './types.ts';
import { Agent, type Dispatcher, request, errors as undiciErrors } from './undici-core.ts';

/**
 * Upstream HTTP: pooled keep-alive connections through undici, with connect, first-byte and total timeouts,
 * and transport failures turned into GatewayErrors (`timeout` or `provider_unavailable`, both retryable).
 * Bodies stay streams; callers decide whether to buffer.
 */

/**
 * The upstream connection pools of one runtime (two runtimes in one process share none): one undici agent per
 * connect timeout (undici sets connect timeouts per dispatcher, not per request), keep-alive, closed with the
 * runtime. Adapters reach it through their call context.
 */
export class UpstreamPool {
  readonly #agents = new Map<number, Agent>();
  readonly #extra = new Map<string, Agent>();

  /** The pooled agent for this connect timeout. */
  agent(connectMs: number): Agent {
    let agent = this.#agents.get(connectMs);
    if (!agent) {
      agent = new Agent({
        connect: { timeout: connectMs },
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
        connections: 256,
        pipelining: 1,
      });
      this.#agents.set(connectMs, agent);
    }
    return agent;
  }

  /** A named agent with its own options (e.g. Bedrock's guarded image fetches), made once. */
  named(name: string, make: () => Agent): Agent {
    let agent = this.#extra.get(name);
    if (!agent) {
      agent = make();
      this.#extra.set(name, agent);
    }
    return agent;
  }

  async close(): Promise<void> {
    const all = [...this.#agents.values(), ...this.#extra.values()];
    this.#agents.clear();
    this.#extra.clear();
    await Promise.allSettled(all.map((agent) => agent.close()));
  }
}

export interface UpstreamRequest {
  /** The runtime's connection pools. */
  pool: UpstreamPool;
  url: string;
  method?: 'POST' | 'GET' | 'DELETE';
  headers: Record<string, string>;
  body?: string | Uint8Array;
  timeouts: Timeouts;
  /** Caps on the answer: a whole body is read up to maxBodyBytes (stream readers take the others). */
  limits: UpstreamLimits;
  /** The caller's cancellation (client gone). */
  signal: AbortSignal;
  /** What to call the upstream in error messages (provider id). */
  label: string;
  /** A dispatcher of its own (a guarded one for URLs a provider named); default the pool's agent. */
  dispatcher?: Dispatcher;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
}

/** A call to this target's provider under its timeouts and caps, on the runtime's pool, cancelled with the call. */
export function upstreamRequest(
  target: UpstreamTarget,
  ctx: CallContext,
  call: { url: string; headers: Record<string, string>; body: string | Uint8Array; label?: string },
): UpstreamRequest {
  return {
    ...call,
    timeouts: target.provider.timeouts,
    limits: target.provider.limits,
    signal: ctx.signal,
    pool: ctx.pool,
    label: call.label ?? target.provider.id,
  };
}

export async function upstreamFetch(req: UpstreamRequest): Promise<UpstreamResponse> {
  // One controller per call, a plain timer for the total time, and a listener for the caller's
  // cancellation, all released when the body closes. (AbortSignal.timeout would keep its timer, signal and
  // weak references alive for the whole totalMs after every call: a heap that grows with traffic.)
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new GatewayError('timeout', `Upstream ${req.label} did not finish in time`)),
    req.timeouts.totalMs,
  );
  const onCallerAbort = () => controller.abort(req.signal.reason);
  if (req.signal.aborted) onCallerAbort();
  else req.signal.addEventListener('abort', onCallerAbort, { once: true });
  const release = () => {
    clearTimeout(timer);
    req.signal.removeEventListener('abort', onCallerAbort);
  };
  try {
    const res = await request(req.url, {
      dispatcher: req.dispatcher ?? req.pool.agent(req.timeouts.connectMs),
      method: req.method ?? 'POST',
      headers: req.headers,
      body: req.body ?? null,
      signal: controller.signal,
      headersTimeout: req.timeouts.firstByteMs,
      // Longest silence between body chunks (a stalled stream); the total timer bounds the whole call.
      bodyTimeout: req.timeouts.firstByteMs,
    });
    res.body.once('close', release);
    return { status: res.statusCode, headers: res.headers, body: res.body };
  } catch (err) {
    release();
    throw transportError(err, req.label, controller.signal);
  }
}

/** A whole upstream response, read into memory (non-streaming calls). */
export interface UpstreamWholeResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  bytes: Uint8Array;
}

/** origin and path of each upstream URL, parsed once (a provider has a handful). */
const parsedUrls = new Map<string, { origin: string; path: string }>();
function originAndPath(url: string): { origin: string; path: string } {
  let parsed = parsedUrls.get(url);
  if (!parsed) {
    const u = new URL(url);
    parsed = { origin: u.origin, path: `${u.pathname}${u.search}` };
    if (parsedUrls.size < 10_000) parsedUrls.set(url, parsed);
  }
  return parsed;
}

/**
 * A non-streaming upstream call: the same pool, timeouts, cancellation and error mapping as upstreamFetch,
 * with the body collected straight from undici's dispatcher into one buffer. Why not `request()` and
 * readBody: its Readable body, async iterator, end-of-stream and abort plumbing cost allocations and a few
 * microseconds per call on the hot path (docs/benchmarks.md); a whole JSON body needs none of them.
 */
export function upstreamFetchWhole(req: UpstreamRequest): Promise<UpstreamWholeResponse> {
  return new Promise((resolve, reject) => {
    const { origin, path } = originAndPath(req.url);
    let controller: Dispatcher.DispatchController | undefined;
    let abortReason: GatewayError | undefined;
    let settled = false;
    let status = 0;
    let headers: UpstreamWholeResponse['headers'] = {};
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (err: unknown, bytes?: Uint8Array) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal.removeEventListener('abort', onCallerAbort);
      if (err === undefined) resolve({ status, headers, bytes: bytes! });
      else reject(transportError(err, req.label));
    };
    // Settles at once; the connection is dropped as soon as undici hands us its controller.
    const abort = (reason: GatewayError) => {
      abortReason = reason;
      controller?.abort(reason);
      finish(reason);
    };
    const timer = setTimeout(
      () => abort(new GatewayError('timeout', `Upstream ${req.label} did not finish in time`)),
      req.timeouts.totalMs,
    );
    // As in upstreamFetch: a GatewayError reason (the gateway's routing deadline) is the answer; anything else
    // is the client going away, which must not count against the provider.
    const onCallerAbort = () =>
      abort(
        req.signal.reason instanceof GatewayError
          ? req.signal.reason
          : new GatewayError('timeout', 'Request cancelled', { cause: req.signal.reason, failover: false }),
      );
    if (req.signal.aborted) {
      onCallerAbort();
      return;
    }
    req.signal.addEventListener('abort', onCallerAbort, { once: true });
    try {
      req.pool.agent(req.timeouts.connectMs).dispatch(
        {
          origin,
          path,
          method: req.method ?? 'POST',
          headers: req.headers,
          body: req.body ?? null,
          headersTimeout: req.timeouts.firstByteMs,
          bodyTimeout: req.timeouts.firstByteMs,
        },
        {
          onRequestStart(c) {
            controller = c;
            if (abortReason) c.abort(abortReason);
          },
          onResponseStart(_c, statusCode, responseHeaders) {
            status = statusCode;
            headers = responseHeaders;
          },
          onResponseData(c, chunk) {
            size += chunk.length;
            if (size > req.limits.maxBodyBytes) {
              const error = overLimit(req.label, 'a body', req.limits.maxBodyBytes);
              c.abort(error);
              finish(error);
              return;
            }
            chunks.push(chunk);
          },
          onResponseEnd() {
            finish(undefined, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
          },
          onResponseError(_c, err) {
            finish(err);
          },
        },
      );
    } catch (err) {
      finish(err);
    }
  });
}

/** Maps undici/socket failures to GatewayErrors. Messages never include URLs (they may carry keys). */
export function transportError(err: unknown, label: string, signal?: AbortSignal): GatewayError {
  if (err instanceof GatewayError) return err;
  // Aborts carry the GatewayError that explains them (the total timer, the gateway's routing deadline).
  if (signal?.aborted && signal.reason instanceof GatewayError) return signal.reason;
  if (signal?.aborted) {
    // The client went away; nobody will read this error, but it must not count against the provider.
    return new GatewayError('timeout', 'Request cancelled', { cause: err, failover: false });
  }
  if (err instanceof undiciErrors.ConnectTimeoutError) {
    return new GatewayError('timeout', `Upstream ${label} did not accept the connection in time`, { cause: err });
  }
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) {
    return new GatewayError('timeout', `Upstream ${label} did not answer in time`, { cause: err });
  }
  return new GatewayError('provider_unavailable', `Upstream ${label} could not be reached`, { cause: err });
}

/**
 * An upstream answer over one of its caps (UpstreamLimits): retryable, so it fails over before the client has a
 * byte and ends the client's stream with an error event after.
 */
export function overLimit(label: string, what: string, limitBytes: number): GatewayError {
  return new GatewayError('provider_unavailable', `Upstream ${label} sent ${what} larger than ${limitBytes} bytes`);
}

/** Reads a whole (small) body, bounded, translating stream failures. */
export async function readBody(body: UpstreamResponse['body'], label: string, limitBytes: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      size += (chunk as Buffer).length;
      if (size > limitBytes) {
        body.destroy();
        throw overLimit(label, 'a body', limitBytes);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    throw transportError(err, label);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/** An error body as JSON when it is JSON, else undefined (the error is then mapped on its status alone). */
export function errorBodyJSON(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
}

/** Reads a streamed error response's body (at most 1 MB) as errorBodyJSON does; never throws. */
async function readErrorBody(body: UpstreamResponse['body'], label: string): Promise<unknown> {
  try {
    return errorBodyJSON(await readBody(body, label, 1024 * 1024));
  } catch {
    discardBody(body);
    return undefined;
  }
}

/**
 * Lets go of a streamed body its reader stopped reading: drained after a complete answer (the rest is at
 * most a terminator, and the connection goes back to the pool), destroyed after an incomplete one.
 */
export function releaseBody(body: UpstreamResponse['body'], complete: boolean): void {
  if (body.readableEnded || body.destroyed) return;
  if (complete) {
    discardBody(body);
    return;
  }
  // undici reports the abort as an error on the body; nobody reads it any more.
  body.on('error', () => {});
  body.destroy();
}

/** Discards a body so the connection returns to the pool. */
export function discardBody(body: UpstreamResponse['body']): void {
  body.resume();
  body.on('error', () => {});
}

export function retryAfterSeconds(headers: UpstreamResponse['headers']): number | undefined {
  const value = headers['retry-after'];
  const raw = Array.isArray(value) ? value[0] : value;
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.round((date - Date.now()) / 1000));
}

/**
 * A whole upstream body parsed as a JSON object: `bytes` as received (for pass-through) and `json`. Anything
 * else (a proxy's HTML page, a truncated body) is a retryable provider_unavailable.
 */
export function parseJSONObject(
  bytes: Uint8Array,
  label: string,
): { bytes: Uint8Array; json: Record<string, unknown> } {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    throw new GatewayError('provider_unavailable', `Upstream ${label} returned a body that is not JSON`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new GatewayError('provider_unavailable', `Upstream ${label} returned a body that is not a JSON object`);
  }
  return { bytes, json: json as Record<string, unknown> };
}

/**
 * What a provider's error table makes of a non-2xx answer: its status, headers (Retry-After, AWS error
 * types) and body, parsed when it is JSON, else undefined.
 */
export type UpstreamErrorMapper = (status: number, headers: UpstreamResponse['headers'], body: unknown) => GatewayError;

/** What an error table that reads only the answer needs: status, parsed body, Retry-After, provider id, key. */
export interface ErrorTableInput {
  status: number;
  body: unknown;
  retryAfter?: number | undefined;
  label: string;
  /** The key used, for tables that scrub it from upstream messages (others ignore it). */
  secret: string;
}

/** The mapper of a provider whose table reads status, body and Retry-After (OpenAI family, Anthropic, Gemini). */
export function errorTableMapper(
  table: (input: ErrorTableInput) => GatewayError,
  label: string,
  secret: string,
): UpstreamErrorMapper {
  return (status, headers, body) => table({ status, body, retryAfter: retryAfterSeconds(headers), label, secret });
}

/** A streaming call: resolves on 2xx with the body still a stream; any other answer is read (≤ 1 MB) and mapped. */
export async function upstreamStream(req: UpstreamRequest, mapError: UpstreamErrorMapper): Promise<UpstreamResponse> {
  const res = await upstreamFetch(req);
  if (res.status >= 200 && res.status < 300) return res;
  throw mapError(res.status, res.headers, await readErrorBody(res.body, req.label));
}

/**
 * A non-streaming call answered with a JSON object (upstreamFetchWhole): a 2xx body as received and parsed,
 * any other answer mapped by the provider's table.
 */
export async function upstreamJSON(
  req: UpstreamRequest,
  mapError: UpstreamErrorMapper,
): Promise<{ headers: UpstreamWholeResponse['headers']; bytes: Uint8Array; json: Record<string, unknown> }> {
  const res = await upstreamFetchWhole(req);
  if (res.status < 200 || res.status >= 300) throw mapError(res.status, res.headers, errorBodyJSON(res.bytes));
  return { headers: res.headers, ...parseJSONObject(res.bytes, req.label) };
}
