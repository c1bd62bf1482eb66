import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Transaction } from 'kysely';
import { GatewayError } from '../../core/errors.ts';
import type { Accepted, Answer, ExecutionService } from '../../executions/service.ts';
import { fingerprint, type Idempotency, keyOf, type StoredResponse } from '../../idempotency/idempotency.ts';
import type { RequestStart } from '../../pipeline/context.ts';
import type { Pipeline } from '../../pipeline/pipeline.ts';
import { openAIChatCodec } from '../../protocols/openai-chat/codec.ts';
import type { Database } from '../../store/schema.ts';
import { sendError } from '../answer.ts';
import { authenticateFirst, callerOf } from '../authenticate-first.ts';
import type { BodyBudget } from '../body-budget.ts';
import { conflictHeaders, keptHeaders, sendReplay } from '../idempotent.ts';
import { beginRequest } from '../request-start.ts';
import { sendRaw } from '../respond.ts';
import { refuse } from './chat.ts';

/**
 * The execution API (docs/executions.md): `POST /v1/executions` → 202, `GET /v1/executions[/{id}]`,
 * `POST /v1/executions/{id}/cancel`. Authenticated on the headers like every /v1 route; the logic is in
 * src/executions/service.ts; errors in OpenAI's envelope. A refused submission is recorded like a refused chat
 * request.
 */
export interface ExecutionRouteOptions {
  pipeline: Pipeline;
  budget: BodyBudget;
  service: ExecutionService;
  /** `Idempotency-Key` on submissions (docs/idempotency.md): a retried POST gets the same execution. */
  idempotency?: Idempotency | undefined;
}

export function registerExecutionRoutes(
  app: FastifyInstance,
  { pipeline, budget, service, idempotency }: ExecutionRouteOptions,
) {
  const codec = openAIChatCodec;
  const onRequest = authenticateFirst(pipeline, budget, (req, reply, error) =>
    refuse(pipeline, codec, req, reply, beginRequest(reply, codec.protocol), error),
  );
  app.post('/v1/executions', { onRequest }, async (req, reply) => {
    const start = beginRequest(reply, codec.protocol);
    const key = idempotency ? keyOf(req.headers) : undefined;
    if (key instanceof GatewayError) return refuse(pipeline, codec, req, reply, start, key);
    if (key !== undefined && idempotency) return submitOnce(idempotency, key, req, reply, start);
    const answer = await service.submit(start, callerOf(req), req.body);
    if (!answer.ok) {
      reply.headers(answer.headers);
      return refuse(pipeline, codec, req, reply, start, answer.error);
    }
    return send(reply, answer, start.requestId);
  });

  /**
   * A submission with an Idempotency-Key: the first one's 202 (the same execution id) for every retry of it. A
   * submission refused as invalid releases the key (nothing was created, as Stripe); other refusals are kept.
   */
  const submitOnce = async (
    once: Idempotency,
    key: string,
    req: FastifyRequest,
    reply: FastifyReply,
    start: RequestStart,
  ) => {
    const caller = callerOf(req);
    const begun = await once.begin(
      caller.tenantId,
      key,
      fingerprint('POST', '/v1/executions', JSON.stringify(req.body)),
    );
    if (begun.kind === 'replay') return sendReplay(reply, begun.response);
    if (begun.kind === 'conflict') {
      reply.headers(conflictHeaders(begun.reason));
      return refuse(pipeline, codec, req, reply, start, begun.error);
    }
    let answer: Answer;
    // The 202 is stored as the key's answer in the execution's own transaction: no crash can leave the execution
    // created while its key still runs (a retry after the lock timeout would create a second one).
    let stored: StoredResponse | undefined;
    const inCommit = (trx: Transaction<Database>, accepted: Accepted) => {
      stored = accepted202(accepted, start.requestId).stored;
      return begun.finishIn(trx, stored);
    };
    try {
      answer = await service.submit(start, caller, req.body, { inCommit });
    } catch (err) {
      await begun.release();
      throw err;
    }
    if (!answer.ok) {
      if (answer.error.code === 'invalid_request') await begun.release();
      const recorded = await pipeline.refuse(start, answer.error, { caller, model: modelOf(req.body) });
      const encoded = codec.encodeError(answer.error, start.requestId);
      const headers = { ...answer.headers, ...recorded, ...encoded.headers };
      const body = String(encoded.body);
      await begun.finish({ status: encoded.status, headers: keptHeaders(headers), body });
      return sendRaw(reply, encoded.status, headers, body);
    }
    const sent = accepted202(answer, start.requestId);
    await begun.finish(stored ?? sent.stored);
    return sendRaw(reply, answer.status, sent.headers, sent.stored.body);
  };
  app.get('/v1/executions', { onRequest }, async (req, reply) => {
    const start = beginRequest(reply, codec.protocol);
    const query = (req.query ?? {}) as Record<string, unknown>;
    return send(reply, await service.list(start, callerOf(req), query), start.requestId);
  });
  app.get<{ Params: { id: string } }>('/v1/executions/:id', { onRequest }, async (req, reply) => {
    const start = beginRequest(reply, codec.protocol);
    return send(reply, await service.get(start, callerOf(req), req.params.id), start.requestId);
  });
  app.post<{ Params: { id: string } }>('/v1/executions/:id/cancel', { onRequest }, async (req, reply) => {
    const start = beginRequest(reply, codec.protocol);
    return send(reply, await service.cancel(start, callerOf(req), req.params.id), start.requestId);
  });
}

/** The 202 of a submission: the headers sent, and what its Idempotency-Key stores. */
function accepted202(answer: Accepted, requestId: string): { headers: Record<string, string>; stored: StoredResponse } {
  const headers = { ...answer.headers, 'x-request-id': requestId, 'content-type': 'application/json' };
  const body = JSON.stringify(answer.body);
  return { headers, stored: { status: answer.status, headers: keptHeaders(headers), body } };
}

function modelOf(body: unknown): unknown {
  return body !== null && typeof body === 'object' ? (body as Record<string, unknown>)['model'] : undefined;
}

function send(reply: FastifyReply, answer: Answer, requestId: string) {
  if (!answer.ok) return sendError(reply, openAIChatCodec, answer.error, answer.headers, requestId);
  return sendRaw(
    reply,
    answer.status,
    { ...answer.headers, 'x-request-id': requestId, 'content-type': 'application/json' },
    JSON.stringify(answer.body),
  );
}
