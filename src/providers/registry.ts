import { GatewayError } from '../core/errors.ts';
import { anthropicAdapter } from './anthropic/index.ts';
import { bedrockAdapter } from './bedrock/adapter.ts';
import { demoAdapter } from './demo/adapter.ts';
import { geminiAdapter } from './gemini/index.ts';
import { openAICompatibleAdapter } from './openai-compatible/adapter.ts';
import { OPENAI_COMPATIBLE_KINDS, type ProviderAdapter, type ProviderKind, type ProviderSpec } from './types.ts';

/** Provider kind → adapter. Adapters are stateless singletons; the spec carries everything per provider. */
const adapters = new Map<ProviderKind, ProviderAdapter>();
for (const kind of OPENAI_COMPATIBLE_KINDS) adapters.set(kind, openAICompatibleAdapter);
adapters.set('demo', demoAdapter);
adapters.set('gemini', geminiAdapter);
adapters.set('bedrock', bedrockAdapter);
adapters.set('anthropic', anthropicAdapter);

export function registerAdapter(kind: ProviderKind, adapter: ProviderAdapter): void {
  adapters.set(kind, adapter);
}

export function adapterFor(provider: ProviderSpec): ProviderAdapter {
  const adapter = adapters.get(provider.kind);
  if (!adapter) throw new GatewayError('internal_error', `No adapter for provider kind ${provider.kind}`);
  return adapter;
}
