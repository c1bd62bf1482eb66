import type { ProviderKey } from '../types.ts';

/**
 * Authentication for one Bedrock request, two ways:
 * - AWS credentials (the key's `secret` is the access key id, with `secretAccessKey` and optional
 *   `sessionToken`): SigV4 over exactly the bytes sent, service `bedrock`, by the AWS SDK's own signer.
 * - A Bedrock API key (no `secretAccessKey`): `Authorization: Bearer <key>`.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html
 * @see https://docs.aws.amazon.com/bedrock/latest/userguide/api-keys-use.html
 */

export const BEDROCK_SIGNING_SERVICE = 'bedrock';

export interface SignInput {
  url: string;
  body: Uint8Array;
  /** Headers that go out with the request (content-type, accept); they are signed too. */
  headers: Record<string, string>;
  key: ProviderKey;
  region: string;
  /** For tests; defaults to now. */
  signingDate?: Date;
}

/** Returns the complete header set to send, authentication included. */
export async function authorizeBedrockRequest(input: SignInput): Promise<Record<string, string>> {
  const { key } = input;
  if (!key.secretAccessKey) {
    return { ...input.headers, authorization: `Bearer ${key.secret}` };
  }
  // The AWS signer is loaded on the first signed call: a gateway without Bedrock never holds it in memory.
  const [{ Hash }, { SignatureV4 }] = await Promise.all([import('@smithy/hash-node'), import('@smithy/signature-v4')]);
  const url = new URL(input.url);
  const signer = new SignatureV4({
    service: BEDROCK_SIGNING_SERVICE,
    region: input.region,
    credentials: {
      accessKeyId: key.secret,
      secretAccessKey: key.secretAccessKey,
      ...(key.sessionToken ? { sessionToken: key.sessionToken } : {}),
    },
    // SHA-256 (and its HMAC) from Node's crypto, the way the SDK's Node runtime builds it.
    sha256: Hash.bind(null, 'sha256'),
  });
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = value;
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      // The path exactly as it goes on the wire (still percent-encoded); the signer encodes it once more,
      // as SigV4 requires for every service but S3.
      path: url.pathname,
      query,
      // `host` is signed, so it is sent explicitly with the same value (port included when not default).
      headers: { ...input.headers, host: url.host },
      body: input.body,
    },
    input.signingDate ? { signingDate: input.signingDate } : {},
  );
  return signed.headers as Record<string, string>;
}
