import { openAIQuirks } from '../openai-compatible/quirks.ts';
import { describeKind } from './descriptor.ts';

/** @see https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html */
export const vllm = describeKind({
  id: 'vllm',
  wire: 'openai-compatible',
  defaultBaseUrl: 'http://127.0.0.1:8000/v1',
  local: true,
  quirks: openAIQuirks(),
  models: [],
});
