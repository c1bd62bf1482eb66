import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { GatewayError, openAIErrorBody } from '../core/errors.ts';
import { clipped } from '../core/validation.ts';
import { registerDashboard } from '../dashboard/register.ts';
import { toClientError } from '../http/client-errors.ts';
import { registerJsonBodyParser } from '../http/json-body.ts';
import { anthropicMessagesCodec } from '../protocols/anthropic-messages/codec.ts';
import type { ErrorCodec } from '../protocols/codec.ts';
import { openAIChatCodec } from '../protocols/openai-chat/codec.ts';
import { openAIEmbeddingsCodec } from '../protocols/openai-embeddings/codec.ts';
import { openAIResponsesCodec } from '../protocols/openai-responses/codec.ts';
import { BodyBudget } from './body-budget.ts';
import { answerClientError } from './client-error.ts';
import { beginRequest } from './request-start.ts';
import { registerAccountPlans } from './routes/account-plans.ts';
import { refuse, registerChatRoute, registerCountTokensRoute } from './routes/chat.ts';
import { registerEmbeddingsRoute } from './routes/embeddings.ts';
import { registerExecutionRoutes } from './routes/executions.ts';
import { registerFilesRoutes } from './routes/files.ts';
import { registerModels } from './routes/models.ts';
import { registerOps } from './routes/ops.ts';
import { registerResponsesRoutes } from './routes/responses.ts';
import { registerStripeWebhook } from './routes/stripe-webhook.ts';
import { registerWebhookRoutes } from './routes/webhooks.ts';
import type { Runtime } from './runtime.ts';
import type { SSEWriter } from './sse.ts';

/**
 * The HTTP layer: Fastify with a tiny surface. Routes are registered explicitly; each is thin and calls
 * plain functions. Fastify's request logging is off (one JSON log line per failure is enough on the hot
 * path); errors of every kind leave in OpenAI's envelope with one of the 12 codes.
 */
export function buildApp(runtime: Runtime) {
  const { server, limits } = runtime.config;
  const app = Fastify({
    logger: false,
    bodyLimit: server.bodyLimitBytes,
    return503OnClosing: false,
    keepAliveTimeout: 65_000,
    // A slow client cannot hold a connection (and the body bytes it sent) for longer than this; Node checks
    // every second and answers 408 (in the envelope, through answerClientError). All three are given when
    // the server is created: set later, a requestTimeout below the headers timeout is not honoured.
    requestTimeout: server.requestTimeoutMs,
    http: {
      requestTimeout: server.requestTimeoutMs,
      headersTimeout: Math.min(server.headersTimeoutMs, server.requestTimeoutMs),
      connectionsCheckingInterval: 1_000,
    },
    clientErrorHandler: answerClientError,
    // X-Forwarded-For (and -Proto, -Host) only from the listed proxies; req.ip is then the client's address.
    ...(server.trustedProxies.length > 0 ? { trustProxy: server.trustedProxies } : {}),
  });
  app.decorateRequest('caller', undefined);
  app.decorate('openStreams', new Set<SSEWriter>());

  app.removeAllContentTypeParsers();
  registerJsonBodyParser(app, { maxDepth: limits.maxJsonDepth });

  /**
   * An error answered before a route ran (draining, an unparsable, oversized or too deep body): in the
   * envelope of the endpoint's protocol, and, for API calls, after its usage record is journaled.
   */
  const sendBeforeRoute = async (req: FastifyRequest, reply: FastifyReply, error: GatewayError) => {
    if (req.method === 'POST' && req.url.startsWith('/v1/') && !req.url.startsWith('/v1/files')) {
      const codec = codecOfUrl(req.url);
      return refuse(runtime.pipeline, codec, req, reply, beginRequest(reply, codec.protocol), error);
    }
    return reply.code(error.status).send(openAIErrorBody(error));
  };

  // Bodies of requests whose sender is known only after the body is read (the dashboards' forms and JSON)
  // share the unverified budget; the API routes authenticate first and budget their own unverified callers.
  const budget = new BodyBudget(limits.unverifiedBodyBytes, server.bodyLimitBytes);
  const tooManyBodies = new GatewayError('rate_limited', 'Too many request bodies in flight; retry shortly', {
    retryAfter: 1,
  });

  // A callback hook, not an async one: it runs on every request and a promise per request shows in profiles.
  app.addHook('onRequest', (req, reply, done) => {
    if (runtime.draining) {
      const error = new GatewayError('provider_unavailable', 'The gateway is shutting down; retry on another instance');
      reply.header('connection', 'close');
      void sendBeforeRoute(req, reply, error);
      return;
    }
    if (req.routeOptions.url?.startsWith('/v1/') || budget.admit(req)) {
      done();
      return;
    }
    reply
      .code(tooManyBodies.status)
      .headers({ connection: 'close', 'retry-after': '1' })
      .send(openAIErrorBody(tooManyBodies));
  });

  app.setErrorHandler((err, req, reply) => {
    const error = toClientError(err);
    if (error.code === 'internal_error') runtime.logger.error({ err, url: req.url }, 'unhandled error');
    return sendBeforeRoute(req, reply, error);
  });

  app.setNotFoundHandler((req, reply) => {
    const error = new GatewayError('not_found', `No route for ${req.method} ${clipped(req.url.split('?')[0] ?? '')}`);
    return reply.code(404).send(openAIErrorBody(error));
  });

  const { pipeline, idempotency } = runtime;
  registerChatRoute(app, { path: '/v1/chat/completions', codec: openAIChatCodec, pipeline, budget, idempotency });
  registerChatRoute(app, { path: '/v1/messages', codec: anthropicMessagesCodec, pipeline, budget, idempotency });
  registerResponsesRoutes(app, { pipeline, budget, store: runtime.responses, logger: runtime.logger, idempotency });
  registerCountTokensRoute(app, { path: '/v1/messages/count_tokens', codec: anthropicMessagesCodec, pipeline, budget });
  registerEmbeddingsRoute(app, { path: '/v1/embeddings', codec: openAIEmbeddingsCodec, pipeline, budget });
  if (runtime.executions) {
    registerExecutionRoutes(app, { pipeline, budget, service: runtime.executions.service, idempotency });
  }
  registerModels(app, pipeline, budget, Date.now());
  registerAccountPlans(app, { pipeline, budget, ledger: runtime.ledger });
  registerWebhookRoutes(app, { pipeline, budget, webhooks: runtime.webhooks, logger: runtime.logger });
  registerFilesRoutes(app, { pipeline, budget, files: runtime.files, idempotency, logger: runtime.logger });
  registerOps(app, runtime);
  registerStripeWebhook(app, runtime);
  registerDashboard(app, runtime);
  return app;
}

/** The protocol of an API path, for answers given before its route ran. */
function codecOfUrl(url: string): ErrorCodec {
  if (url.startsWith('/v1/messages')) return anthropicMessagesCodec;
  if (url.startsWith('/v1/responses')) return openAIResponsesCodec;
  return url.startsWith('/v1/embeddings') ? openAIEmbeddingsCodec : openAIChatCodec;
}
