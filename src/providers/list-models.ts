import { GatewayError } from '../core/errors.ts';
import { parseJSONObject, upstreamFetchWhole } from './http.ts';
import type { ListingContext, ProviderSpec } from './types.ts';

/**
 * One GET of a provider's model-listing endpoint, answered with a JSON object. A rejected key is
 * `authentication_failed` (with `keyRejected`), anything else non-2xx `provider_unavailable`; the error names
 * the provider and the upstream status only (a listing error body may echo the key).
 */
export async function getListingPage(
  provider: ProviderSpec,
  url: string,
  headers: Record<string, string>,
  ctx: ListingContext,
): Promise<Record<string, unknown>> {
  const res = await upstreamFetchWhole({
    pool: ctx.pool,
    url,
    method: 'GET',
    headers: { accept: 'application/json', ...headers },
    timeouts: provider.timeouts,
    limits: provider.limits,
    signal: ctx.signal,
    label: provider.id,
  });
  if (res.status === 401 || res.status === 403) {
    throw new GatewayError('authentication_failed', `Upstream ${provider.id} rejected the key listing its models`, {
      upstreamStatus: res.status,
      keyRejected: true,
    });
  }
  if (res.status < 200 || res.status >= 300) {
    throw new GatewayError('provider_unavailable', `Upstream ${provider.id} could not list its models`, {
      upstreamStatus: res.status,
    });
  }
  return parseJSONObject(res.bytes, provider.id).json;
}

/** At most this many pages are followed (a listing that never ends is cut, not looped on). */
export const MAX_LISTING_PAGES = 20;
