import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { nanoToUsd } from '../../billing/cost.ts';
import { GatewayError } from '../../core/errors.ts';
import {
  type Caller,
  type Gateway,
  type OpenStream,
  type RequestContext,
  servedOutcome,
} from '../../gateway/gateway.ts';
import { StreamMeter } from '../../gateway/meter.ts';
import {
  AnthropicStreamRenderer,
  anthropicOnlyFeatures,
  approximateInputTokens,
  formatAnthropicSSE,
  parseAnthropicRequest,
  parseCountTokensRequest,
  renderAnthropicError,
  renderAnthropicResponse,
  renderAnthropicStreamError,
} from '../../protocols/anthropic-messages/index.ts';
import { countAnthropicTokens } from '../../providers/anthropic/index.ts';
import { type Authenticator, successHeaders } from '../../tenancy/auth.ts';
import { authenticateFirst, callerOf } from '../authenticate-first.ts';
import type { BodyBudget } from '../body-budget.ts';
import { toClientError } from '../errors.ts';
import { routingHeaders } from '../headers.ts';
import { sendRaw } from '../respond.ts';
import { openSSE } from '../sse.ts';
import {
  beginRequest,
  passthroughBytes,
  type RequestStart,
  recordCompletion,
  recordEarlyError,
  recordRoutedFailure,
} from './request-context.ts';

/**
 * POST /v1/messages and /v1/messages/count_tokens: Anthropic's format in and out, over the same pipeline as
 * the OpenAI endpoint (tiers, presets, auto, failover, headers, usage records), with errors in Anthropic's
 * envelope. Anthropic upstreams take the pass-through path; others go through the IR.
 */
export function registerMessages(
  app: FastifyInstance,
  gateway: Gateway,
  auth: Authenticator,
  budget: BodyBudget,
): void {
  const onRequest = authenticateFirst(auth, budget, (req, reply, error) =>
    sendAnthropicEarlyError(gateway, beginRequest(req, reply, 'anthropic-messages'), req, reply, error),
  );
  app.post('/v1/messages', { onRequest }, async (req, reply) => {
    const start = beginRequest(req, reply, 'anthropic-messages');
    let ctx: RequestContext;
    try {
      const caller = callerOf(req);
      const request = parseAnthropicRequest(req.body, anthropicHeaders(req));
      ctx = { ...start, caller: restrictToAnthropic(gateway, caller, req.body), request };
    } catch (err) {
      return sendAnthropicEarlyError(gateway, start, req, reply, toClientError(err));
    }
    if (ctx.request.stream) return streamMessage(gateway, auth, ctx, reply);
    return completeMessage(gateway, auth, ctx, reply);
  });

  app.post('/v1/messages/count_tokens', { onRequest }, async (req, reply) => {
    const start = beginRequest(req, reply, 'anthropic-messages');
    try {
      const caller = callerOf(req);
      const request = parseCountTokensRequest(req.body, anthropicHeaders(req));
      const decision = await gateway.deps.router.route(request, restrictToAnthropic(gateway, caller, req.body).policy);
      const first = decision.candidates[0]!;
      const provider = gateway.deps.router.catalog.providers.get(first.provider)!;
      if (provider.kind === 'anthropic' && !caller.ownKey) {
        const key = gateway.deps.health.pickKey(provider);
        if (key) {
          const tokens = await countAnthropicTokens(
            req.body as Record<string, unknown>,
            { provider, model: first, key },
            { requestId: start.requestId, signal: start.signal, tokens: gateway.deps.tokens },
          );
          return reply
            .headers({ 'request-id': start.requestId, ...successHeaders(auth, caller, false) })
            .send({ input_tokens: tokens });
        }
      }
      return reply
        .headers({ 'request-id': start.requestId, ...successHeaders(auth, caller, false) })
        .send(await approximateInputTokens(gateway.deps.tokens, request));
    } catch (err) {
      const error = toClientError(err);
      const rendered = renderAnthropicError(error, start.requestId);
      return reply.code(rendered.status).headers(rendered.headers).send(rendered.body);
    }
  });
}

/** The protocol headers a pass-through forwards (beta flags, API version). */
function anthropicHeaders(req: FastifyRequest) {
  return { 'anthropic-beta': req.headers['anthropic-beta'], 'anthropic-version': req.headers['anthropic-version'] };
}

/**
 * A request using what only Anthropic serves (server tools, MCP, documents...) may go only to Anthropic
 * providers: translating it elsewhere would silently drop parts of it.
 */
function restrictToAnthropic(gateway: Gateway, caller: Caller, body: unknown): Caller {
  const features = anthropicOnlyFeatures(body as Record<string, unknown>);
  if (features.length === 0) return caller;
  const anthropic = [...gateway.deps.router.catalog.providers.values()]
    .filter((p) => p.kind === 'anthropic')
    .map((p) => p.id);
  const allowed = caller.policy.providers ? caller.policy.providers.filter((id) => anthropic.includes(id)) : anthropic;
  if (allowed.length === 0) {
    throw new GatewayError(
      'invalid_request',
      `This request uses ${features.join(', ')}, which only an Anthropic provider can serve, and none is configured`,
    );
  }
  return { ...caller, policy: { ...caller.policy, providers: allowed } };
}

async function sendAnthropicEarlyError(
  gateway: Gateway,
  start: RequestStart,
  req: FastifyRequest,
  reply: FastifyReply,
  error: GatewayError,
) {
  await recordEarlyError(gateway, start, req.body, error);
  const rendered = renderAnthropicError(error, start.requestId);
  return reply
    .code(rendered.status)
    .headers({ ...rendered.headers, 'x-request-id': start.requestId })
    .send(rendered.body);
}

async function sendRoutedError(gateway: Gateway, ctx: RequestContext, reply: FastifyReply, err: unknown) {
  const { error, attempts } = await recordRoutedFailure(gateway, ctx, err);
  const rendered = renderAnthropicError(error, ctx.requestId);
  return reply
    .code(rendered.status)
    .headers({ ...routingHeaders(ctx.requestId, undefined, undefined, attempts), ...rendered.headers })
    .send(rendered.body);
}

async function completeMessage(gateway: Gateway, auth: Authenticator, ctx: RequestContext, reply: FastifyReply) {
  try {
    const done = await gateway.complete(ctx);
    const costNano = await recordCompletion(gateway, ctx, done);
    const headers = routingHeaders(ctx.requestId, done.decision, done.target, done.attempts, costNano);
    headers['content-type'] = 'application/json';
    headers['request-id'] = ctx.requestId;
    Object.assign(headers, successHeaders(auth, ctx.caller, true));
    const payload =
      done.mode === 'passthrough'
        ? passthroughBytes(done.response.body)
        : JSON.stringify(renderAnthropicResponse(done.response, done.target.model.upstreamName));
    return sendRaw(reply, 200, headers, payload);
  } catch (err) {
    return sendRoutedError(gateway, ctx, reply, err);
  }
}

async function streamMessage(gateway: Gateway, auth: Authenticator, ctx: RequestContext, reply: FastifyReply) {
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
      'request-id': ctx.requestId,
    },
    (error) => formatAnthropicSSE(renderAnthropicStreamError(error, ctx.requestId)),
    ctx.abort,
  );
  const meter = new StreamMeter(gateway.deps.tokens);
  const outcome = servedOutcome(open);
  const renderer =
    open.mode === 'ir'
      ? new AnthropicStreamRenderer({ id: ctx.requestId, model: open.target.model.upstreamName })
      : undefined;
  let failure: GatewayError | undefined;
  /** The upstream's message_stop, held back until the record is durable. */
  let stop: string | undefined;
  try {
    if (open.mode === 'passthrough') {
      let frame = open.first;
      for (;;) {
        meter.observeFrame(frame);
        if (frame.event === 'message_stop') {
          stop = frame.data;
        } else if (frame.event === 'message_delta' && frame.usage) {
          // The one frame re-serialised: the final cumulative usage gets our cost.
          const usage = frame.json['usage'] as Record<string, unknown>;
          const cost = nanoToUsd(gateway.cost(frame.usage, open.target.model));
          await sse.event('message_delta', JSON.stringify({ ...frame.json, usage: { ...usage, cost } }));
        } else {
          await sse.event(frame.event ?? 'message', frame.data);
        }
        if (sse.clientGone) break;
        const next = await open.rest.next();
        if (next.done) break;
        frame = next.value;
      }
    } else {
      let event = open.first;
      for (;;) {
        meter.observeEvent(event);
        for (const frame of renderer!.render(event)) await sse.write(formatAnthropicSSE(frame));
        if (sse.clientGone) break;
        const next = await open.rest.next();
        if (next.done) break;
        event = next.value;
      }
    }
  } catch (err) {
    const error = toClientError(err);
    if (sse.clientGone) outcome.status = 499;
    else {
      outcome.errorCode = error.code;
      failure = error;
    }
  }
  if (sse.clientGone) {
    if (sse.interruption) {
      // The gateway ended the stream (shutdown): an error the client saw, not a client that left.
      outcome.status = 200;
      outcome.errorCode = sse.interruption.code;
    } else outcome.status = 499;
    void open.rest.return?.();
  }
  const usage = await meter.final(ctx.request, outcome.errorCode === null && outcome.status === 200);
  outcome.usage = usage;
  outcome.costNano = gateway.cost(usage, open.target.model);
  // Durable before the final frames: a client that read the whole stream has its record.
  await gateway.record(ctx, outcome);
  if (failure) {
    await sse.write(formatAnthropicSSE(renderAnthropicStreamError(failure, ctx.requestId)));
  } else if (outcome.errorCode === null && outcome.status === 200) {
    if (renderer) {
      for (const frame of renderer.finish({ usage, cost: nanoToUsd(outcome.costNano) })) {
        await sse.write(formatAnthropicSSE(frame));
      }
    } else if (stop !== undefined) {
      await sse.event('message_stop', stop);
    }
  }
  sse.end();
}
