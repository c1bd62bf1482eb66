import { GatewayError } from '../../core/errors.ts';
import type { ProviderAdapter } from '../types.ts';

/**
 * The chat adapter of a wire that serves media only (Replicate): its models are never chat candidates (their
 * catalog mode keeps them out of tiers and the chat endpoints), so these calls are a bug if they ever happen.
 */
function refuse(): never {
  throw new GatewayError(
    'invalid_request',
    'This provider serves media models only: run them with POST /v1/executions',
    {
      param: 'model',
    },
  );
}

export const mediaOnlyAdapter: ProviderAdapter = {
  wire: 'replicate',
  complete: async () => refuse(),
  stream: async () => refuse(),
};
