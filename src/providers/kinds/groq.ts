import { openAIQuirks } from '../openai-compatible/quirks.ts';
import { describeKind } from './descriptor.ts';
import { knownModel, TEXT_TOOLS_NO_SCHEMA, TEXT_TOOLS_REASONING } from './known-model.ts';

/**
 * Groq also reports usage under `x_groq.usage` (read by openai-compatible/parse-openai-response.ts).
 * @see https://console.groq.com/docs/openai ("will result in a 400 error if supplied")
 */
export const groq = describeKind({
  id: 'groq',
  wire: 'openai-compatible',
  defaultBaseUrl: 'https://api.groq.com/openai/v1',
  env: { keys: ['GROQ_API_KEY'] },
  byok: { prefixes: ['gsk_'] },
  priceProvider: 'groq',
  quirks: openAIQuirks({ unsupported: ['logprobs', 'logit_bias', 'n'], dropsMessageName: true }),
  models: [
    knownModel('llama-3.1-8b-instant', 131_072, 131_072, TEXT_TOOLS_NO_SCHEMA, 40),
    knownModel('openai/gpt-oss-20b', 131_072, 65_536, TEXT_TOOLS_REASONING, 60),
    knownModel('openai/gpt-oss-120b', 131_072, 65_536, TEXT_TOOLS_REASONING, 71),
    knownModel('llama-3.3-70b-versatile', 131_072, 32_768, TEXT_TOOLS_NO_SCHEMA, 62),
  ],
});
