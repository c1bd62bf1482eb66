import { openAIQuirks } from '../openai-compatible/quirks.ts';
import { describeKind } from './descriptor.ts';
import { knownModel, TEXT_TOOLS_NO_SCHEMA, TEXT_TOOLS_REASONING } from './known-model.ts';

/** @see https://inference-docs.cerebras.ai/resources/openai */
export const cerebras = describeKind({
  id: 'cerebras',
  wire: 'openai-compatible',
  defaultBaseUrl: 'https://api.cerebras.ai/v1',
  env: { keys: ['CEREBRAS_API_KEY'] },
  byok: { prefixes: ['csk-'] },
  priceProvider: 'cerebras',
  quirks: openAIQuirks({
    dropped: ['frequency_penalty', 'presence_penalty', 'parallel_tool_calls', 'service_tier'],
    unsupported: ['logit_bias', 'n', 'tool_choice_named'],
  }),
  models: [
    knownModel('llama3.1-8b', 32_768, 8_192, TEXT_TOOLS_NO_SCHEMA, 40),
    knownModel('gpt-oss-120b', 131_072, 40_000, TEXT_TOOLS_REASONING, 71),
  ],
});
