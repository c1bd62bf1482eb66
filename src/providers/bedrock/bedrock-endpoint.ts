import { GatewayError } from '../../core/errors.ts';
import { bedrock } from '../kinds/bedrock.ts';
import type { ProviderSpec } from '../types.ts';

/**
 * Where Converse lives: `POST {base}/model/{modelId}/converse` and `/converse-stream`, the model id (or
 * inference profile id or ARN) URL-encoded as one path segment.
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
 * @see https://docs.aws.amazon.com/general/latest/gr/bedrock.html
 */

/** The descriptor's default endpoint for a region. */
export function defaultBedrockBaseUrl(region: string): string {
  return bedrock.defaultBaseUrl.replace('{region}', region);
}

const REGION_IN_HOST = /^bedrock-runtime(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/;

/** The signing region: `options.region`, else the one named by a standard endpoint host. */
export function bedrockRegion(provider: ProviderSpec): string {
  const configured = provider.options['region'];
  if (configured) return configured;
  if (provider.baseUrl) {
    const match = REGION_IN_HOST.exec(new URL(provider.baseUrl).hostname);
    if (match) return match[1]!;
  }
  throw new GatewayError('internal_error', `Provider ${provider.id} has no Bedrock region configured`, {
    failover: true,
  });
}

export function converseUrl(provider: ProviderSpec, modelId: string, stream: boolean): string {
  const base = (provider.baseUrl || defaultBedrockBaseUrl(bedrockRegion(provider))).replace(/\/+$/, '');
  return `${base}/model/${encodeURIComponent(modelId)}/${stream ? 'converse-stream' : 'converse'}`;
}

/** InvokeModel, the model's native body (embeddings): `POST {base}/model/{modelId}/invoke`. */
export function invokeUrl(provider: ProviderSpec, modelId: string): string {
  const base = (provider.baseUrl || defaultBedrockBaseUrl(bedrockRegion(provider))).replace(/\/+$/, '');
  return `${base}/model/${encodeURIComponent(modelId)}/invoke`;
}
