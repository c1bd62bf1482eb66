import { openAIQuirks } from '../openai-compatible/quirks.ts';
import { describeKind } from './descriptor.ts';
import { knownModel, TEXT_TOOLS, TEXT_TOOLS_REASONING } from './known-model.ts';

/**
 * Qwen on Alibaba Cloud Model Studio (DashScope), through its OpenAI-compatible mode. The default is the
 * international endpoint (Singapore); mainland China's is `https://dashscope.aliyuncs.com/compatible-mode/v1`.
 * Its keys start with `sk-` like OpenAI's: bring-your-own-key callers name it with `X-Modro-Provider: qwen`.
 * The price library does not price Alibaba's own endpoint, so the known models carry Model Studio's
 * international list prices (USD per million tokens, the lowest input tier).
 * @see https://www.alibabacloud.com/help/en/model-studio/compatibility-of-openai-with-dashscope
 * @see https://www.alibabacloud.com/help/en/model-studio/models
 */
export const qwen = describeKind({
  id: 'qwen',
  wire: 'openai-compatible',
  defaultBaseUrl: 'https://dashscope-intl.aliyuncs.com/compatible-mode/v1',
  env: { keys: ['DASHSCOPE_API_KEY'] },
  byok: { prefixes: [] },
  quirks: openAIQuirks({ unsupported: ['logit_bias', 'n'] }),
  models: [
    { ...knownModel('qwen-turbo', 1_000_000, 8_192, TEXT_TOOLS, 55), price: { input: 0.05, output: 0.2 } },
    { ...knownModel('qwen-plus', 131_072, 8_192, TEXT_TOOLS_REASONING, 72), price: { input: 0.4, output: 1.2 } },
    { ...knownModel('qwen-max', 32_768, 8_192, TEXT_TOOLS, 78), price: { input: 1.6, output: 6.4 } },
    { ...knownModel('qwen3-max', 262_144, 65_536, TEXT_TOOLS, 84), price: { input: 1.2, output: 6 } },
  ],
});
