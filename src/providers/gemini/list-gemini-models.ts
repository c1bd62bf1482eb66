import { descriptorOf } from '../kinds/index.ts';
import { getListingPage, MAX_LISTING_PAGES } from '../list-models.ts';
import type { ListedModel, ListingContext, ProviderKey, ProviderSpec } from '../types.ts';
import { GEMINI_DEFAULT_API_VERSION } from './gemini-endpoint.ts';

/**
 * The Gemini API's `models.list`: `GET {root}/models?pageSize=1000` → `{ models: [{ name: "models/…",
 * supportedGenerationMethods, … }], nextPageToken }`, following `pageToken`. A model that generates content is
 * a chat model; one that only embeds is an embedding model; others (AQA, Imagen, Veo) are left out. The key
 * goes in `x-goog-api-key`, never in the URL.
 * @see https://ai.google.dev/api/models#method:-models.list
 */
export async function listGeminiModels(
  provider: ProviderSpec,
  key: ProviderKey,
  ctx: ListingContext,
): Promise<ListedModel[]> {
  const base = (provider.baseUrl || descriptorOf(provider.kind).defaultBaseUrl).replace(/\/+$/, '');
  const root = /\/v\d+(alpha|beta)?\d*$/.test(base)
    ? base
    : `${base}/${provider.options['apiVersion'] ?? GEMINI_DEFAULT_API_VERSION}`;
  const headers: Record<string, string> = { 'x-goog-api-key': key.secret };
  const extra = provider.options['headers'];
  if (extra) Object.assign(headers, JSON.parse(extra) as Record<string, string>);
  const out: ListedModel[] = [];
  let token: string | undefined;
  for (let i = 0; i < MAX_LISTING_PAGES; i++) {
    const url = `${root}/models?pageSize=1000${token ? `&pageToken=${encodeURIComponent(token)}` : ''}`;
    const page = await getListingPage(provider, url, headers, ctx);
    const models = Array.isArray(page['models']) ? (page['models'] as unknown[]) : [];
    for (const entry of models) {
      const model = entry as { name?: unknown; supportedGenerationMethods?: unknown } | null;
      if (typeof model?.name !== 'string') continue;
      const name = model.name.replace(/^models\//, '');
      const methods = Array.isArray(model.supportedGenerationMethods) ? model.supportedGenerationMethods : [];
      if (methods.includes('generateContent')) out.push({ name });
      else if (methods.includes('embedContent') || methods.includes('batchEmbedContents'))
        out.push({ name, mode: 'embedding' });
    }
    if (typeof page['nextPageToken'] !== 'string' || page['nextPageToken'] === '') break;
    token = page['nextPageToken'];
  }
  return out;
}
