import type { ErrorType } from '@anthropic-ai/sdk/resources/shared';
import type { ErrorCode, GatewayError } from '../../core/errors.ts';
import type { AnthropicSSEFrame } from './render-anthropic-stream.ts';

/**
 * GatewayError → Anthropic's error envelope, `{"type": "error", "error": {"type", "message"}, "request_id"}`,
 * with the gateway's normalized HTTP status (the same as on the OpenAI endpoint) and Anthropic's vocabulary
 * for the type. Headers: `retry-after` when known, `request-id` (which the SDKs expose as `requestID`), and
 * `x-should-retry`, which the official Anthropic SDKs obey before their own status rules, so they retry
 * exactly what the gateway says is retryable.
 * Mid-stream, the same body is an SSE `error` event.
 * @see https://platform.claude.com/docs/en/api/errors
 */

const TYPE_OF_CODE: Record<ErrorCode, ErrorType> = {
  invalid_request: 'invalid_request_error',
  authentication_failed: 'authentication_error',
  permission_denied: 'permission_error',
  not_found: 'not_found_error',
  idempotency_conflict: 'invalid_request_error',
  context_length_exceeded: 'invalid_request_error',
  content_filtered: 'invalid_request_error',
  quota_exceeded: 'billing_error',
  rate_limited: 'rate_limit_error',
  provider_unavailable: 'overloaded_error',
  timeout: 'timeout_error',
  internal_error: 'api_error',
};

export interface AnthropicErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: { type: 'error'; error: { type: ErrorType; message: string }; request_id: string | null };
}

export function anthropicErrorBody(err: GatewayError, requestId?: string): AnthropicErrorResponse['body'] {
  return {
    type: 'error',
    error: { type: TYPE_OF_CODE[err.code], message: err.message },
    request_id: requestId ?? null,
  };
}

export function renderAnthropicError(err: GatewayError, requestId?: string): AnthropicErrorResponse {
  const headers: Record<string, string> = { 'x-should-retry': String(err.retryable) };
  if (err.retryAfter !== undefined) headers['retry-after'] = String(Math.ceil(err.retryAfter));
  if (requestId !== undefined) headers['request-id'] = requestId;
  return { status: err.status, headers, body: anthropicErrorBody(err, requestId) };
}

/** The SSE `error` event for a failure after the stream started. */
export function renderAnthropicStreamError(err: GatewayError, requestId?: string): AnthropicSSEFrame {
  return { event: 'error', data: anthropicErrorBody(err, requestId) };
}
