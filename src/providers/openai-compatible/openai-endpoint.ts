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
  if (quirks.url === 'azure-deployment') {
    const apiVersion = target.provider.options['apiVersion'] ?? '2024-10-21';
    const deployment = encodeURIComponent(target.model.upstreamName);
    return {
      url: `${base}/openai/deployments/${deployment}/${call}?api-version=${encodeURIComponent(apiVersion)}`,
      headers,
    };
  }
  return { url: `${base}/${call}`, headers };
}
