/**
 * The 12 normalized error codes. Every failure, ours or a provider's, becomes a GatewayError with one of
 * these codes the moment it is caught; docs/errors.md lists them with their statuses.
 */

export const ERROR_CODES = {
  invalid_request: { status: 400, retryable: false, type: 'invalid_request_error' },
  authentication_failed: { status: 401, retryable: false, type: 'authentication_error' },
  permission_denied: { status: 403, retryable: false, type: 'permission_error' },
  not_found: { status: 404, retryable: false, type: 'not_found_error' },
  idempotency_conflict: { status: 409, retryable: false, type: 'invalid_request_error' },
  context_length_exceeded: { status: 400, retryable: false, type: 'invalid_request_error' },
  content_filtered: { status: 400, retryable: false, type: 'invalid_request_error' },
  quota_exceeded: { status: 402, retryable: false, type: 'insufficient_quota' },
  rate_limited: { status: 429, retryable: true, type: 'rate_limit_error' },
  provider_unavailable: { status: 503, retryable: true, type: 'api_error' },
  timeout: { status: 504, retryable: true, type: 'timeout_error' },
  internal_error: { status: 500, retryable: true, type: 'api_error' },
} as const satisfies Record<string, { status: number; retryable: boolean; type: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface GatewayErrorOptions {
  /** The request field at fault, as OpenAI's envelope names it. */
  param?: string | null;
  /** Provider HTTP status or transport error, for logs and failover decisions; never shown raw to clients. */
  upstreamStatus?: number;
  /** Seconds the provider asked us to wait (Retry-After). */
  retryAfter?: number;
  /** HTTP status other than the code's own, where HTTP has a more precise one (413, 415). */
  status?: number;
  /** Whether failover may try the next candidate. Defaults to the code's retryable flag. */
  failover?: boolean;
  /** The provider key should be taken out of rotation (401/403 from upstream). */
  keyRejected?: boolean;
  cause?: unknown;
}

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly param: string | null;
  readonly upstreamStatus: number | undefined;
  readonly retryAfter: number | undefined;
  readonly failover: boolean;
  readonly keyRejected: boolean;

  constructor(code: ErrorCode, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = options.status ?? ERROR_CODES[code].status;
    this.retryable = ERROR_CODES[code].retryable;
    this.param = options.param ?? null;
    this.upstreamStatus = options.upstreamStatus;
    this.retryAfter = options.retryAfter;
    this.failover = options.failover ?? this.retryable;
    this.keyRejected = options.keyRejected ?? false;
  }
}

export function isGatewayError(err: unknown): err is GatewayError {
  return err instanceof GatewayError;
}

/** Wraps anything thrown into a GatewayError without leaking its message (it may hold secrets or stack). */
export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  return new GatewayError('internal_error', 'Internal error', { cause: err });
}

/** OpenAI's error envelope, plus the `retryable` flag. */
export function openAIErrorBody(err: GatewayError): {
  error: { message: string; type: string; code: ErrorCode; param: string | null; retryable: boolean };
} {
  return {
    error: {
      message: err.message,
      type: ERROR_CODES[err.code].type,
      code: err.code,
      param: err.param,
      retryable: err.retryable,
    },
  };
}
