import { type ErrorCode, GatewayError } from '../../core/errors.ts';
import { safeUpstreamMessage } from '../../core/redact.ts';

/**
 * Every error Anthropic documents, as one table: HTTP status + `error.type` (+ `error.details.error_code`
 * or the message, where Anthropic distinguishes causes only there) → one of the 12 codes, with the
 * failover and key-rotation flags the gateway acts on. First matching row wins.
 * @see https://platform.claude.com/docs/en/api/errors
 * @see https://platform.claude.com/docs/en/api/rate-limits
 */

export interface AnthropicErrorBody {
  type?: unknown;
  error?: { type?: unknown; message?: unknown; details?: { error_code?: unknown } | null } | null;
}

export interface AnthropicErrorRow {
  /** Short name, for tests and docs. */
  name: string;
  status: number | ((status: number) => boolean);
  errorCodes?: readonly string[];
  message?: RegExp;
  code: ErrorCode;
  /** Defaults to the code's retryable flag. */
  failover?: boolean;
  keyRejected?: boolean;
  /** `upstream`: the provider's own words help the caller fix the request; otherwise this text. */
  text: 'upstream' | string;
}

/** Message patterns of 400 invalid_request_error that have their own code. */
const CONTEXT_TOO_LONG =
  /prompt is too long|exceed(s|ed)? (the )?context (limit|window)|input length and `?max_tokens`? exceed|context window/i;
const OUT_OF_CREDIT = /credit balance is too low|spend(ing)? limit|usage limits?/i;
const CONTENT_POLICY = /content filtering policy|usage policy|content policy/i;
/** Rejections that are about this model, not the request: another candidate may well accept it. */
const MODEL_SPECIFIC =
  /(not|isn't) supported (on|for|by) this model|does not support|is deprecated for this model|not available (on|for) this model/i;
const SPEND_LIMIT_CODES = ['enforced_spend_limit_reached', 'contract_spend_limit_reached'] as const;

const is4xx = (status: number) => status >= 400 && status < 500;
const is5xx = (status: number) => status >= 500;

export const ANTHROPIC_ERROR_TABLE: readonly AnthropicErrorRow[] = [
  // 400 invalid_request_error: one type, several causes told apart by message.
  {
    name: 'context too long',
    status: 400,
    message: CONTEXT_TOO_LONG,
    code: 'context_length_exceeded',
    failover: true,
    text: 'upstream',
  },
  {
    name: 'credit exhausted',
    status: 400,
    message: OUT_OF_CREDIT,
    code: 'quota_exceeded',
    failover: true,
    keyRejected: true,
    text: 'Upstream account is out of credit',
  },
  {
    name: 'content policy',
    status: 400,
    message: CONTENT_POLICY,
    code: 'content_filtered',
    failover: false,
    text: 'upstream',
  },
  {
    name: 'unsupported by this model',
    status: 400,
    message: MODEL_SPECIFIC,
    code: 'invalid_request',
    failover: true,
    text: 'upstream',
  },
  { name: 'invalid request', status: 400, code: 'invalid_request', failover: false, text: 'upstream' },
  {
    name: 'authentication',
    status: 401,
    code: 'authentication_failed',
    failover: true,
    keyRejected: true,
    text: 'Upstream rejected the provider key',
  },
  {
    name: 'billing',
    status: 402,
    code: 'quota_exceeded',
    failover: true,
    keyRejected: true,
    text: 'Upstream account has a billing problem',
  },
  {
    name: 'permission',
    status: 403,
    code: 'permission_denied',
    failover: true,
    keyRejected: true,
    text: 'Upstream denied the provider key access',
  },
  // Usually a model this key cannot see; another candidate may serve the request.
  { name: 'not found', status: 404, code: 'not_found', failover: true, text: 'upstream' },
  { name: 'conflict', status: 409, code: 'provider_unavailable', text: 'Upstream reported a conflict; try again' },
  {
    name: 'request too large',
    status: 413,
    code: 'invalid_request',
    failover: false,
    text: 'Upstream rejected the request as too large (the limit is 32 MB)',
  },
  // A spend limit is a 429 like a rate limit, but waiting does not help until the limit resets or is raised.
  {
    name: 'spend limit',
    status: 429,
    errorCodes: SPEND_LIMIT_CODES,
    code: 'quota_exceeded',
    failover: true,
    keyRejected: true,
    text: 'Upstream account reached its spend limit',
  },
  {
    name: 'spend limit (message)',
    status: 429,
    message: OUT_OF_CREDIT,
    code: 'quota_exceeded',
    failover: true,
    keyRejected: true,
    text: 'Upstream account reached its spend limit',
  },
  { name: 'rate limit', status: 429, code: 'rate_limited', failover: true, text: 'Upstream rate limit reached' },
  { name: 'api error', status: 500, code: 'provider_unavailable', text: 'Upstream had an internal error' },
  {
    name: 'unavailable',
    status: (s) => s === 502 || s === 503,
    code: 'provider_unavailable',
    text: 'Upstream is unavailable',
  },
  { name: 'timeout', status: 504, code: 'timeout', text: 'Upstream timed out' },
  { name: 'overloaded', status: 529, code: 'provider_unavailable', text: 'Upstream is overloaded' },
  { name: 'other 4xx', status: is4xx, code: 'invalid_request', failover: false, text: 'upstream' },
  { name: 'other 5xx', status: is5xx, code: 'provider_unavailable', text: 'Upstream failed' },
];

/** The HTTP status Anthropic uses for each error type, for errors that arrive inside a 200 stream. */
const STATUS_OF_TYPE: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

export function statusOfAnthropicErrorType(type: unknown): number {
  return (typeof type === 'string' ? STATUS_OF_TYPE[type] : undefined) ?? 500;
}

function matches(row: AnthropicErrorRow, status: number, errorCode: string | undefined, message: string): boolean {
  if (typeof row.status === 'number' ? row.status !== status : !row.status(status)) return false;
  if (row.errorCodes && !(errorCode !== undefined && row.errorCodes.includes(errorCode))) return false;
  if (row.message && !row.message.test(message)) return false;
  return true;
}

export interface AnthropicErrorInput {
  /** HTTP status, or for an in-stream `error` event the status of its type. */
  status: number;
  /** The parsed error body (`{type: 'error', error: {type, message}}`), or anything else received. */
  body: unknown;
  retryAfter?: number | undefined;
  /** Provider id, for messages. */
  label: string;
  /** The key used, scrubbed from any message that might echo it. */
  secret?: string | undefined;
}

export function findAnthropicErrorRow(status: number, body: unknown): AnthropicErrorRow {
  const error =
    (body !== null && typeof body === 'object' ? (body as AnthropicErrorBody).error : undefined) ?? undefined;
  const errorCode = typeof error?.details?.error_code === 'string' ? error.details.error_code : undefined;
  const message = typeof error?.message === 'string' ? error.message : '';
  const row = ANTHROPIC_ERROR_TABLE.find((r) => matches(r, status, errorCode, message));
  return row ?? ANTHROPIC_ERROR_TABLE[ANTHROPIC_ERROR_TABLE.length - 1]!;
}

export function mapAnthropicError(input: AnthropicErrorInput): GatewayError {
  const { status, body, label } = input;
  const row = findAnthropicErrorRow(status, body);
  const error = body !== null && typeof body === 'object' ? (body as AnthropicErrorBody).error : undefined;
  const safe = safeUpstreamMessage(error?.message, input.secret);
  const message =
    row.text === 'upstream'
      ? `Upstream ${label}: ${safe ?? `request failed with status ${status}`}`
      : `${row.text.replace(/^Upstream/, `Upstream ${label}`)}`;
  return new GatewayError(row.code, message, {
    upstreamStatus: status,
    retryAfter: input.retryAfter,
    failover: row.failover,
    keyRejected: row.keyRejected ?? false,
  });
}
