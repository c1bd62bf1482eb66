import { describeKind } from './descriptor.ts';
import { FULL, knownModel, REASONING } from './known-model.ts';

/**
 * The base URL is the API origin without `/v1`, the official SDKs' convention (anthropic/anthropic-endpoint.ts).
 * @see https://platform.claude.com/docs/en/api/overview
 */
export const anthropic = describeKind({
  id: 'anthropic',
  wire: 'anthropic',
  defaultBaseUrl: 'https://api.anthropic.com',
  env: { keys: ['ANTHROPIC_API_KEY'] },
  byok: { prefixes: ['sk-ant-'] },
  priceProvider: 'anthropic',
  models: [
    knownModel('claude-3-5-haiku-latest', 200_000, 8_192, FULL, 56),
    knownModel('claude-haiku-4-5', 200_000, 64_000, REASONING, 72),
    knownModel('claude-sonnet-4-5', 200_000, 64_000, REASONING, 91),
    knownModel('claude-opus-4-1', 200_000, 32_000, REASONING, 92),
    knownModel('claude-opus-4-7', 200_000, 64_000, REASONING, 95),
  ],
});
