import { openAIQuirks } from '../openai-compatible/quirks.ts';
import { describeKind } from './descriptor.ts';

/** Serves the models its configuration names. @see https://openrouter.ai/docs/api-reference/chat-completion */
export const openrouter = describeKind({
  id: 'openrouter',
  wire: 'openai-compatible',
  defaultBaseUrl: 'https://openrouter.ai/api/v1',
  byok: { prefixes: ['sk-or-'] },
  priceProvider: 'openrouter',
  quirks: openAIQuirks(),
  models: [],
});
