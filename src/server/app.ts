import Fastify from 'fastify';
import { GatewayError, openAIErrorBody } from '../core/errors.ts';
import { registerDashboard } from '../dashboard/register.ts';
import { renderAnthropicError } from '../protocols/anthropic-messages/index.ts';
import { toClientError } from './errors.ts';
import { registerChatCompletions, sendEarlyError } from './routes/chat-completions.ts';
import { registerMessages } from './routes/messages.ts';
import { registerModels } from './routes/models.ts';
import { registerOps } from './routes/ops.ts';
import { beginRequest, recordEarlyError } from './routes/request-context.ts';
import type { Runtime } from './runtime.ts';

/**
 * The HTTP layer: Fastify with a tiny surface. Routes are registered explicitly; each is thin and calls
 * plain functions. Fastify's request logging is off (one JSON log line per failure is enough on the hot
 * path); errors of every kind leave in OpenAI's envelope with one of the 12 codes.
 */
export function buildApp(runtime: Runtime) {
  const app = Fastify({
    logger: false,
    bodyLimit: runtime.config.server.bodyLimitBytes,
    return503OnClosing: false,
    keepAliveTimeout: 65_000,
    requestTimeout: 0,
  });

  // JSON.parse is faster than Fastify's prototype-poisoning-safe parser, and safe here: request bodies are
  // only read, or copied with object spread (own properties), never merged into prototypes.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => {
    if ((body as Buffer).length === 0) {
      done(new GatewayError('invalid_request', 'Request body is empty; send a JSON object'), undefined);
      return;
    }
    try {
      done(null, JSON.parse((body as Buffer).toString('utf8')));
    } catch {
      done(new GatewayError('invalid_request', 'Request body is not valid JSON'), undefined);
    }
  });

  // A callback hook, not an async one: it runs on every request and a promise per request shows in profiles.
  app.addHook('onRequest', (_req, reply, done) => {
    if (!runtime.draining) {
      done();
      return;
    }
    const error = new GatewayError('provider_unavailable', 'The gateway is shutting down; retry on another instance');
    reply.code(error.status).header('connection', 'close').send(openAIErrorBody(error));
  });

  app.setErrorHandler(async (err, req, reply) => {
    const error = toClientError(err);
    if (error.code === 'internal_error') runtime.logger.error({ err, url: req.url }, 'unhandled error');
    if (req.method === 'POST' && req.url.startsWith('/v1/messages')) {
      // Rejected before the route ran (unparsable or oversized body): still one usage record.
      const start = beginRequest(req, reply, 'anthropic-messages');
      await recordEarlyError(runtime.gateway, start, undefined, error);
      const rendered = renderAnthropicError(error, start.requestId);
      return reply.code(rendered.status).headers(rendered.headers).send(rendered.body);
    }
    if (req.method === 'POST' && req.url.startsWith('/v1/')) {
      return sendEarlyError(runtime.gateway, beginRequest(req, reply), req, reply, error);
    }
    return reply.code(error.status).send(openAIErrorBody(error));
  });

  app.setNotFoundHandler((req, reply) => {
    const error = new GatewayError('not_found', `No route for ${req.method} ${req.url.split('?')[0]}`);
    return reply.code(404).send(openAIErrorBody(error));
  });

  registerChatCompletions(app, runtime.gateway, runtime.auth);
  registerMessages(app, runtime.gateway, runtime.auth);
  registerModels(app, runtime.router, runtime.auth, Date.now());
  registerOps(app, runtime);
  registerDashboard(app, runtime);
  return app;
}
