import type { FastifyInstance } from 'fastify';
import type { EmbeddingRequest } from '../../core/ir.ts';
import { toClientError } from '../../http/client-errors.ts';
import type { Pipeline } from '../../pipeline/pipeline.ts';
import type { EmbeddingsCodec } from '../../protocols/codec.ts';
import { sendError } from '../answer.ts';
import { authenticateFirst, callerOf } from '../authenticate-first.ts';
import type { BodyBudget } from '../body-budget.ts';
import { beginRequest } from '../request-start.ts';
import { sendRaw } from '../respond.ts';
import { refuse } from './chat.ts';

/**
 * `POST /v1/embeddings`, the same few lines as a chat route: authenticate on the headers (hook), decode the
 * body with the codec, `pipeline.embed`, encode what comes back.
 */
export interface EmbeddingsRouteOptions {
  path: string;
  codec: EmbeddingsCodec;
  pipeline: Pipeline;
  budget: BodyBudget;
}

export function registerEmbeddingsRoute(
  app: FastifyInstance,
  { path, codec, pipeline, budget }: EmbeddingsRouteOptions,
): void {
  const onRequest = authenticateFirst(pipeline, budget, (req, reply, error) =>
    refuse(pipeline, codec, req, reply, beginRequest(reply, codec.protocol), error),
  );
  app.post(path, { onRequest }, async (req, reply) => {
    const start = beginRequest(reply, codec.protocol);
    let request: EmbeddingRequest;
    try {
      request = codec.decode(req.body);
    } catch (err) {
      return refuse(pipeline, codec, req, reply, start, toClientError(err));
    }
    const ctx = { ...start, caller: callerOf(req), request };
    const embedded = await pipeline.embed(ctx);
    if (embedded.kind === 'error') return sendError(reply, codec, embedded.error, embedded.headers, ctx.requestId);
    const encoded = codec.encode(embedded, request);
    return sendRaw(reply, 200, { ...embedded.headers, ...encoded.headers }, encoded.body);
  });
}
