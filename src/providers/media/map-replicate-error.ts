import { GatewayError } from '../../core/errors.ts';
import { safeUpstreamMessage } from '../../core/redact.ts';
import type { ErrorTableInput } from '../http.ts';

/**
 * Replicate's errors → the 12 codes. Its API answers failures as problem details
 * (`{"title", "detail", "status"}`, RFC 7807); a prediction that fails after it was accepted carries its
 * `error` string instead (replicate.ts maps that with `predictionFailed`).
 * @see https://replicate.com/docs/topics/predictions/prediction-errors
 */

const NSFW = /nsfw|sensitive|safety|content (policy|moderation)|flagged/i;

export function mapReplicateError({ status, body, retryAfter, label, secret }: ErrorTableInput): GatewayError {
  const problem = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const said = safeUpstreamMessage(problem['detail'] ?? problem['title'], secret);
  const suffix = said ? `: ${said}` : '';
  const options = { upstreamStatus: status };
  if (status === 401) {
    return new GatewayError('authentication_failed', `Upstream ${label} rejected the API token`, {
      ...options,
      keyRejected: true,
      failover: true,
    });
  }
  if (status === 403) {
    return new GatewayError('permission_denied', `Upstream ${label} denied access${suffix}`, {
      ...options,
      keyRejected: true,
      failover: true,
    });
  }
  if (status === 402) {
    return new GatewayError('quota_exceeded', `Upstream ${label} account is out of credit${suffix}`, {
      ...options,
      keyRejected: true,
      failover: true,
    });
  }
  if (status === 429) {
    return new GatewayError('rate_limited', `Upstream ${label} is rate limiting${suffix}`, { ...options, retryAfter });
  }
  if (status === 404) {
    return new GatewayError('not_found', `Upstream ${label} does not serve this model${suffix}`, {
      ...options,
      failover: true,
    });
  }
  if (status === 400 || status === 413 || status === 422) {
    if (NSFW.test(said ?? ''))
      return new GatewayError('content_filtered', `Upstream ${label} refused the content${suffix}`, options);
    return new GatewayError('invalid_request', `Upstream ${label} rejected the input${suffix}`, options);
  }
  if (status === 408 || status === 504) return new GatewayError('timeout', `Upstream ${label} timed out`, options);
  if (status >= 500 || status === 409) {
    return new GatewayError('provider_unavailable', `Upstream ${label} failed with status ${status}`, options);
  }
  return new GatewayError('invalid_request', `Upstream ${label} rejected the request${suffix}`, options);
}

/** A prediction that ended `failed`: refused content is final; anything else may succeed on a retry. */
export function predictionFailed(label: string, error: unknown, secret: string): GatewayError {
  const said = safeUpstreamMessage(typeof error === 'string' ? error : JSON.stringify(error ?? ''), secret);
  const suffix = said ? `: ${said}` : '';
  if (NSFW.test(said ?? ''))
    return new GatewayError('content_filtered', `Upstream ${label} refused the content${suffix}`);
  return new GatewayError('provider_unavailable', `Upstream ${label} prediction failed${suffix}`);
}
