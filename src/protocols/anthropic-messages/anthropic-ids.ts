import { randomBytes } from 'node:crypto';

/**
 * Anthropic-shaped ids. A message id is kept when it already has the `msg_` prefix (Anthropic's own),
 * otherwise it is carried inside ours (`chatcmpl-abc` → `msg_chatcmpl-abc`) so logs still link the two.
 * Tool-use ids are kept verbatim when Anthropic's pattern allows them, since the client echoes them back in
 * `tool_result` and the next request must match the previous one; only missing or odd ids are replaced.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function randomId(length = 24): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const byte of bytes) out += ALPHABET[byte % ALPHABET.length];
  return out;
}

export function messageId(upstreamId: string | undefined): string {
  if (upstreamId?.startsWith('msg_')) return upstreamId;
  const carried = (upstreamId ?? '').replace(/[^A-Za-z0-9_-]/g, '');
  return `msg_${carried === '' ? randomId() : carried}`;
}

export function toolUseId(upstreamId: string | undefined): string {
  return upstreamId && /^[A-Za-z0-9_-]+$/.test(upstreamId) ? upstreamId : `toolu_${randomId()}`;
}
