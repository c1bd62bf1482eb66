import { createHash } from 'node:crypto';

/**
 * Tool-call ids for Gemini function calls.
 *
 * Gemini's generateContent does not number its function calls, so ids are synthesized, stably: the same
 * response (same `responseId`) gives the same ids, so a replayed or re-rendered answer keeps them.
 *
 * Gemini 3 also requires the `thoughtSignature` of each replayed function call to come back on the next
 * request, and the only thing an OpenAI-format client is sure to echo is the tool-call id. So the signature
 * travels inside the id and is recovered when the conversation comes back. A signature is only valid for
 * the model that issued it, so the id also carries a short hash of that model's name: when the conversation
 * later lands on another model, the signature is not replayed. Ids stay within `[A-Za-z0-9_-]`, the
 * alphabet every provider accepts for tool-call ids, and parse unambiguously: the parts before the signature
 * are hex or digits, which never contain `_`.
 *
 * Formats: `call_<16 hex>_<choice>_<index>[_ts_<8 hex model><signature, base64url>]` for synthesized ids,
 * and `call_gid_<upstream id, hex>[_ts_...]` when Gemini did send an id (it must be echoed back).
 * @see https://ai.google.dev/gemini-api/docs/thought-signatures
 */

const SYNTHESIZED = /^call_([0-9a-f]{16})_(\d+)_(\d+)(?:_ts_([A-Za-z0-9_-]+))?$/;
const UPSTREAM = /^call_gid_((?:[0-9a-f]{2})+)(?:_ts_([A-Za-z0-9_-]+))?$/;

/** The signature a function call came with, and the model that issued it. */
export interface SignatureOrigin {
  signature: string | undefined;
  model: string;
}

export function synthesizeToolCallId(seed: string, choice: number, index: number, origin?: SignatureOrigin): string {
  return `call_${hex(seed, 16)}_${choice}_${index}${signatureSuffix(origin)}`;
}

export function upstreamToolCallId(upstreamId: string, origin?: SignatureOrigin): string {
  return `call_gid_${Buffer.from(upstreamId, 'utf8').toString('hex')}${signatureSuffix(origin)}`;
}

export interface DecodedToolCallId {
  /** The id Gemini gave the call, to be sent back on the call and its response. */
  upstreamId?: string;
  /** The call's thought signature, only when it was issued by `forModel`. */
  thoughtSignature?: string;
}

/**
 * Reads what a tool-call id carries for a request to `forModel`; ids minted elsewhere (another provider, the
 * client) carry nothing.
 */
export function decodeToolCallId(id: string, forModel: string): DecodedToolCallId {
  const decoded: DecodedToolCallId = {};
  let suffix: string | undefined;
  const synthesized = SYNTHESIZED.exec(id);
  if (synthesized) {
    suffix = synthesized[4];
  } else {
    const upstream = UPSTREAM.exec(id);
    if (!upstream) return decoded;
    decoded.upstreamId = Buffer.from(upstream[1]!, 'hex').toString('utf8');
    suffix = upstream[2];
  }
  if (suffix && suffix.length > 8 && suffix.slice(0, 8) === modelTag(forModel)) {
    decoded.thoughtSignature = fromBase64Url(suffix.slice(8));
  }
  return decoded;
}

function signatureSuffix(origin: SignatureOrigin | undefined): string {
  return origin?.signature ? `_ts_${modelTag(origin.model)}${toBase64Url(origin.signature)}` : '';
}

function modelTag(model: string): string {
  return hex(model.replace(/^models\//, ''), 8);
}

function hex(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

/** Signatures are standard base64; the id alphabet has no `+`, `/` or `=`. */
function toBase64Url(base64: string): string {
  return base64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(base64url: string): string {
  const base64 = base64url.replace(/-/g, '+').replace(/_/g, '/');
  return base64 + '='.repeat((4 - (base64.length % 4)) % 4);
}
