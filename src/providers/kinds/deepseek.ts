import { openAIQuirks } from '../openai-compatible/quirks.ts';
import { describeKind } from './descriptor.ts';
import { knownModel, TEXT_TOOLS, TEXT_TOOLS_REASONING } from './known-model.ts';

/** @see https://api-docs.deepseek.com/api/create-chat-completion */
export const deepseek = describeKind({
  id: 'deepseek',
  wire: 'openai-compatible',
  defaultBaseUrl: 'https://api.deepseek.com/v1',
  env: { keys: ['DEEPSEEK_API_KEY'] },
  // Its `sk-` keys look like OpenAI's: callers name it with X-Modro-Provider.
  byok: { prefixes: [] },
  priceProvider: 'deepseek',
  quirks: openAIQuirks({ unsupported: ['n', 'logit_bias'] }),
  models: [
    knownModel('deepseek-chat', 128_000, 8_192, TEXT_TOOLS, 73),
    knownModel('deepseek-reasoner', 128_000, 64_000, { ...TEXT_TOOLS_REASONING, tools: false }, 80),
    // The names the seeds and most comparisons use; DeepSeek's API serves them as deepseek-chat / -reasoner.
    { ...knownModel('deepseek-v3', 128_000, 8_192, TEXT_TOOLS, 73), upstreamName: 'deepseek-chat' },
    {
      ...knownModel('deepseek-r1', 128_000, 64_000, { ...TEXT_TOOLS_REASONING, tools: false }, 80),
      upstreamName: 'deepseek-reasoner',
    },
  ],
});
