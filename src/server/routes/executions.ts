import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Answer, ExecutionService } from '../../executor/service.ts';
import type { Pipeline } from '../../pipeline/pipeline.ts';
import { openAIChatCodec } from '../../protocols/openai-chat/codec.ts';
import { sendError } from '../answer.ts';
import { authenticateFirst, callerOf } from '../authenticate-first.ts';
import type { BodyBudget } from '../body-budget.ts';
import { beginRequest } from '../request-start.ts';
import { sendRaw } from '../respond.ts';
import { refuse } from './chat.ts';

/**
 * The execution API (docs/executions.md): `POST /v1/executions` → 202, `GET /v1/executions[/{id}]`,
 * `POST /v1/executions/{id}/cancel`. Authenticated on the headers like every /v1 route; the logic is in
 * src/executor/service.ts; errors in OpenAI's envelope. A refused submission is recorded like a refused chat
 * request.
 */
export interface ExecutionRouteOptions {
  pipeline: Pipeline;
  budget: BodyBudget;
  service: ExecutionService;
}

export function registerExecutionRoutes(app: FastifyInstance, { pipeline, budget, service }: ExecutionRouteOptions) {
  const codec = openAIChatCodec;
  const onRequest = authenticateFirst(pipeline, budget, (req, reply, error) =>
    refuse(pipeline, codec, req, reply, beginRequest(reply, codec.protocol), error),
  );
  app.post('/v1/executions', { onRequest }, async (req, reply) => {
    const start = beginRequest(reply, codec.protocol);
    const answer = await service.submit(start, callerOf(req), req.body);
    if (!answer.ok) {
      reply.headers(answer.headers);
      return refuse(pipeline, codec, req, reply, start, answer.error);
    }
    return send(reply, answer, start.requestId);
  });
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

function send(reply: FastifyReply, answer: Answer, requestId: string) {
  if (!answer.ok) return sendError(reply, openAIChatCodec, answer.error, answer.headers, requestId);
  return sendRaw(
    reply,
    answer.status,
    { ...answer.headers, 'x-request-id': requestId, 'content-type': 'application/json' },
    JSON.stringify(answer.body),
  );
}
