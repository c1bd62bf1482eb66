import { openAIQuirks } from '../openai-compatible/quirks.ts';
import { describeKind } from './descriptor.ts';

/** Any other server that speaks OpenAI's Chat Completions as OpenAI does: `baseUrl` and `models` are required. */
export const openAICompatible = describeKind({
  id: 'openai-compatible',
  wire: 'openai-compatible',
  defaultBaseUrl: '',
  quirks: openAIQuirks(),
  models: [],
});
