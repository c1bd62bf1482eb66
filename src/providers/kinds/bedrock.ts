import { describeKind } from './descriptor.ts';
import { embeddingModel, FULL, knownModel, mediaModel, REASONING, TEXT_TOOLS_NO_SCHEMA } from './known-model.ts';

/**
 * AWS Bedrock Converse. Credentials are two-part (access key id and secret, plus an optional session token) or
 * a Bedrock API key, so callers cannot bring their own.
 * @see https://docs.aws.amazon.com/general/latest/gr/bedrock.html
 */
export const bedrock = describeKind({
  id: 'bedrock',
  wire: 'bedrock',
  defaultBaseUrl: 'https://bedrock-runtime.{region}.amazonaws.com',
  env: {
    keys: ['AWS_ACCESS_KEY_ID'],
    secretAccessKey: 'AWS_SECRET_ACCESS_KEY',
    sessionToken: 'AWS_SESSION_TOKEN',
    options: { region: { vars: ['AWS_REGION', 'AWS_DEFAULT_REGION'], fallback: 'us-east-1' } },
  },
  priceProvider: 'aws',
  models: [
    knownModel('amazon.nova-micro-v1:0', 128_000, 10_000, TEXT_TOOLS_NO_SCHEMA, 45),
    knownModel('amazon.nova-lite-v1:0', 300_000, 10_000, { ...FULL, jsonSchema: false }, 52),
    knownModel('amazon.nova-pro-v1:0', 300_000, 10_000, { ...FULL, jsonSchema: false }, 64),
    knownModel('anthropic.claude-haiku-4-5-20251001-v1:0', 200_000, 64_000, REASONING, 72),
    knownModel('anthropic.claude-sonnet-4-5-20250929-v1:0', 200_000, 64_000, REASONING, 91),
    embeddingModel('amazon.titan-embed-text-v2:0', 8_192),
    // Not in the price library: Bedrock's list price, USD per million input tokens.
    { ...embeddingModel('cohere.embed-english-v3', 512), price: { input: 0.1, output: 0 } },
    { ...embeddingModel('cohere.embed-multilingual-v3', 512), price: { input: 0.1, output: 0 } },
    // Image models through InvokeModel (media/bedrock-images.ts): Bedrock's list prices per image, by size class
    // and quality (`hd` is premium). @see https://aws.amazon.com/bedrock/pricing/
    mediaModel('amazon.nova-canvas-v1:0', 'image', {
      qualityRank: 70,
      mediaPrice: {
        perImage: { '1024/standard': 0.04, '1024/premium': 0.06, '2048/standard': 0.06, '2048/premium': 0.08 },
      },
    }),
    mediaModel('amazon.titan-image-generator-v2:0', 'image', {
      qualityRank: 55,
      mediaPrice: {
        perImage: { '512/standard': 0.008, '512/premium': 0.01, '1024/standard': 0.01, '1024/premium': 0.012 },
      },
    }),
    mediaModel('stability.sd3-5-large-v1:0', 'image', { qualityRank: 80, mediaPrice: { perImage: 0.08 } }),
    mediaModel('stability.stable-image-core-v1:1', 'image', { qualityRank: 72, mediaPrice: { perImage: 0.04 } }),
    mediaModel('stability.stable-image-ultra-v1:1', 'image', { qualityRank: 86, mediaPrice: { perImage: 0.14 } }),
  ],
});
