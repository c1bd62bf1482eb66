import { descriptorOf } from '../kinds/index.ts';
import { getListingPage } from '../list-models.ts';
import type { ListedModel, ListingContext, ProviderKey, ProviderSpec } from '../types.ts';

/**
 * The OpenAI-compatible family's model list: `GET {baseUrl}/models` → `{ object: "list", data: [{ id, … }] }`,
 * one page (OpenAI's endpoint does not paginate; Groq, Mistral, DeepSeek, xAI, Together, OpenRouter, Ollama,
 * vLLM and llama.cpp answer the same shape). Models that are not text generation or embeddings by their name
 * (speech, transcription, images, moderation, realtime) are left out: nothing here can serve them.
 * Azure lists deployments elsewhere and by the operator's names, so it is not listed.
 * @see https://platform.openai.com/docs/api-reference/models/list
 */
const NOT_CHAT =
  /(^|[-/])(tts|whisper|dall-e|gpt-image|sora|realtime|transcribe|audio|moderation|davinci|babbage)([-/.]|$)/i;
const EMBEDDING = /embed/i;

export async function listOpenAIModels(
  provider: ProviderSpec,
  key: ProviderKey,
  ctx: ListingContext,
): Promise<ListedModel[]> {
  const kind = descriptorOf(provider.kind);
  if (kind.wire !== 'openai-compatible' || kind.quirks.url === 'azure-deployment') return [];
  const headers: Record<string, string> = {};
  if (kind.quirks.auth === 'api-key') headers['api-key'] = key.secret;
  else if (key.secret !== '') headers['authorization'] = `Bearer ${key.secret}`;
  const extra = provider.options['headers'];
  if (extra) Object.assign(headers, JSON.parse(extra) as Record<string, string>);
  const base = provider.baseUrl || kind.defaultBaseUrl;
  const page = await getListingPage(provider, `${base}/models`, headers, ctx);
  const data = Array.isArray(page['data']) ? (page['data'] as unknown[]) : [];
  const out: ListedModel[] = [];
  for (const entry of data) {
    const id = (entry as { id?: unknown } | null)?.id;
    if (typeof id !== 'string' || id === '' || NOT_CHAT.test(id)) continue;
    out.push(EMBEDDING.test(id) ? { name: id, mode: 'embedding' } : { name: id });
  }
  return out;
}
