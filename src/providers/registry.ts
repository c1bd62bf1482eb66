import { GatewayError } from '../core/errors.ts';
import { anthropicAdapter } from './anthropic/index.ts';
import { bedrockAdapter } from './bedrock/adapter.ts';
import { demoAdapter } from './demo/adapter.ts';
import { geminiAdapter } from './gemini/index.ts';
import type { Wire } from './kinds/descriptor.ts';
import { PROVIDER_DESCRIPTORS, type ProviderKind } from './kinds/index.ts';
import { mediaOnlyAdapter } from './media/media-only-adapter.ts';
import { openAICompatibleAdapter } from './openai-compatible/adapter.ts';
import type { ProviderAdapter, ProviderSpec } from './types.ts';

/**
 * Provider kind → adapter, through the kind's wire (its descriptor). Adapters are stateless singletons; the
 * spec carries everything per provider.
 */
const byWire: Record<Wire, ProviderAdapter> = {
  'openai-compatible': openAICompatibleAdapter,
  anthropic: anthropicAdapter,
  gemini: geminiAdapter,
  bedrock: bedrockAdapter,
  demo: demoAdapter,
  replicate: mediaOnlyAdapter,
};

const adapters = new Map<ProviderKind, ProviderAdapter>(PROVIDER_DESCRIPTORS.map((d) => [d.id, byWire[d.wire]]));

export function adapterFor(provider: ProviderSpec): ProviderAdapter {
  const adapter = adapters.get(provider.kind);
  if (!adapter) throw new GatewayError('internal_error', `No adapter for provider kind ${provider.kind}`);
  return adapter;
}
