import { openAIQuirks } from '../openai-compatible/quirks.ts';
import { describeKind } from './descriptor.ts';
import { embeddingModel, FULL, knownModel, TEXT_TOOLS } from './known-model.ts';

/** @see https://docs.mistral.ai/api/#tag/chat/operation/chat_completion_v1_chat_completions_post */
export const mistral = describeKind({
  id: 'mistral',
  wire: 'openai-compatible',
  defaultBaseUrl: 'https://api.mistral.ai/v1',
  env: { keys: ['MISTRAL_API_KEY'] },
  // Its keys have no recognisable prefix: callers name it with X-Modro-Provider.
  byok: { prefixes: [] },
  priceProvider: 'mistral',
  quirks: openAIQuirks({
    dropped: ['user', 'service_tier', 'store', 'metadata'],
    unsupported: ['logprobs', 'logit_bias'],
    renamed: { seed: 'random_seed' },
    // Mistral reports usage on the last chunk by itself and rejects unknown fields.
    streamOptions: false,
    // Its embeddings take `output_dimension` (codestral-embed) and reject unknown fields.
    embeddingsRenamed: { dimensions: 'output_dimension' },
  }),
  models: [
    knownModel('mistral-small-latest', 128_000, 32_768, FULL, 58),
    knownModel('mistral-medium-latest', 128_000, 32_768, FULL, 70),
    knownModel('mistral-large-latest', 128_000, 32_768, TEXT_TOOLS, 74),
    embeddingModel('mistral-embed', 8_192),
  ],
});
