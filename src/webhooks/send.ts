import type { LookupAddress } from 'node:dns';
import tls from 'node:tls';
import type * as Undici from 'undici';
import { Agent, request } from '../providers/undici-core.ts';
import type { AddressPolicy, Lookup } from './address-policy.ts';

/**
 * One delivery attempt: the host resolved once and checked (address-policy.ts), then a POST whose connection
 * goes to that checked address: the agent's `connect.lookup` answers it for the hostname, so the Host header
 * and TLS server name stay the URL's while no second resolution happens. No redirect is followed (a 3xx is a
 * failed attempt), one timeout bounds the whole attempt, and at most `maxResponseBytes` of the answer are read,
 * of which only a short excerpt is kept.
 */
export interface SendOptions {
  policy: AddressPolicy;
  lookup: Lookup;
  timeoutMs: number;
  maxResponseBytes: number;
  /** Aborts the attempt (shutdown). */
  signal?: AbortSignal;
  /** Certificate authorities trusted besides the system's (PEM), e.g. an internal receiver's. */
  ca?: string;
}

export interface AttemptResult {
  ok: boolean;
  /** The receiver's status; null when none came. */
  status: number | null;
  /** What went wrong without a status (timeout, connection_refused, blocked_address, …); null otherwise. */
  error: string | null;
  /** At most EXCERPT_CHARS of the answer, printable characters only. */
  excerpt: string | null;
  durationMs: number;
}

export const EXCERPT_CHARS = 256;

export async function sendOnce(
  target: { url: string; headers: Record<string, string>; body: string },
  options: SendOptions,
): Promise<AttemptResult> {
  const started = performance.now();
  const done = (r: Omit<AttemptResult, 'durationMs' | 'ok'>): AttemptResult => ({
    ...r,
    ok: r.status !== null && r.status >= 200 && r.status < 300,
    durationMs: Math.round(performance.now() - started),
  });
  let url: URL;
  try {
    url = new URL(target.url);
  } catch {
    return done({ status: null, error: 'invalid_url', excerpt: null });
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username !== '' || url.password !== '') {
    return done({ status: null, error: 'invalid_url', excerpt: null });
  }
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  const resolved = await raceSignal(options.policy.resolve(url, options.lookup), signal);
  if (resolved === undefined) return done({ status: null, error: 'timeout', excerpt: null });
  if (!resolved.ok) return done({ status: null, error: resolved.error, excerpt: null });
  const { addresses } = resolved;
  const first = addresses[0]!;
  const agent = new Agent({
    connect: {
      timeout: options.timeoutMs,
      ...(options.ca ? { ca: [...tls.rootCertificates, options.ca] } : {}),
      // Only the checked addresses, whatever is asked: net.connect asks with `all` when it races address
      // families (happy eyeballs), and then may try each of them.
      lookup: (_hostname: string, opts: { all?: boolean }, cb: (...args: unknown[]) => void) => {
        if (opts?.all) cb(null, addresses satisfies LookupAddress[]);
        else cb(null, first.address, first.family);
      },
    } as Undici.Agent.Options['connect'],
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    keepAliveTimeout: 1,
    pipelining: 0,
  });
  try {
    const res = await request(url, {
      dispatcher: agent,
      method: 'POST',
      headers: target.headers,
      body: target.body,
      signal,
    });
    const excerpt = await readExcerpt(res.body, options.maxResponseBytes).catch(() => null);
    return done({ status: res.statusCode, error: null, excerpt });
  } catch (err) {
    return done({ status: null, error: signal.aborted ? 'timeout' : errorClass(err), excerpt: null });
  } finally {
    agent.destroy().catch(() => {});
  }
}

async function raceSignal<T>(work: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return undefined;
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Reads at most `cap` bytes of a body and drops the rest; the excerpt is its first printable characters. */
async function readExcerpt(
  body: AsyncIterable<Uint8Array> & { destroy(): unknown },
  cap: number,
): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const room = Math.min(cap, EXCERPT_CHARS * 4) - size;
    if (room > 0) chunks.push(Buffer.from(chunk).subarray(0, room));
    size += chunk.byteLength;
    if (size >= cap) {
      body.destroy();
      break;
    }
  }
  const text = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/[^\P{C}\n\t]/gu, '')
    .slice(0, EXCERPT_CHARS);
  return text === '' ? null : text;
}

/** A transport failure as a short, stable class name (never the error's text, which may name internal hosts). */
function errorClass(err: unknown): string {
  const code = (err as { code?: string }).code ?? '';
  const cause = (err as { cause?: { code?: string } }).cause?.code ?? '';
  const c = code || cause;
  if (c === 'UND_ERR_CONNECT_TIMEOUT') return 'connect_timeout';
  if (c === 'UND_ERR_HEADERS_TIMEOUT' || c === 'UND_ERR_BODY_TIMEOUT' || c === 'ETIMEDOUT') return 'timeout';
  if (c === 'ECONNREFUSED') return 'connection_refused';
  if (c === 'ECONNRESET' || c === 'UND_ERR_SOCKET' || c === 'EPIPE') return 'connection_reset';
  if (c === 'ENOTFOUND' || c === 'EAI_AGAIN') return 'dns_failure';
  if (c === 'EHOSTUNREACH' || c === 'ENETUNREACH') return 'unreachable';
  if (/^(ERR_TLS|ERR_SSL|CERT_|UNABLE_TO|DEPTH_ZERO|SELF_SIGNED|ERR_OSSL)/.test(c)) return 'tls_error';
  if (c === 'UND_ERR_HEADERS_OVERFLOW' || c === 'HPE_INVALID' || c.startsWith('HPE_')) return 'invalid_response';
  return 'network_error';
}
