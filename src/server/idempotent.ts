import type { FastifyReply } from 'fastify';
import type { Kysely } from 'kysely';
import { openAIErrorBody } from '../core/errors.ts';
import { toClientError } from '../http/client-errors.ts';
import { type Idempotency, REPLAYED_HEADER, type StoredResponse } from '../idempotency/idempotency.ts';
import type { Logger } from '../ops/logger.ts';
import type { Database } from '../store/schema.ts';
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

/**
 * Runs a JSON route's work once per tenant and key (docs/idempotency.md) and sends its answer: without a key,
 * `run` and send; with one, a replay, a 409 (thrown: the route's error handler answers it, with the headers
 * set here), or `run`, whose answer (or error, as OpenAI's envelope) is stored before it is sent. `run` gets
 * `inCommit` with a key: called in the transaction that creates what the answer names, with that answer (the
 * object `run` then returns), it stores the answer in the same commit, so no crash leaves the thing created and
 * its key unanswered.
 *
 *   return answerOnce(reply, { idempotency, tenantId, key, fingerprint: fingerprint('POST', path, JSON.stringify(body)) },
 *     async () => ({ status: 202, headers: { 'content-type': 'application/json' }, body: JSON.stringify(created) }));
 */
export async function answerOnce(
  reply: FastifyReply,
  once: {
    idempotency: Idempotency;
    tenantId: string;
    key: string | undefined;
    fingerprint: () => string;
    logger?: Pick<Logger, 'error'>;
  },
  run: (inCommit?: (trx: Kysely<Database>, response: StoredResponse) => Promise<void>) => Promise<StoredResponse>,
) {
  if (once.key === undefined) {
    const response = await run();
    return sendRaw(reply, response.status, { ...response.headers }, response.body);
  }
  const begun = await once.idempotency.begin(once.tenantId, once.key, once.fingerprint());
  if (begun.kind === 'replay') return sendReplay(reply, begun.response);
  if (begun.kind === 'conflict') {
    reply.headers(conflictHeaders(begun.reason));
    throw begun.error;
  }
  let response: StoredResponse;
  try {
    response = await run((trx, stored) => begun.finishIn(trx, stored));
  } catch (err) {
    const error = toClientError(err);
    if (error.code === 'internal_error') once.logger?.error({ err }, 'an idempotent request failed');
    response = {
      status: error.status,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify(openAIErrorBody(error)),
    };
  }
  await begun.finish(response);
  return sendRaw(reply, response.status, { ...response.headers }, response.body);
}
