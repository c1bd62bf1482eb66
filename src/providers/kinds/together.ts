import { openAIQuirks } from '../openai-compatible/quirks.ts';
import { describeKind } from './descriptor.ts';
import { knownModel, TEXT_TOOLS_NO_SCHEMA } from './known-model.ts';

/** @see https://docs.together.ai/reference/chat-completions-1 */
export const together = describeKind({
  id: 'together',
  wire: 'openai-compatible',
  defaultBaseUrl: 'https://api.together.xyz/v1',
  env: { keys: ['TOGETHER_API_KEY'] },
  // Its keys have no recognisable prefix: callers name it with X-Modro-Provider.
  byok: { prefixes: [] },
  priceProvider: 'together',
  quirks: openAIQuirks(),
  models: [
    knownModel('meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo', 131_072, 8_192, TEXT_TOOLS_NO_SCHEMA, 40),
    knownModel('meta-llama/Llama-3.3-70B-Instruct-Turbo', 131_072, 8_192, TEXT_TOOLS_NO_SCHEMA, 62),
  ],
});
