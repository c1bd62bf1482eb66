import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError } from '../../core/errors.ts';
import { toClientError } from '../../http/client-errors.ts';
import type { Endpoint } from '../../limits/key-limits.ts';
import type { Logger } from '../../ops/logger.ts';
import { keyAccess } from '../../pipeline/admit.ts';
import type { Caller } from '../../pipeline/context.ts';
import type { Pipeline } from '../../pipeline/pipeline.ts';
import { openAIChatCodec } from '../../protocols/openai-chat/codec.ts';
import type { AttemptRow, DeliveryRow, DeliveryState } from '../../webhooks/outbox.ts';
import type { SecretView } from '../../webhooks/signing-secrets.ts';
import type { Webhooks } from '../../webhooks/webhooks.ts';
import { sendError } from '../answer.ts';
import { authenticateFirst, callerOf } from '../authenticate-first.ts';
import type { BodyBudget } from '../body-budget.ts';

/**
 * The tenant's webhook API (docs/executions.md), authenticated like every /v1 route; everything is the
 * caller's tenant's own, and another tenant's delivery id is 404 like one that does not exist.
 *
 *   GET  /v1/webhooks/deliveries?limit&starting_after&status&message_id   deliveries, newest first, with attempts
 *   GET  /v1/webhooks/deliveries/{id}                                      one delivery with its attempts
 *   POST /v1/webhooks/deliveries/{id}/redeliver                            one more attempt now, same webhook-id
 *   GET  /v1/webhooks/secret                                               the signing secret (created on first need)
 *   POST /v1/webhooks/secret/rotate                                        a new secret; the old one signs beside it a while
 *
 * Scopes: the delivery log needs `webhooks`, `executions` or `read-only`; the rest `webhooks` or `executions` (a key
 * without scopes: all).
 */
export function registerWebhookRoutes(
  parent: FastifyInstance,
  deps: { pipeline: Pipeline; budget: BodyBudget; webhooks: Webhooks; logger: Pick<Logger, 'error'> },
): void {
  // In a scope of their own: the POST routes take no body, so whatever a client sends (nothing, `{}`, an empty
  // body labelled JSON) is ignored, and errors are answered here, in the envelope, recording no usage.
  parent.register(async (app) => {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 64 * 1024 }, (_req, _body, done) =>
      done(null, undefined),
    );
    app.setErrorHandler((err, req, reply) => {
      const error = toClientError(err);
      if (error.code === 'internal_error') deps.logger.error({ err, url: req.url }, 'webhook API error');
      return fail(reply, error);
    });
    routes(app, deps);
  });
}

function routes(
  app: FastifyInstance,
  { pipeline, budget, webhooks }: { pipeline: Pipeline; budget: BodyBudget; webhooks: Webhooks },
) {
  const onRequest = authenticateFirst(pipeline, budget, (_req, reply, error) => fail(reply, error));
  const { outbox, secrets } = webhooks;

  app.get<{ Querystring: Record<string, string | undefined> }>(
    '/v1/webhooks/deliveries',
    { onRequest },
    async (req, reply) => {
      const caller = allowed(req, reply, 'webhook_deliveries');
      if (!caller) return reply;
      const query = listQuery(req.query);
      if (query instanceof GatewayError) return fail(reply, query);
      const { rows, hasMore } = await outbox.list(caller.tenantId, query);
      const attempts = await outbox.attemptsOf(
        caller.tenantId,
        rows.map((r) => r.id),
      );
      const data = rows.map((row) => deliveryJson(row, attempts.get(row.id) ?? []));
      return reply.send({ object: 'list', data, has_more: hasMore, last_id: data.at(-1)?.id ?? null });
    },
  );

  app.get<{ Params: { id: string } }>('/v1/webhooks/deliveries/:id', { onRequest }, async (req, reply) => {
    const caller = allowed(req, reply, 'webhook_deliveries');
    if (!caller) return reply;
    const row = await outbox.get(caller.tenantId, req.params.id);
    if (!row) return fail(reply, notFound(req.params.id));
    const attempts = await outbox.attemptsOf(caller.tenantId, [row.id]);
    return reply.send(deliveryJson(row, attempts.get(row.id) ?? []));
  });

  app.post<{ Params: { id: string } }>('/v1/webhooks/deliveries/:id/redeliver', { onRequest }, async (req, reply) => {
    const caller = allowed(req, reply, 'webhooks_manage');
    if (!caller) return reply;
    const row = await outbox.redeliver(caller.tenantId, req.params.id);
    if (!row) return fail(reply, notFound(req.params.id));
    webhooks.deliverer.wake();
    const attempts = await outbox.attemptsOf(caller.tenantId, [row.id]);
    return reply.code(202).send(deliveryJson(row, attempts.get(row.id) ?? []));
  });

  app.get('/v1/webhooks/secret', { onRequest }, async (req, reply) => {
    const caller = allowed(req, reply, 'webhooks_manage');
    if (!caller) return reply;
    return reply.header('cache-control', 'no-store').send(secretJson(await secrets.get(caller.tenantId)));
  });

  app.post('/v1/webhooks/secret/rotate', { onRequest }, async (req, reply) => {
    const caller = allowed(req, reply, 'webhooks_manage');
    if (!caller) return reply;
    return reply.header('cache-control', 'no-store').send(secretJson(await secrets.rotate(caller.tenantId)));
  });
}

/** The caller if its key may call this endpoint from its address; otherwise the refusal is sent. */
function allowed(req: FastifyRequest, reply: FastifyReply, endpoint: Endpoint): Caller | undefined {
  const caller = callerOf(req);
  const refused = keyAccess(caller, req.ip, endpoint);
  if (!refused) return caller;
  void fail(reply, refused);
  return undefined;
}

function fail(reply: FastifyReply, error: GatewayError) {
  return sendError(reply, openAIChatCodec, error, {}, '');
}

function notFound(id: string): GatewayError {
  return new GatewayError('not_found', `No webhook delivery '${id.slice(0, 100)}'`);
}

const STATES: readonly DeliveryState[] = ['pending', 'delivered', 'failed'];

function listQuery(q: Record<string, string | undefined>) {
  const invalid = (param: string, why: string) => new GatewayError('invalid_request', `${param} ${why}`, { param });
  let limit = 20;
  if (q['limit'] !== undefined) {
    limit = Number(q['limit']);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100)
      return invalid('limit', 'must be a whole number from 1 to 100');
  }
  const status = q['status'];
  if (status !== undefined && !STATES.includes(status as DeliveryState)) {
    return invalid('status', `must be one of ${STATES.join(', ')}`);
  }
  return {
    limit,
    startingAfter: q['starting_after'] || undefined,
    state: status as DeliveryState | undefined,
    messageId: q['message_id'] || undefined,
  };
}

const seconds = (ms: number | null) => (ms === null ? null : Math.floor(ms / 1000));

function deliveryJson(row: DeliveryRow, attempts: AttemptRow[]) {
  const inProgress = row.state === 'pending' && row.lease_token !== null;
  return {
    object: 'webhook_delivery',
    id: row.id,
    message_id: row.message_id,
    type: row.type,
    url: row.url,
    status: row.state,
    attempt_count: row.attempts,
    in_progress: inProgress,
    next_attempt_at: row.state === 'pending' && !inProgress ? seconds(row.next_at) : null,
    created_at: seconds(row.created_at),
    delivered_at: seconds(row.delivered_at),
    last_status_code: row.last_status,
    last_error: row.last_error,
    attempts: attempts.map((a) => ({
      at: seconds(a.at),
      duration_ms: a.duration_ms,
      status_code: a.status,
      error: a.error,
      response_excerpt: a.excerpt,
      manual: a.manual === 1,
    })),
  };
}

function secretJson(view: SecretView) {
  return {
    object: 'webhook_secret',
    secret: view.secret,
    created_at: seconds(view.createdAt),
    rotated_at: seconds(view.rotatedAt),
    previous_valid_until: seconds(view.previousValidUntil),
  };
}
