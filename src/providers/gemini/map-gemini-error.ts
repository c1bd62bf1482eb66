import { GatewayError, type GatewayErrorOptions } from '../../core/errors.ts';
import { safeUpstreamMessage } from '../../core/redact.ts';
import type { GeminiErrorBody } from './gemini-api-types.ts';

/**
 * Google's documented Gemini API errors → the 12 codes, in one table. Google answers with google.rpc.Status
 * as JSON: `{"error":{"code","message","status","details":[...]}}`; the same envelope can also arrive as an
 * event in the middle of a stream.
 *
 * | HTTP | status                        | code                     | failover | key out |
 * |------|-------------------------------|--------------------------|----------|---------|
 * | 400  | INVALID_ARGUMENT, API key bad | authentication_failed    | yes      | yes     |
 * | 400  | INVALID_ARGUMENT, too long    | context_length_exceeded  | yes      |         |
 * | 400  | INVALID_ARGUMENT, blocked     | content_filtered         |          |         |
 * | 400  | INVALID_ARGUMENT, model lacks | invalid_request          | yes      |         |
 * | 400  | INVALID_ARGUMENT, other       | invalid_request          |          |         |
 * | 400  | FAILED_PRECONDITION           | permission_denied        | yes      |         |
 * | 401  | UNAUTHENTICATED               | authentication_failed    | yes      | yes     |
 * | 403  | PERMISSION_DENIED             | permission_denied        | yes      | yes     |
 * | 404  | NOT_FOUND                     | not_found                | yes      |         |
 * | 413  | (payload too large)           | context_length_exceeded  | yes      |         |
 * | 429  | RESOURCE_EXHAUSTED            | rate_limited (retryable) | yes      |         |
 * | 500  | INTERNAL                      | provider_unavailable (r) | yes      |         |
 * | 503  | UNAVAILABLE                   | provider_unavailable (r) | yes      |         |
 * | 504  | DEADLINE_EXCEEDED             | timeout (retryable)      | yes      |         |
 *
 * Notes. An invalid key is a 400 on the Gemini API (ErrorInfo reason API_KEY_INVALID), not a 401.
 * "Model lacks" is a 400 for a feature this model does not have (penalties, a thinking level, JSON mode
 * with tools, a thought signature it cannot read): another candidate can serve the same request.
 * FAILED_PRECONDITION is the project's state (billing off, region not served), not the request's.
 * RetryInfo.retryDelay (or Retry-After) becomes retryAfter. Messages never carry the key: Google's own
 * messages can echo it ("Consumer 'api_key:…' has been suspended"), so they are redacted, and `details`
 * (DebugInfo may hold the key) are never shown.
 * @see https://ai.google.dev/gemini-api/docs/troubleshooting#error-codes
 * @see https://cloud.google.com/apis/design/errors#handling_errors
 */

export interface GeminiErrorInput {
  status: number;
  /** Parsed body, if it was JSON. */
  body: unknown;
  /** Seconds from a Retry-After header. */
  retryAfter?: number;
  /** Provider id. */
  label: string;
  /** The key used, scrubbed from anything shown. */
  secret?: string;
}

const CONTEXT_TOO_LONG =
  /exceeds the maximum number of tokens|input token count|too many tokens|context (window|length)|prompt is too long|request payload size exceeds/i;
const MODEL_LACKS =
  /\bnot (enabled|supported|available)\b|\bunsupported\b|thought[_ ]signature|only .* (are|is) supported|does not support/i;
const BLOCKED = /\b(prompt|request|content|input) (was|is|has been) blocked\b|prohibited content|violat\w* .*polic/i;
const BAD_KEY = /api key (not valid|not found|expired|invalid)|invalid api key/i;

export function mapGeminiError({ status, body, retryAfter, label, secret }: GeminiErrorInput): GatewayError {
  const error = (body && typeof body === 'object' ? (body as GeminiErrorBody).error : undefined) ?? {};
  const rpcStatus = typeof error.status === 'string' ? error.status : '';
  const rawMessage = typeof error.message === 'string' ? error.message : '';
  const upstream = safeUpstreamMessage(rawMessage, secret);
  const said = upstream ? `: ${upstream}` : '';
  const reasons = errorReasons(error.details);
  const options: GatewayErrorOptions = { upstreamStatus: status };

  const keyInvalid = reasons.includes('API_KEY_INVALID') || BAD_KEY.test(rawMessage);
  if (status === 401 || rpcStatus === 'UNAUTHENTICATED' || (status === 400 && keyInvalid)) {
    return new GatewayError('authentication_failed', `Upstream ${label} rejected the API key`, {
      ...options,
      keyRejected: true,
      failover: true,
    });
  }
  if (status === 403 || rpcStatus === 'PERMISSION_DENIED') {
    return new GatewayError('permission_denied', `Upstream ${label} denied access${said}`, {
      ...options,
      keyRejected: true,
      failover: true,
    });
  }
  if (status === 429 || rpcStatus === 'RESOURCE_EXHAUSTED') {
    const wait = retryDelaySeconds(error.details) ?? retryAfter;
    return new GatewayError('rate_limited', `Upstream ${label} is rate limiting${said}`, {
      ...options,
      ...(wait === undefined ? {} : { retryAfter: wait }),
    });
  }
  if (rpcStatus === 'FAILED_PRECONDITION') {
    return new GatewayError('permission_denied', `Upstream ${label} cannot serve this project${said}`, {
      ...options,
      failover: true,
    });
  }
  if (status === 413 || (status === 400 && CONTEXT_TOO_LONG.test(rawMessage))) {
    // A candidate with a larger window may still serve it.
    return new GatewayError('context_length_exceeded', `The prompt is too long for ${label}${said}`, {
      ...options,
      failover: true,
    });
  }
  if (status === 400 && BLOCKED.test(rawMessage)) {
    return new GatewayError('content_filtered', `Upstream ${label} refused the content${said}`, options);
  }
  if (status === 400 && MODEL_LACKS.test(rawMessage)) {
    return new GatewayError('invalid_request', `Upstream ${label} rejected the request${said}`, {
      ...options,
      failover: true,
    });
  }
  if (status === 404 || rpcStatus === 'NOT_FOUND') {
    return new GatewayError('not_found', `Upstream ${label} does not serve this model${said}`, {
      ...options,
      failover: true,
    });
  }
  if (status === 504 || status === 408 || rpcStatus === 'DEADLINE_EXCEEDED') {
    return new GatewayError('timeout', `Upstream ${label} timed out`, options);
  }
  if (status >= 500 || status === 409 || status === 499) {
    const wait = retryAfter === undefined ? {} : { retryAfter };
    return new GatewayError('provider_unavailable', `Upstream ${label} failed with status ${status}${said}`, {
      ...options,
      ...wait,
    });
  }
  return new GatewayError('invalid_request', `Upstream ${label} rejected the request${said}`, options);
}

/** ErrorInfo reasons (API_KEY_INVALID, SERVICE_DISABLED...). */
function errorReasons(details: unknown): string[] {
  if (!Array.isArray(details)) return [];
  return details.flatMap((detail) =>
    detail && typeof detail === 'object' && typeof (detail as Record<string, unknown>)['reason'] === 'string'
      ? [(detail as Record<string, string>)['reason']!]
      : [],
  );
}

/** RetryInfo.retryDelay, a protobuf Duration in JSON ("34.4s"), rounded up to whole seconds. */
function retryDelaySeconds(details: unknown): number | undefined {
  if (!Array.isArray(details)) return undefined;
  for (const detail of details) {
    if (!detail || typeof detail !== 'object') continue;
    const delay = (detail as Record<string, unknown>)['retryDelay'];
    if (typeof delay !== 'string') continue;
    const match = /^(\d+(?:\.\d+)?)s$/.exec(delay.trim());
    if (match) return Math.ceil(Number(match[1]));
  }
  return undefined;
}
