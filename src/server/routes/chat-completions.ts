import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { nanoToUsd } from '../../billing/cost.ts';
import { type GatewayError, openAIErrorBody } from '../../core/errors.ts';
import type { Usage } from '../../core/ir.ts';
import { type Gateway, type OpenStream, type RequestContext, servedOutcome } from '../../gateway/gateway.ts';
import { StreamMeter } from '../../gateway/meter.ts';
import { parseOpenAIRequest } from '../../protocols/openai-chat/parse-openai-request.ts';
import { renderOpenAIResponse } from '../../protocols/openai-chat/render-openai-response.ts';
import { OpenAIStreamRenderer } from '../../protocols/openai-chat/render-openai-stream.ts';
import { type Authenticator, successHeaders } from '../../tenancy/auth.ts';
import { authenticateFirst, callerOf } from '../authenticate-first.ts';
import type { BodyBudget } from '../body-budget.ts';
import { toClientError } from '../errors.ts';
import { routingHeaders } from '../headers.ts';
import { sendRaw } from '../respond.ts';
import { openSSE, type SSEWriter } from '../sse.ts';
import {
  beginRequest,
  passthroughBytes,
  type RequestStart,
  recordCompletion,
  recordEarlyError,
  recordRoutedFailure,
} from './request-context.ts';

/**
 * POST /v1/chat/completions: OpenAI's format in and out. The route only parses, calls the gateway and
 * renders; everything else is in src/gateway.
 */
export function registerChatCompletions(
  app: FastifyInstance,
  gateway: Gateway,
  auth: Authenticator,
  budget: BodyBudget,
): void {
  const onRequest = authenticateFirst(auth, budget, (req, reply, error) =>
    sendEarlyError(gateway, beginRequest(req, reply), req, reply, error),
  );
  app.post('/v1/chat/completions', { onRequest }, async (req, reply) => {
    const start = beginRequest(req, reply);
    let ctx: RequestContext;
    try {
      const request = parseOpenAIRequest(req.body);
      ctx = { ...start, caller: callerOf(req), request };
    } catch (err) {
      return sendEarlyError(gateway, start, req, reply, toClientError(err));
    }
    if (ctx.request.stream) return streamCompletion(gateway, ctx, reply, auth);
    return completeOnce(gateway, ctx, reply, auth);
  });
}

/** An error before routing (auth, validation): still answered in the envelope and recorded. */
export async function sendEarlyError(
  gateway: Gateway,
  start: RequestStart,
  req: FastifyRequest,
  reply: FastifyReply,
  error: GatewayError,
) {
  await recordEarlyError(gateway, start, req.body, error);
  return reply.code(error.status).headers({ 'x-request-id': start.requestId }).send(openAIErrorBody(error));
}

async function completeOnce(gateway: Gateway, ctx: RequestContext, reply: FastifyReply, auth: Authenticator) {
  try {
    const done = await gateway.complete(ctx);
    const costNano = await recordCompletion(gateway, ctx, done);
    const headers = routingHeaders(ctx.requestId, done.decision, done.target, done.attempts, costNano);
    headers['content-type'] = 'application/json';
    Object.assign(headers, successHeaders(auth, ctx.caller, true));
    const payload =
      done.mode === 'passthrough'
        ? passthroughBytes(done.response.body)
        : JSON.stringify(renderOpenAIResponse(done.response));
    return sendRaw(reply, 200, headers, payload);
  } catch (err) {
    return sendRoutedError(gateway, ctx, reply, err);
  }
}

async function sendRoutedError(gateway: Gateway, ctx: RequestContext, reply: FastifyReply, err: unknown) {
  const { error, attempts } = await recordRoutedFailure(gateway, ctx, err);
  const headers = routingHeaders(ctx.requestId, undefined, undefined, attempts);
  if (error.retryAfter !== undefined) headers['retry-after'] = String(Math.ceil(error.retryAfter));
  return reply.code(error.status).headers(headers).send(openAIErrorBody(error));
}

async function streamCompletion(gateway: Gateway, ctx: RequestContext, reply: FastifyReply, auth: Authenticator) {
  let open: OpenStream;
  try {
    open = await gateway.openStream(ctx);
  } catch (err) {
    return sendRoutedError(gateway, ctx, reply, err);
  }
  const sse = openSSE(
    reply,
    {
      ...routingHeaders(ctx.requestId, open.decision, open.target, open.attempts),
      ...successHeaders(auth, ctx.caller, true),
    },
    (error) => `data: ${JSON.stringify(openAIErrorBody(error))}\n\n`,
    ctx.abort,
  );
  const meter = new StreamMeter(gateway.deps.tokens);
  const outcome = servedOutcome(open);
  let usageChunk: Record<string, unknown> | undefined;
  let failure: GatewayError | undefined;
  const renderer =
    open.mode === 'ir'
      ? new OpenAIStreamRenderer({
          id: `chatcmpl-${ctx.requestId}`,
          model: open.target.model.upstreamName,
          created: Math.floor(ctx.at / 1000),
        })
      : undefined;
  try {
    if (open.mode === 'passthrough') {
      usageChunk = await relayPassthrough(open, sse, meter);
    } else {
      await relayIR(open, sse, meter, renderer!);
    }
  } catch (err) {
    const error = toClientError(err);
    if (sse.clientGone) {
      outcome.status = 499;
    } else {
      // Past the first byte there is no failover: the client gets an error event, never a clean close.
      outcome.errorCode = error.code;
      failure = error;
    }
  }
  if (sse.interruption) {
    // The gateway ended the stream (shutdown): an error the client saw, not a client that left.
    outcome.status = 200;
    outcome.errorCode = sse.interruption.code;
  } else if (sse.clientGone) outcome.status = 499;
  const usage = await meter.final(ctx.request, outcome.errorCode === null && outcome.status === 200);
  outcome.usage = usage;
  outcome.costNano = gateway.cost(usage, open.target.model);
  // Durable before the final frames: a client that read the whole stream has its record.
  await gateway.record(ctx, outcome);
  if (failure) {
    await sse.data(JSON.stringify(openAIErrorBody(failure)));
  } else if (outcome.errorCode === null && outcome.status === 200) {
    if (ctx.request.includeUsage) {
      const chunk = renderer
        ? renderer.usageChunk(usage, nanoToUsd(outcome.costNano))
        : passthroughUsageChunk(
            usageChunk ?? (open.first as { json: Record<string, unknown> }).json,
            usage,
            outcome.costNano,
          );
      await sse.data(JSON.stringify(chunk));
    }
    await sse.write('data: [DONE]\n\n');
  }
  sse.end();
}

/**
 * Same-protocol stream: upstream frames go out as received. Usage is requested upstream for every stream
 * but reaches the client only if it asked, in one final chunk carrying our cost; a frame that mixes content
 * and usage (some providers do) loses the usage field, the one frame we re-serialise.
 */
async function relayPassthrough(
  open: Extract<OpenStream, { mode: 'passthrough' }>,
  sse: SSEWriter,
  meter: StreamMeter,
): Promise<Record<string, unknown> | undefined> {
  let usageChunk: Record<string, unknown> | undefined;
  let frame = open.first;
  for (;;) {
    meter.observeFrame(frame);
    if (frame.usage) {
      usageChunk = frame.json;
      const choices = frame.json['choices'];
      if (Array.isArray(choices) && choices.length > 0) {
        const { usage: _usage, x_groq: _groq, ...content } = frame.json;
        await sse.data(JSON.stringify(content));
      }
    } else {
      await sse.data(frame.data);
    }
    if (sse.clientGone) {
      void open.rest.return?.();
      return usageChunk;
    }
    const next = await open.rest.next();
    if (next.done) return usageChunk;
    frame = next.value;
  }
}

async function relayIR(
  open: Extract<OpenStream, { mode: 'ir' }>,
  sse: SSEWriter,
  meter: StreamMeter,
  renderer: OpenAIStreamRenderer,
): Promise<void> {
  let event = open.first;
  for (;;) {
    meter.observeEvent(event);
    const chunk = renderer.render(event);
    if (chunk) await sse.data(JSON.stringify(chunk));
    if (sse.clientGone) {
      void open.rest.return?.();
      return;
    }
    const next = await open.rest.next();
    if (next.done) break;
    event = next.value;
  }
}

/** The usage chunk for a same-protocol stream: the upstream's own usage object plus our cost. */
function passthroughUsageChunk(
  source: Record<string, unknown>,
  usage: Usage,
  costNano: number,
): Record<string, unknown> {
  const upstreamUsage = (source['usage'] ?? (source['x_groq'] as Record<string, unknown> | undefined)?.['usage']) as
    | Record<string, unknown>
    | undefined;
  return {
    id: source['id'],
    object: 'chat.completion.chunk',
    created: source['created'],
    model: source['model'],
    ...(source['system_fingerprint'] ? { system_fingerprint: source['system_fingerprint'] } : {}),
    choices: [],
    usage: {
      ...(upstreamUsage ?? {
        prompt_tokens: usage.inputTokens,
        completion_tokens: usage.outputTokens,
        total_tokens: usage.inputTokens + usage.outputTokens,
      }),
      cost: nanoToUsd(costNano),
    },
  };
}
