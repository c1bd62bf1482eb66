import { getListingPage, MAX_LISTING_PAGES } from '../list-models.ts';
import type { ListedModel, ListingContext, ProviderKey, ProviderSpec } from '../types.ts';
import { anthropicHeaders, anthropicUrl } from './anthropic-endpoint.ts';

/**
 * Anthropic's model list: `GET /v1/models?limit=1000` → `{ data: [{ type: "model", id, display_name,
 * created_at }], has_more, first_id, last_id }`, following `after_id=<last_id>` while `has_more`.
 * @see https://docs.anthropic.com/en/api/models-list
 */
export async function listAnthropicModels(
  provider: ProviderSpec,
  key: ProviderKey,
  ctx: ListingContext,
): Promise<ListedModel[]> {
  // The endpoint helpers take a call's target; a listing has no model.
  const target = { provider, key, model: undefined as never };
  const base = anthropicUrl(target, '/messages').replace(/\/messages$/, '/models');
  const headers = anthropicHeaders(target);
  delete headers['content-type'];
  const out: ListedModel[] = [];
  let after: string | undefined;
  for (let i = 0; i < MAX_LISTING_PAGES; i++) {
    const url = `${base}?limit=1000${after ? `&after_id=${encodeURIComponent(after)}` : ''}`;
    const page = await getListingPage(provider, url, headers, ctx);
    const data = Array.isArray(page['data']) ? (page['data'] as unknown[]) : [];
    for (const entry of data) {
      const id = (entry as { id?: unknown } | null)?.id;
      if (typeof id === 'string' && id !== '') out.push({ name: id });
    }
    if (page['has_more'] !== true || typeof page['last_id'] !== 'string') break;
    after = page['last_id'];
  }
  return out;
}
