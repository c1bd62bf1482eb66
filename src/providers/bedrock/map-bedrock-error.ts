import { type ErrorCode, GatewayError, type GatewayErrorOptions } from '../../core/errors.ts';
import { safeUpstreamMessage } from '../../core/redact.ts';
import { retryAfterSeconds, type UpstreamErrorMapper, type UpstreamResponse } from '../http.ts';

/**
 * Bedrock errors → the 12 codes, in one table. An HTTP error names its type in the `x-amzn-ErrorType` header
 * (`ThrottlingException:http://internal.amazon.com/coral/...`) or the body's `__type`, with the text in the
 * body's `message`; a stream error is an event-stream message of type `exception` whose `:exception-type` is
 * the same name in lower camel case (`throttlingException`). Both go through `mapBedrockError`.
 *
 * `failover` says whether another candidate could serve the same request; `keyRejected` takes the key out of
 * rotation. Messages name the upstream and may quote its text (made safe by safeUpstreamMessage), except for
 * authentication failures, whose text can echo signing material.
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_Errors
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html#API_runtime_ConverseStream_Errors
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/CommonErrors.html
 * @see https://docs.aws.amazon.com/bedrock/latest/userguide/troubleshooting-api-error-codes.html
 */

interface Row {
  code: ErrorCode;
  /** The status Bedrock documents for it (used when the error arrives inside a stream). */
  status: number;
  /** Client-facing message; `said` is `: <upstream text>` or empty. */
  message: (label: string, said: string) => string;
  options?: Pick<GatewayErrorOptions, 'failover' | 'keyRejected'>;
  /** Authentication errors: the upstream text is not repeated. */
  quiet?: boolean;
}

const AUTH: Row['options'] = { keyRejected: true, failover: true };

export const BEDROCK_ERRORS: Record<string, Row> = {
  ValidationException: {
    code: 'invalid_request',
    status: 400,
    message: (label, said) => `Upstream ${label} rejected the request${said}`,
  },
  AccessDeniedException: {
    code: 'permission_denied',
    status: 403,
    message: (label, said) => `Upstream ${label} denied access${said}`,
    options: AUTH,
  },
  UnrecognizedClientException: {
    code: 'authentication_failed',
    status: 403,
    message: (label) => `Upstream ${label} did not recognise the provider credentials`,
    options: AUTH,
    quiet: true,
  },
  InvalidSignatureException: {
    code: 'authentication_failed',
    status: 403,
    message: (label) => `Upstream ${label} rejected the request signature (check the secret access key and clock)`,
    options: AUTH,
    quiet: true,
  },
  ExpiredTokenException: {
    code: 'authentication_failed',
    status: 403,
    message: (label) => `Upstream ${label} says the provider session token has expired`,
    options: AUTH,
    quiet: true,
  },
  MissingAuthenticationTokenException: {
    code: 'authentication_failed',
    status: 403,
    message: (label) => `Upstream ${label} received no credentials`,
    options: AUTH,
    quiet: true,
  },
  IncompleteSignatureException: {
    code: 'authentication_failed',
    status: 403,
    message: (label) => `Upstream ${label} could not read the request signature`,
    options: { failover: true },
    quiet: true,
  },
  ResourceNotFoundException: {
    code: 'not_found',
    status: 404,
    message: (label, said) => `Upstream ${label} does not serve this model${said}`,
    options: { failover: true },
  },
  UnknownOperationException: {
    code: 'not_found',
    status: 404,
    message: (label) => `Upstream ${label} does not offer the Converse operation at this endpoint`,
    options: { failover: true },
  },
  ThrottlingException: {
    code: 'rate_limited',
    status: 429,
    message: (label, said) => `Upstream ${label} is rate limiting${said}`,
  },
  ServiceQuotaExceededException: {
    // A per-account token or request quota for a period; Bedrock says to resubmit later.
    code: 'rate_limited',
    status: 400,
    message: (label, said) => `Upstream ${label} quota for this period is used up${said}`,
  },
  ModelTimeoutException: {
    code: 'timeout',
    status: 408,
    message: (label) => `Upstream ${label} model took too long to answer`,
  },
  ModelNotReadyException: {
    code: 'provider_unavailable',
    status: 429,
    message: (label) => `Upstream ${label} model is not ready yet`,
  },
  ModelErrorException: {
    code: 'provider_unavailable',
    status: 424,
    message: (label, said) => `Upstream ${label} model failed${said}`,
  },
  ModelStreamErrorException: {
    code: 'provider_unavailable',
    status: 424,
    message: (label, said) => `Upstream ${label} model stream failed${said}`,
  },
  InternalServerException: {
    code: 'provider_unavailable',
    status: 500,
    message: (label) => `Upstream ${label} had an internal error`,
  },
  InternalFailure: {
    code: 'provider_unavailable',
    status: 500,
    message: (label) => `Upstream ${label} had an internal error`,
  },
  ServiceUnavailableException: {
    code: 'provider_unavailable',
    status: 503,
    message: (label) => `Upstream ${label} is unavailable`,
  },
  ServiceUnavailable: {
    code: 'provider_unavailable',
    status: 503,
    message: (label) => `Upstream ${label} is unavailable`,
  },
  ConflictException: {
    code: 'invalid_request',
    status: 400,
    message: (label, said) => `Upstream ${label} rejected the request${said}`,
  },
  SerializationException: {
    // The body we sent did not parse: our fault, so another candidate may do better.
    code: 'invalid_request',
    status: 400,
    message: (label, said) => `Upstream ${label} could not read the request${said}`,
    options: { failover: true },
  },
};

/** ValidationException texts that mean the prompt does not fit the model. */
const CONTEXT_TOO_LONG =
  /input is too long|too many input tokens|prompt is too long|context (length|window|limit)|maximum context|input length and `?max_tokens`? exceed/i;
/** ValidationException texts that mean the content was refused. */
const CONTENT_BLOCKED = /content (filtering )?polic|blocked by (the )?content|content filter|violat\w* .*usage polic/i;

export interface BedrockErrorInput {
  /** `ThrottlingException`, `throttlingException`, or a raw header/`__type` value; undefined if not given. */
  errorType: string | undefined;
  /** HTTP status; omitted for stream exceptions (the table's status is used). */
  status?: number;
  message: unknown;
  label: string;
  retryAfter?: number;
}

/** `ValidationException:http://internal...` or `com.amazon.coral.service#UnrecognizedClientException` → the name. */
export function normalizeErrorType(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  const name = raw.split(':')[0]!.split('#').at(-1)!.trim();
  if (name === '') return undefined;
  return name[0]!.toUpperCase() + name.slice(1);
}

export function mapBedrockError(input: BedrockErrorInput): GatewayError {
  const type = normalizeErrorType(input.errorType);
  const row = type ? BEDROCK_ERRORS[type] : undefined;
  const status = input.status ?? row?.status ?? 500;
  const text = typeof input.message === 'string' ? input.message : '';
  const upstream = safeUpstreamMessage(input.message);
  const said = upstream ? `: ${upstream}` : '';
  const base: GatewayErrorOptions = { upstreamStatus: status };
  if (input.retryAfter !== undefined) base.retryAfter = input.retryAfter;

  if (
    row &&
    (type === 'ValidationException' || type === 'ModelErrorException' || type === 'ModelStreamErrorException')
  ) {
    // Anthropic's own errors pass through Bedrock as validation or model errors, so the text decides.
    if (CONTEXT_TOO_LONG.test(text)) {
      return new GatewayError('context_length_exceeded', `The prompt is too long for ${input.label}${said}`, {
        ...base,
        failover: true,
      });
    }
    if (CONTENT_BLOCKED.test(text)) {
      return new GatewayError('content_filtered', `Upstream ${input.label} refused the content${said}`, base);
    }
  }
  if (row) {
    return new GatewayError(row.code, row.message(input.label, row.quiet ? '' : said), { ...base, ...row.options });
  }
  return byStatus(status, input.label, said, base);
}

/** Errors without a known type, by status alone (a proxy in front of Bedrock, a new exception). */
function byStatus(status: number, label: string, said: string, base: GatewayErrorOptions): GatewayError {
  if (status === 401 || status === 403) {
    return new GatewayError('authentication_failed', `Upstream ${label} rejected the provider credentials`, {
      ...base,
      keyRejected: true,
      failover: true,
    });
  }
  if (status === 404) {
    return new GatewayError('not_found', `Upstream ${label} does not serve this model${said}`, {
      ...base,
      failover: true,
    });
  }
  if (status === 408 || status === 504) return new GatewayError('timeout', `Upstream ${label} timed out`, base);
  if (status === 413) {
    return new GatewayError('context_length_exceeded', `The request is too large for ${label}`, {
      ...base,
      failover: true,
    });
  }
  if (status === 429) return new GatewayError('rate_limited', `Upstream ${label} is rate limiting${said}`, base);
  if (status >= 500 || status === 424) {
    return new GatewayError('provider_unavailable', `Upstream ${label} failed with status ${status}`, base);
  }
  if (CONTEXT_TOO_LONG.test(said)) {
    return new GatewayError('context_length_exceeded', `The prompt is too long for ${label}${said}`, {
      ...base,
      failover: true,
    });
  }
  return new GatewayError('invalid_request', `Upstream ${label} rejected the request${said}`, base);
}

/** One response header's value (the first, when it repeats). */
export function header(headers: UpstreamResponse['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Bedrock's error table for a non-2xx answer (the AWS error type comes in a header or the body). */
export const bedrockErrorMapper =
  (label: string): UpstreamErrorMapper =>
  (status, headers, parsed) => {
    const body: Record<string, unknown> =
      parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
    const errorType =
      header(headers, 'x-amzn-errortype') ?? (typeof body['__type'] === 'string' ? body['__type'] : undefined);
    return mapBedrockError({
      errorType,
      status,
      message: body['message'] ?? body['Message'],
      label,
      retryAfter: retryAfterSeconds(headers),
    });
  };
