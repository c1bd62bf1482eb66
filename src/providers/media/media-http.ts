import { isIP } from 'node:net';
import { setTimeout as sleepFor } from 'node:timers/promises';
import { GatewayError } from '../../core/errors.ts';
import { guardedLookup, isPrivateAddress } from '../bedrock/bedrock-images.ts';
import {
  errorBodyJSON,
  overLimit,
  readBody,
  type UpstreamErrorMapper,
  type UpstreamRequest,
  upstreamFetch,
  upstreamFetchWhole,
} from '../http.ts';
import { Agent } from '../undici-core.ts';
import type { MediaCall, ProducedFile } from './media-adapter.ts';

/**
 * What the media adapters share of upstream HTTP: calls with media's timeouts and caps, produced files decoded
 * or fetched server-side under a size cap and a deadline, multipart bodies, and polling that ends the moment
 * the execution is cancelled or out of time.
 */

/**
 * One call under the provider's connect timeout, with the whole attempt allowed before the first byte (a media
 * API answers only when the image or audio is ready) and a body cap that fits the largest produced file in
 * base64.
 */
export function mediaRequest(
  call: MediaCall,
  req: { url: string; method?: 'GET' | 'POST' | 'DELETE'; headers: Record<string, string>; body?: string | Uint8Array },
): UpstreamRequest {
  const { provider } = call.target;
  const base64Cap = Math.ceil((call.settings.maxOutputBytes * 4) / 3) + 1024 * 1024;
  return {
    pool: call.pool,
    url: req.url,
    method: req.method ?? 'POST',
    headers: req.headers,
    ...(req.body === undefined ? {} : { body: req.body }),
    timeouts: { ...provider.timeouts, firstByteMs: provider.timeouts.totalMs },
    limits: { ...provider.limits, maxBodyBytes: Math.max(provider.limits.maxBodyBytes, base64Cap) },
    signal: call.ctx.signal,
    label: provider.id,
  };
}

/** Base64 from a provider, decoded under the output cap. */
export function decodeBase64(b64: unknown, call: MediaCall, what: string): Uint8Array {
  if (typeof b64 !== 'string' || b64.length === 0) {
    throw new GatewayError('provider_unavailable', `Upstream ${call.target.provider.id} returned ${what} without data`);
  }
  if ((b64.length * 3) / 4 > call.settings.maxOutputBytes + 3) {
    throw overLimit(call.target.provider.id, what, call.settings.maxOutputBytes);
  }
  return new Uint8Array(Buffer.from(b64, 'base64'));
}

/**
 * A produced file at a provider URL (Replicate's deliveries), fetched by the gateway, never shown to the client:
 * https only (http only when the provider itself is reached over http, a local mock or server), at most
 * `maxOutputBytes` (refused by its Content-Length before a byte is read, else as bytes arrive), complete within
 * `outputFetchMs`, never to a private address (below). The provider's auth header goes only to the provider's own
 * origin. A `data:` URL is decoded.
 * Failures are retryable `provider_unavailable` or `timeout`, as for any upstream answer.
 */
export async function fetchOutput(
  call: MediaCall,
  rawUrl: string,
  auth: Record<string, string>,
  /** The provider's API base URL as called (its default when the configuration sets none). */
  apiBase: string,
): Promise<ProducedFile> {
  const label = call.target.provider.id;
  if (rawUrl.startsWith('data:')) return decodeDataUrl(rawUrl, call);
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new GatewayError('provider_unavailable', `Upstream ${label} returned an output that is not a URL`);
  }
  const base = new URL(apiBase);
  const allowHttp = base.protocol === 'http:';
  if (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:')) {
    throw new GatewayError('provider_unavailable', `Upstream ${label} returned an output URL that is not https`);
  }
  // A model's output is whatever its code returned: a URL into the gateway's own network (cloud metadata, an
  // admin port) is never fetched, unless the provider itself lives on a private network (a local server, a
  // test double) or the operator allows it (`options.outputUrlAllowPrivate: "true"`).
  const allowPrivate = call.target.provider.options['outputUrlAllowPrivate'] === 'true' || isPrivateHost(base.hostname);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!allowPrivate && (isIP(host) ? isPrivateAddress(host) : host === 'localhost' || host.endsWith('.localhost'))) {
    throw privateOutput(label);
  }
  const headers: Record<string, string> = { accept: '*/*', ...(url.origin === base.origin ? auth : {}) };
  const cap = call.settings.maxOutputBytes;
  let res: Awaited<ReturnType<typeof upstreamFetch>>;
  try {
    res = await upstreamFetch({
      pool: call.pool,
      url: url.href,
      method: 'GET',
      headers,
      timeouts: {
        connectMs: call.target.provider.timeouts.connectMs,
        firstByteMs: call.settings.outputFetchMs,
        totalMs: call.settings.outputFetchMs,
      },
      limits: { ...call.target.provider.limits, maxBodyBytes: cap },
      signal: call.ctx.signal,
      label,
      // Redirects are not followed (a 3xx is a failed download), and names are resolved by a lookup that
      // refuses private answers, checked on the address the connection uses (no DNS rebinding).
      ...(allowPrivate
        ? {}
        : {
            dispatcher: call.pool.named(
              'media-outputs-guarded',
              () => new Agent({ connect: { timeout: call.target.provider.timeouts.connectMs, lookup: guardedLookup } }),
            ),
          }),
    });
  } catch (err) {
    if ((err as { cause?: { code?: string } }).cause?.code === 'EPRIVATEADDRESS') throw privateOutput(label);
    throw err;
  }
  if (res.status < 200 || res.status >= 300) {
    res.body.resume();
    res.body.on('error', () => {});
    throw new GatewayError('provider_unavailable', `Upstream ${label} output could not be downloaded (${res.status})`, {
      upstreamStatus: res.status,
    });
  }
  const declared = Number(headerOf(res.headers['content-length']));
  if (Number.isFinite(declared) && declared > cap) {
    res.body.on('error', () => {});
    res.body.destroy();
    throw overLimit(label, 'an output file', cap);
  }
  const bytes = await readBody(res.body, label, cap);
  return { bytes, contentType: sniffContentType(bytes, headerOf(res.headers['content-type'])) };
}

function isPrivateHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return isIP(host) ? isPrivateAddress(host) : host === 'localhost' || host.endsWith('.localhost');
}

function privateOutput(label: string): GatewayError {
  return new GatewayError(
    'permission_denied',
    `Upstream ${label} returned an output URL on a private address, which is not fetched`,
  );
}

function headerOf(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function decodeDataUrl(url: string, call: MediaCall): ProducedFile {
  const comma = url.indexOf(',');
  const head = url.slice(5, comma);
  if (comma < 0 || !head.endsWith(';base64')) {
    throw new GatewayError(
      'provider_unavailable',
      `Upstream ${call.target.provider.id} returned a data URL without base64`,
    );
  }
  const bytes = decodeBase64(url.slice(comma + 1), call, 'an output file');
  return { bytes, contentType: sniffContentType(bytes, head.slice(0, -';base64'.length)) };
}

/** The media type by the file's own magic bytes, else the one declared, else octet-stream. */
export function sniffContentType(bytes: Uint8Array, declared?: string): string {
  const b = bytes;
  const ascii = (from: number, to: number) => Buffer.from(b.subarray(from, to)).toString('latin1');
  if (b.length >= 8 && b[0] === 0x89 && ascii(1, 4) === 'PNG') return 'image/png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'image/webp';
  if (b.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WAVE') return 'audio/wav';
  if (b.length >= 6 && ascii(0, 4) === 'GIF8') return 'image/gif';
  if (b.length >= 12 && ascii(4, 8) === 'ftyp') return ascii(8, 11) === 'M4A' ? 'audio/mp4' : 'video/mp4';
  if (b.length >= 4 && ascii(0, 4) === 'OggS') return 'audio/ogg';
  if (b.length >= 4 && ascii(0, 4) === 'fLaC') return 'audio/flac';
  if (b.length >= 3 && (ascii(0, 3) === 'ID3' || (b[0] === 0xff && (b[1]! & 0xe0) === 0xe0))) return 'audio/mpeg';
  const type = declared?.split(';')[0]?.trim().toLowerCase();
  return type && /^[a-z]+\/[a-z0-9.+-]+$/.test(type) ? type : 'application/octet-stream';
}

/** A multipart/form-data body, serialised by the platform's own encoder. */
export async function multipartBody(
  fields: Record<string, string | { bytes: Uint8Array; contentType: string; filename: string } | undefined>,
): Promise<{ body: Uint8Array; contentType: string }> {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    if (typeof value === 'string') form.append(name, value);
    else form.append(name, new Blob([value.bytes], { type: value.contentType }), value.filename);
  }
  const encoded = new Response(form);
  return {
    body: new Uint8Array(await encoded.arrayBuffer()),
    contentType: encoded.headers.get('content-type')!,
  };
}

/** The error a cancelled or timed-out execution's run ends with (the worker knows which it was). */
export function cancelledError(signal: AbortSignal): GatewayError {
  return signal.reason instanceof GatewayError
    ? signal.reason
    : new GatewayError('timeout', 'Execution cancelled', { cause: signal.reason, failover: false });
}

/** Waits between polls; throws cancelledError as soon as the execution is cancelled or out of time. */
export async function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) throw cancelledError(signal);
  try {
    await sleepFor(ms, undefined, { signal });
  } catch {
    throw cancelledError(signal);
  }
}

/** The file name a produced file is stored under: execution id, index, extension by media type. */
export function outputFilename(executionId: string, index: number, contentType: string): string {
  const ext: Record<string, string> = {
    'image/png': 'png',
    'image/jpeg': 'jpg',
    'image/webp': 'webp',
    'image/gif': 'gif',
    'audio/wav': 'wav',
    'audio/mpeg': 'mp3',
    'audio/ogg': 'ogg',
    'audio/flac': 'flac',
    'audio/aac': 'aac',
    'audio/mp4': 'm4a',
    'audio/pcm': 'pcm',
    'video/mp4': 'mp4',
  };
  return `${executionId}-${index + 1}.${ext[contentType] ?? 'bin'}`;
}

/**
 * Records a job the provider just accepted before its first poll (decision 0038). If it cannot be recorded the job
 * is abandoned (`abandon`: cancel it upstream, best effort) and the run fails retryably: a job nobody can find again
 * would be paid for and never delivered.
 */
export async function recordJob(call: MediaCall, id: string, abandon: () => void): Promise<void> {
  try {
    await call.job.save(id);
  } catch (err) {
    abandon();
    throw new GatewayError(
      'internal_error',
      'Internal error: the upstream job could not be recorded; it was cancelled',
      {
        cause: err,
      },
    );
  }
}

/**
 * Whether an aborted run leaves its upstream job to the execution's row rather than cancelling it itself: always
 * when the job is recorded durably (decision 0042). On shutdown the next run resumes it; on a cancel or the
 * deadline the terminal write takes it off the row and cancels it, once, whichever process writes it — and a
 * run aborted because its lease went to another worker must not cancel the job that worker is resuming. Without
 * a durable record (unit tests, in memory) the aborted run cancels its job itself.
 */
export function keptForNextRun(call: MediaCall): boolean {
  return call.ctx.upstreamJob !== undefined;
}

/** Fires `cancel` without waiting for it (a run's own abandon): its outcome only matters to the provider. */
export function cancelInBackground(cancel: Promise<void>): void {
  cancel.catch(() => {});
}

/** How long a job's cancel or delete may take. */
export const CANCEL_JOB_MS = 10_000;

/**
 * A job's cancel or delete (`req` from mediaRequest), under its own CANCEL_JOB_MS deadline rather than the run's
 * signal (aborted when a run abandons its job). A 2xx, or a 404 (the job is already gone), resolves; any other
 * answer is mapped by the provider's table and thrown; a network failure or the deadline throws as any call does.
 */
export async function cancelUpstreamJob(req: UpstreamRequest, mapError: UpstreamErrorMapper): Promise<void> {
  const res = await upstreamFetchWhole({
    ...req,
    signal: AbortSignal.timeout(CANCEL_JOB_MS),
    timeouts: { ...req.timeouts, firstByteMs: CANCEL_JOB_MS, totalMs: CANCEL_JOB_MS },
  });
  if ((res.status >= 200 && res.status < 300) || res.status === 404) return;
  throw mapError(res.status, res.headers, errorBodyJSON(res.bytes));
}
