import { openAIQuirks } from '../openai-compatible/quirks.ts';
import { describeKind } from './descriptor.ts';
import { knownModel, REASONING } from './known-model.ts';

/** @see https://docs.x.ai/docs/api-reference#chat-completions */
export const xai = describeKind({
  id: 'xai',
  wire: 'openai-compatible',
  defaultBaseUrl: 'https://api.x.ai/v1',
  env: { keys: ['XAI_API_KEY'] },
  byok: { prefixes: ['xai-'] },
  priceProvider: 'x-ai',
  quirks: openAIQuirks({ unsupported: ['logit_bias'] }),
  models: [
    knownModel('grok-4-fast', 2_000_000, 30_000, REASONING, 75),
    knownModel('grok-4', 256_000, 64_000, REASONING, 87),
  ],
});
