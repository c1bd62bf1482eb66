import type { FastifyReply } from 'fastify';
import { REPLAYED_HEADER, type StoredResponse } from '../idempotency/idempotency.ts';
import { sendRaw } from './respond.ts';

/**
 * The HTTP side of idempotency keys (src/idempotency/): which headers of an answer are kept with it, and how a
 * stored answer is replayed (the same status, headers and body, plus `Idempotent-Replayed: true`).
 */

/** Headers that describe the answer itself; not per-connection ones, rate-limit state or signed links. */
const KEPT = /^(content-type|x-request-id|request-id|x-model-router-.+|openai-.+|anthropic-.+)$/;

export function keptHeaders(headers: Record<string, string>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (KEPT.test(lower)) kept[lower] = value;
  }
  return kept;
}

/**
 * Headers of a 409 idempotency_conflict that tell SDKs (the Stainless-generated OpenAI and Anthropic ones honour
 * `x-should-retry`) what to do: retry in a second while the first request runs, never for another body.
 */
export function conflictHeaders(reason: 'in_progress' | 'mismatch'): Record<string, string> {
  return reason === 'in_progress' ? { 'x-should-retry': 'true', 'retry-after': '1' } : { 'x-should-retry': 'false' };
}

export function sendReplay(reply: FastifyReply, response: StoredResponse) {
  return sendRaw(reply, response.status, { ...response.headers, [REPLAYED_HEADER]: 'true' }, response.body);
}
