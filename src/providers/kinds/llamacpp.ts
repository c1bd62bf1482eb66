import { openAIQuirks } from '../openai-compatible/quirks.ts';
import { describeKind } from './descriptor.ts';

/** @see https://github.com/ggml-org/llama.cpp/tree/master/tools/server */
export const llamacpp = describeKind({
  id: 'llamacpp',
  wire: 'openai-compatible',
  defaultBaseUrl: 'http://127.0.0.1:8080/v1',
  local: true,
  quirks: openAIQuirks({ unsupported: ['n'] }),
  models: [],
});
