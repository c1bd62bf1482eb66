import { openAIQuirks } from '../openai-compatible/quirks.ts';
import { describeKind } from './descriptor.ts';

/** @see https://github.com/ollama/ollama/blob/main/docs/openai.md */
export const ollama = describeKind({
  id: 'ollama',
  wire: 'openai-compatible',
  defaultBaseUrl: 'http://127.0.0.1:11434/v1',
  local: true,
  // Older servers ignore `encoding_format` on /v1/embeddings and answer floats: ask floats, encode here.
  quirks: openAIQuirks({ unsupported: ['logit_bias', 'n'], embeddingsBase64: false }),
  models: [],
});
