/**
 * What a reasoning item's `encrypted_content` carries when Modro wrote it: the provider's own proof of a
 * thinking block (Anthropic's `signature`, or a `redacted_thinking` payload), so that a client passing the
 * item back (as OpenAI's SDKs do with `include: ["reasoning.encrypted_content"]` or by echoing `output`) gives
 * the next Anthropic call the block it needs. Not encrypted: the provider's signature already protects it,
 * and it holds nothing the client did not receive. Other clients' values are ignored.
 */
const PREFIX = 'mdr1.';

export interface ReasoningToken {
  signature?: string;
  redactedData?: string;
}

export function encodeReasoningToken(token: ReasoningToken): string | undefined {
  if (!token.signature && !token.redactedData) return undefined;
  const compact: Record<string, string> = {};
  if (token.signature) compact['s'] = token.signature;
  if (token.redactedData) compact['r'] = token.redactedData;
  return PREFIX + Buffer.from(JSON.stringify(compact)).toString('base64url');
}

export function decodeReasoningToken(value: string): ReasoningToken | undefined {
  if (!value.startsWith(PREFIX)) return undefined;
  try {
    const compact = JSON.parse(Buffer.from(value.slice(PREFIX.length), 'base64url').toString('utf8')) as unknown;
    if (compact === null || typeof compact !== 'object') return undefined;
    const { s, r } = compact as Record<string, unknown>;
    const token: ReasoningToken = {};
    if (typeof s === 'string') token.signature = s;
    if (typeof r === 'string') token.redactedData = r;
    return token;
  } catch {
    return undefined;
  }
}
