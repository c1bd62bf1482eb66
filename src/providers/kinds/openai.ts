import { OPENAI_REASONING_MODELS, openAIQuirks } from '../openai-compatible/quirks.ts';
import { describeKind } from './descriptor.ts';
import { embeddingModel, FULL, knownModel, REASONING } from './known-model.ts';

/** @see https://platform.openai.com/docs/api-reference/chat/create */
export const openai = describeKind({
  id: 'openai',
  wire: 'openai-compatible',
  defaultBaseUrl: 'https://api.openai.com/v1',
  env: { keys: ['OPENAI_API_KEY'] },
  // `sk-proj-`, `sk-svcacct-`, ... all start with `sk-`.
  byok: { prefixes: ['sk-'] },
  priceProvider: 'openai',
  quirks: openAIQuirks({ reasoningModelPattern: OPENAI_REASONING_MODELS, responsesApi: true }),
  models: [
    knownModel('gpt-5-nano', 400_000, 128_000, REASONING, 58),
    knownModel('gpt-4.1-nano', 1_047_576, 32_768, FULL, 50),
    knownModel('gpt-4o-mini', 128_000, 16_384, FULL, 55),
    knownModel('gpt-4.1-mini', 1_047_576, 32_768, FULL, 68),
    knownModel('gpt-5-mini', 400_000, 128_000, REASONING, 76),
    knownModel('gpt-4.1', 1_047_576, 32_768, FULL, 78),
    knownModel('gpt-5', 400_000, 128_000, REASONING, 90),
    embeddingModel('text-embedding-3-small', 8_192),
    embeddingModel('text-embedding-3-large', 8_192),
    embeddingModel('text-embedding-ada-002', 8_192),
  ],
});
