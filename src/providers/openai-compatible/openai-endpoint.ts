import { GatewayError } from '../../core/errors.ts';
import type { ProviderDescriptor } from '../kinds/descriptor.ts';
import { descriptorOf } from '../kinds/index.ts';
import type { UpstreamTarget } from '../types.ts';

/**
 * Where a call of the OpenAI-compatible family goes: the kind's base URL (or Azure's deployment path) and
 * its auth header, from the kind's quirks.
 */

export type FamilyMember = Extract<ProviderDescriptor, { wire: 'openai-compatible' }>;

export function familyMember(target: UpstreamTarget): FamilyMember {
  const descriptor = descriptorOf(target.provider.kind);
  if (descriptor.wire !== 'openai-compatible')
    throw new GatewayError('internal_error', `Provider kind ${target.provider.kind} is not OpenAI-compatible`);
  return descriptor;
}

/** The family's calls: chat, embeddings, responses, and the media APIs (providers/media/). */
export type OpenAICall =
  | 'chat/completions'
  | 'embeddings'
  | 'responses'
  | 'images/generations'
  | 'images/edits'
  | 'audio/speech'
  | 'audio/transcriptions'
  | `videos${string}`;

/** The URL and headers of one of the family's calls (`chat/completions`, `embeddings`) for this target. */
export function endpoint(
  target: UpstreamTarget,
  kind: FamilyMember,
  call: OpenAICall = 'chat/completions',
): { url: string; headers: Record<string, string> } {
  const { quirks } = kind;
  const base = target.provider.baseUrl || kind.defaultBaseUrl;
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (quirks.auth === 'api-key') headers['api-key'] = target.key.secret;
  else if (target.key.secret !== '') headers['authorization'] = `Bearer ${target.key.secret}`;
  const extra = target.provider.options['headers'];
  if (extra) Object.assign(headers, JSON.parse(extra) as Record<string, string>);
  if (quirks.url === 'azure-deployment')
    return { url: azureUrl(base, target.provider.options, target.model, call), headers };
  return { url: `${base}/${call}`, headers };
}

/** Azure's api-version of chat, embeddings and responses: the latest GA one (options.apiVersion overrides). */
export const AZURE_API_VERSION = '2024-10-21';
/**
 * Azure's api-version of the deployment media calls (options.mediaApiVersion overrides): the first that serves all
 * four (images generations and edits, gpt-image-1, audio speech and transcriptions); the GA 2024-10-21 has neither
 * speech nor edits nor gpt-image-1.
 * @see https://learn.microsoft.com/azure/ai-foundry/openai/how-to/dall-e
 */
export const AZURE_MEDIA_API_VERSION = '2025-04-01-preview';
/** Azure's api-version of the v1 videos API (Sora 2; options.videoApiVersion overrides). */
export const AZURE_VIDEO_API_VERSION = 'preview';

/**
 * An Azure OpenAI URL: a deployment's call (`/openai/deployments/{upstreamName}/{call}?api-version=`), except
 * videos, which Azure serves only on its v1 API (`/openai/v1/videos…`, the deployment named as the body's `model`).
 * @see https://learn.microsoft.com/azure/ai-foundry/openai/concepts/video-generation
 */
function azureUrl(
  base: string,
  options: Record<string, string>,
  model: UpstreamTarget['model'],
  call: OpenAICall,
): string {
  const version = (v: string) => `api-version=${encodeURIComponent(v)}`;
  if (call.startsWith('videos')) {
    return `${base}/openai/v1/${call}?${version(options['videoApiVersion'] ?? AZURE_VIDEO_API_VERSION)}`;
  }
  const media = call.startsWith('images/') || call.startsWith('audio/');
  const apiVersion = media
    ? (options['mediaApiVersion'] ?? AZURE_MEDIA_API_VERSION)
    : (options['apiVersion'] ?? AZURE_API_VERSION);
  return `${base}/openai/deployments/${encodeURIComponent(model.upstreamName)}/${call}?${version(apiVersion)}`;
}
