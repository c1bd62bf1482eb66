import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayError } from '../../core/errors.ts';
import type { ChatRequest } from '../../core/ir.ts';
import { toClientError } from '../../http/client-errors.ts';
import type { RequestContext, RequestStart } from '../../pipeline/context.ts';
import type { Pipeline } from '../../pipeline/pipeline.ts';
import { encodeCountTokens } from '../../protocols/anthropic-messages/count-tokens.ts';
import type { ErrorCodec, ProtocolCodec } from '../../protocols/codec.ts';
import { sendError, sendHandled } from '../answer.ts';
import { authenticateFirst, callerOf } from '../authenticate-first.ts';
import type { BodyBudget } from '../body-budget.ts';
import { beginRequest } from '../request-start.ts';

/**
 * The chat endpoints, one route per inbound protocol, all the same few lines: authenticate on the headers
 * (hook), decode the body with the protocol's codec, `pipeline.handle`, encode what comes back.
 */
export interface ChatRouteOptions {
  path: string;
  codec: ProtocolCodec;
  pipeline: Pipeline;
  budget: BodyBudget;
}

export function registerChatRoute(app: FastifyInstance, options: ChatRouteOptions): void {
  const { codec, pipeline } = options;
  registerDecodedRoute(app, options, async (ctx, reply) => sendHandled(reply, codec, ctx, await pipeline.handle(ctx)));
}

/** `POST /v1/messages/count_tokens`: decoded as a Messages request, counted by the pipeline. */
export function registerCountTokensRoute(app: FastifyInstance, options: ChatRouteOptions): void {
  const { codec, pipeline } = options;
  registerDecodedRoute(app, options, async (ctx, reply) => {
    const counted = await pipeline.countTokens(ctx);
    if (counted.kind === 'error') return sendError(reply, codec, counted.error, counted.headers, ctx.requestId);
    return reply
      .headers({ ...counted.headers, ...codec.answerHeaders(ctx.requestId), 'content-type': 'application/json' })
      .send(encodeCountTokens(counted.inputTokens));
  });
}

/** A POST route whose body the codec decodes into a request of the authenticated caller. */
function registerDecodedRoute(
  app: FastifyInstance,
  { path, codec, pipeline, budget }: ChatRouteOptions,
  answer: (ctx: RequestContext, reply: FastifyReply) => Promise<unknown>,
): void {
  const onRequest = authenticateFirst(pipeline, budget, (req, reply, error) =>
    refuse(pipeline, codec, req, reply, beginRequest(reply, codec.protocol), error),
  );
  app.post(path, { onRequest }, async (req, reply) => {
    const start = beginRequest(reply, codec.protocol);
    let request: ChatRequest;
    try {
      request = codec.decode(req.body, req.headers);
    } catch (err) {
      return refuse(pipeline, codec, req, reply, start, toClientError(err));
    }
    return answer({ ...start, caller: callerOf(req), request }, reply);
  });
}

/**
 * A request refused before the pipeline could handle it (authentication, an unreadable or invalid body,
 * draining, a body over a limit): recorded with what could be read of it, answered in the codec's envelope.
 */
export async function refuse(
  pipeline: Pipeline,
  codec: ErrorCodec,
  req: FastifyRequest,
  reply: FastifyReply,
  start: RequestStart,
  error: GatewayError,
) {
  const body = req.body !== null && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {};
  const headers = await pipeline.refuse(start, error, {
    caller: req.caller,
    model: body['model'],
    stream: body['stream'],
  });
  return sendError(reply, codec, error, headers, start.requestId);
}
