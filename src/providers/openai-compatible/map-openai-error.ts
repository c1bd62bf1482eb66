import { GatewayError } from '../../core/errors.ts';
import { safeUpstreamMessage } from '../../core/redact.ts';

/**
 * OpenAI-family upstream errors → the 12 codes. One table for the family: the members share OpenAI's
 * envelope `{"error":{"message","type","code","param"}}` and status semantics.
 * `failover` says whether another candidate could serve the same request.
 * @see https://platform.openai.com/docs/guides/error-codes
 */

const CONTEXT_TOO_LONG =
  /context[_ ]length|maximum context|context window|too many (input )?tokens|reduce the length|prompt is too long|exceeds the (model's )?(maximum|context)/i;
const CONTENT_FILTER = /content[_ ]?(filter|policy|management)|responsible ?ai|safety system/i;

export interface UpstreamErrorInput {
  status: number;
  /** Parsed body, if it was JSON. */
  body: unknown;
  retryAfter?: number;
  label: string;
  /** The key used, scrubbed from any message that might echo it. */
  secret?: string | undefined;
}

function errorObject(body: unknown): { message?: unknown; type?: unknown; code?: unknown; param?: unknown } {
  if (body && typeof body === 'object') {
    const error = (body as Record<string, unknown>)['error'];
    if (error && typeof error === 'object') return error as Record<string, unknown>;
    if (typeof error === 'string') return { message: error };
    return body as Record<string, unknown>;
  }
  return {};
}

export function mapOpenAIError({ status, body, retryAfter, label, secret }: UpstreamErrorInput): GatewayError {
  const error = errorObject(body);
  const code = typeof error.code === 'string' ? error.code : '';
  const type = typeof error.type === 'string' ? error.type : '';
  const upstream = safeUpstreamMessage(error.message, secret);
  const said = upstream ? `: ${upstream}` : '';
  const options = { upstreamStatus: status };

  if (status === 401) {
    return new GatewayError('authentication_failed', `Upstream ${label} rejected the API key`, {
      ...options,
      keyRejected: true,
      failover: true,
    });
  }
  if (status === 403) {
    return new GatewayError('permission_denied', `Upstream ${label} denied access${said}`, {
      ...options,
      keyRejected: true,
      failover: true,
    });
  }
  if (status === 429) {
    if (code === 'insufficient_quota' || type === 'insufficient_quota') {
      return new GatewayError('quota_exceeded', `Upstream ${label} quota is exhausted`, {
        ...options,
        keyRejected: true,
        failover: true,
      });
    }
    return new GatewayError('rate_limited', `Upstream ${label} is rate limiting${said}`, { ...options, retryAfter });
  }
  if (status === 400 || status === 413 || status === 422) {
    const text = `${code} ${type} ${typeof error.message === 'string' ? error.message : ''}`;
    if (code === 'context_length_exceeded' || code === 'string_above_max_length' || CONTEXT_TOO_LONG.test(text)) {
      // A candidate with a larger window may still serve it.
      return new GatewayError('context_length_exceeded', `The prompt is too long for ${label}${said}`, {
        ...options,
        failover: true,
      });
    }
    if (code === 'content_filter' || code === 'content_policy_violation' || CONTENT_FILTER.test(text)) {
      return new GatewayError('content_filtered', `Upstream ${label} refused the content${said}`, options);
    }
    if (status === 413) {
      return new GatewayError('context_length_exceeded', `The request is too large for ${label}`, {
        ...options,
        failover: true,
      });
    }
    return new GatewayError('invalid_request', `Upstream ${label} rejected the request${said}`, options);
  }
  if (status === 404) {
    return new GatewayError('not_found', `Upstream ${label} does not serve this model${said}`, {
      ...options,
      failover: true,
    });
  }
  if (status === 408 || status === 504 || status === 524) {
    return new GatewayError('timeout', `Upstream ${label} timed out`, options);
  }
  if (status >= 500 || status === 409) {
    return new GatewayError('provider_unavailable', `Upstream ${label} failed with status ${status}`, options);
  }
  return new GatewayError('invalid_request', `Upstream ${label} rejected the request${said}`, options);
}
