import { OPENAI_REASONING_MODELS, openAIQuirks } from '../openai-compatible/quirks.ts';
import { describeKind } from './descriptor.ts';

/**
 * Azure OpenAI: a resource's own base URL and its deployments (`upstreamName` is the deployment name). No
 * bring-your-own-key: a key belongs to one resource, which a caller's key alone does not name.
 * @see https://learn.microsoft.com/azure/ai-services/openai/reference
 */
export const azure = describeKind({
  id: 'azure',
  wire: 'openai-compatible',
  defaultBaseUrl: '',
  priceProvider: 'azure',
  quirks: openAIQuirks({ auth: 'api-key', url: 'azure-deployment', reasoningModelPattern: OPENAI_REASONING_MODELS }),
  models: [],
});
