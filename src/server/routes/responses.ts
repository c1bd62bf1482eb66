import type { FastifyInstance } from 'fastify';
import { toClientError } from '../../http/client-errors.ts';
import type { Idempotency } from '../../idempotency/idempotency.ts';
import type { Logger } from '../../ops/logger.ts';
import type { Pipeline } from '../../pipeline/pipeline.ts';
import { openAIResponsesCodec } from '../../protocols/openai-responses/codec.ts';
import { prepareResponsesCall, responseNotFound } from '../../responses/prepare.ts';
import type { ResponseStore } from '../../responses/response-store.ts';
import { sendError } from '../answer.ts';
import { authenticateFirst, callerOf } from '../authenticate-first.ts';
import type { BodyBudget } from '../body-budget.ts';
import { beginRequest } from '../request-start.ts';
import { handleOnce, refuse } from './chat.ts';

/**
 * OpenAI's Responses API: `POST /v1/responses` as the chat routes (authenticate, decode, `pipeline.handle`,
 * encode), with the caller's stored conversation resolved before routing when storage is on; and
 * `GET`/`DELETE /v1/responses/{id}` on the caller's stored responses (404 for everything else, storage off
 * included). docs/responses.md.
 */
export interface ResponsesRouteOptions {
  pipeline: Pipeline;
  budget: BodyBudget;
  /** Undefined: storage is off (`responses.store: false`). */
  store: ResponseStore | undefined;
  logger: Logger;
  /** Idempotency-Key on non-streaming requests (docs/idempotency.md). */
  idempotency?: Idempotency | undefined;
}

export function registerResponsesRoutes(
  app: FastifyInstance,
  { pipeline, budget, store, logger, idempotency }: ResponsesRouteOptions,
) {
  const codec = openAIResponsesCodec;
  const onRequest = authenticateFirst(pipeline, budget, (req, reply, error) =>
    refuse(pipeline, codec, req, reply, beginRequest(reply, codec.protocol), error),
  );
  app.post('/v1/responses', { onRequest }, async (req, reply) => {
    const start = beginRequest(reply, codec.protocol);
    const caller = callerOf(req);
    let prepared: Awaited<ReturnType<typeof prepareResponsesCall>>;
    try {
      prepared = await prepareResponsesCall(req.body, caller.tenantId, store);
    } catch (err) {
      const error = toClientError(err);
      if (error.code === 'internal_error') logger.error({ err }, 'reading a stored response failed');
      return refuse(pipeline, codec, req, reply, start, error);
    }
    const ctx = { ...start, caller, request: prepared.request };
    return handleOnce({ pipeline, codec: prepared.codec, idempotency, path: '/v1/responses' }, ctx, req, reply);
  });

  const onLookup = authenticateFirst(pipeline, budget, (_req, reply, error) => sendError(reply, codec, error, {}, ''));
  app.get<{ Params: { id: string } }>('/v1/responses/:id', { onRequest: onLookup }, async (req, reply) => {
    const { id } = req.params;
    // A failing database reaches the app's error handler: logged there, answered as internal_error.
    const found = await store?.load(callerOf(req).tenantId, id);
    if (!found) return sendError(reply, codec, responseNotFound(id), {}, '');
    return reply.header('content-type', 'application/json').send(JSON.stringify(found.response));
  });
  app.delete<{ Params: { id: string } }>('/v1/responses/:id', { onRequest: onLookup }, async (req, reply) => {
    const { id } = req.params;
    const deleted = (await store?.delete(callerOf(req).tenantId, id)) ?? false;
    if (!deleted) return sendError(reply, codec, responseNotFound(id), {}, '');
    return reply.send({ id, object: 'response', deleted: true });
  });
}
