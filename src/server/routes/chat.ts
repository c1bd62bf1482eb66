import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../../core/errors.ts';
import type { ChatRequest } from '../../core/ir.ts';
import { toClientError } from '../../http/client-errors.ts';
import { fingerprint, type Idempotency, keyOf } from '../../idempotency/idempotency.ts';
import type { RequestContext, RequestStart } from '../../pipeline/context.ts';
import type { Pipeline } from '../../pipeline/pipeline.ts';
import { encodeCountTokens } from '../../protocols/anthropic-messages/count-tokens.ts';
import type { ErrorCodec, ProtocolCodec } from '../../protocols/codec.ts';
import { encodeAnswer, sendError, sendHandled } from '../answer.ts';
import { authenticateFirst, callerOf } from '../authenticate-first.ts';
import type { BodyBudget } from '../body-budget.ts';
import { conflictHeaders, keptHeaders, sendReplay } from '../idempotent.ts';
import { beginRequest } from '../request-start.ts';
import { sendRaw } from '../respond.ts';

/**
 * The chat endpoints, one route per inbound protocol, all the same few lines: authenticate on the headers
 * (hook), decode the body with the protocol's codec, `pipeline.handle`, encode what comes back.
 */
export interface ChatRouteOptions {
  path: string;
  codec: ProtocolCodec;
  pipeline: Pipeline;
  budget: BodyBudget;
  /**
   * Idempotency keys (docs/idempotency.md): a non-streaming request with an `Idempotency-Key` header runs once
   * per tenant and key, later ones get its stored answer. Streaming requests ignore the header.
   */
  idempotency?: Idempotency | undefined;
}

export function registerChatRoute(app: FastifyInstance, options: ChatRouteOptions): void {
  const { codec, pipeline, idempotency, path } = options;
  registerDecodedRoute(app, options, async (ctx, reply, req) =>
    handleOnce({ pipeline, codec, idempotency, path }, ctx, req, reply),
  );
}

/**
 * `pipeline.handle` and the answer, once per `Idempotency-Key` (docs/idempotency.md) when the request sends one
 * and is not a stream: a replay, a 409 (recorded like any refusal), or the run whose answer is stored before it
 * is sent. Without the header (or for a stream) it is exactly `sendHandled(…, await pipeline.handle(ctx))`.
 */
export async function handleOnce(
  route: { pipeline: Pipeline; codec: ProtocolCodec; idempotency: Idempotency | undefined; path: string },
  ctx: RequestContext,
  req: FastifyRequest,
  reply: FastifyReply,
) {
  const { pipeline, codec, idempotency, path } = route;
  // No header (or a stream): not a single extra step.
  const key = idempotency && !ctx.request.stream ? keyOf(req.headers) : undefined;
  if (key === undefined || !idempotency) return sendHandled(reply, codec, ctx, await pipeline.handle(ctx));
  if (key instanceof GatewayError) return refuse(pipeline, codec, req, reply, ctx, key);
  // The parsed body re-serialized: the same JSON sent again (any spacing) is the same request.
  const begun = await idempotency.begin(ctx.caller.tenantId, key, fingerprint('POST', path, JSON.stringify(req.body)));
  if (begun.kind === 'replay') return sendReplay(reply, begun.response);
  if (begun.kind === 'conflict') {
    reply.headers(conflictHeaders(begun.reason));
    return refuse(pipeline, codec, req, reply, ctx, begun.error);
  }
  let handled: Awaited<ReturnType<Pipeline['handle']>>;
  try {
    handled = await pipeline.handle(ctx);
  } catch (err) {
    await begun.release();
    throw err;
  }
  if (handled.kind === 'stream') {
    await begun.release();
    return sendHandled(reply, codec, ctx, handled);
  }
  const answer = encodeAnswer(codec, ctx, handled);
  await begun.finish({ status: answer.status, headers: keptHeaders(answer.headers), body: String(answer.body) });
  return sendRaw(reply, answer.status, answer.headers, answer.body);
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
  { path, codec, pipeline, budget }: Omit<ChatRouteOptions, 'idempotency'>,
  answer: (ctx: RequestContext, reply: FastifyReply, req: FastifyRequest) => Promise<unknown>,
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
    return answer({ ...start, caller: callerOf(req), request }, reply, req);
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
