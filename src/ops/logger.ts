import { pino } from 'pino';
import { redactSecrets } from '../core/redact.ts';

/**
 * JSON logs that cannot carry a credential, in three lines of defence:
 * 1. secrets are unreachable from logged objects: provider keys hold theirs in non-enumerable properties
 *    (providers/provider-key.ts), so a target, caller or provider spec serialises without them;
 * 2. every logged object is rewritten by structure before it is written (`scrubForLog`): errors become
 *    {type, message, code, status, stack, cause} with their text passed through redactSecrets, and any field
 *    whose name says it holds a credential is replaced, at any depth;
 * 3. pino's `redact` paths, for the top-level names.
 * Only failures and rare events are logged, so the walk costs nothing on the success path.
 */
export type Logger = pino.Logger;

export const REDACT_PATHS = [
  'key',
  'secret',
  'apiKey',
  'authorization',
  '*.key',
  '*.secret',
  '*.apiKey',
  '*.authorization',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers["api-key"]',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
];

/** Field names whose values are credentials wherever they appear (compared in lower case). */
const SECRET_FIELDS = new Set([
  'key',
  'secret',
  'secretaccesskey',
  'sessiontoken',
  'password',
  'authorization',
  'apikey',
  'api_key',
  'api-key',
  'x-api-key',
  'x-goog-api-key',
  'cookie',
  'set-cookie',
  'token',
  'keys',
]);
const CENSOR = '[redacted]';
const MAX_DEPTH = 6;
const MAX_ITEMS = 50;
/** Error fields worth keeping; everything else an error carries (targets, requests, responses) is dropped. */
const ERROR_FIELDS = ['code', 'status', 'upstreamStatus', 'retryable', 'failover', 'errno', 'syscall'] as const;

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'modro' },
      redact: { paths: REDACT_PATHS, censor: CENSOR },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => scrubForLog(object, 0) as Record<string, unknown>,
      },
      serializers: { err: (err: unknown) => scrubForLog(err, 0) },
    },
    destination,
  );
}

/** A copy of a value fit for a log line: errors reduced to safe fields, credential-named fields censored. */
export function scrubForLog(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return serializeError(value, depth);
  if (depth >= MAX_DEPTH) return '[object]';
  if (Array.isArray(value)) return value.slice(0, MAX_ITEMS).map((item) => scrubForLog(item, depth + 1));
  if (ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  const out: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(value)) {
    out[name] =
      SECRET_FIELDS.has(name.toLowerCase()) && field !== null && field !== '' ? CENSOR : scrubForLog(field, depth + 1);
  }
  return out;
}

function serializeError(err: Error, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = { type: err.name, message: redactSecrets(err.message) };
  const fields = err as unknown as Record<string, unknown>;
  for (const name of ERROR_FIELDS) {
    const field = fields[name];
    if (field !== undefined && field !== null && typeof field !== 'object') out[name] = field;
  }
  if (err.stack) out['stack'] = redactSecrets(err.stack);
  if (err.cause !== undefined && depth < MAX_DEPTH) out['cause'] = scrubForLog(err.cause, depth + 1);
  return out;
}
