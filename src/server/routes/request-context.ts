import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayError } from '../../core/errors.ts';
import type { ChatRequest, InboundProtocol } from '../../core/ir.ts';
import {
  attemptsOf,
  type Completion,
  type Gateway,
  type RequestContext,
  servedOutcome,
  targetOf,
} from '../../gateway/gateway.ts';
import { toClientError } from '../errors.ts';

/** The parts of a request context known before authentication and parsing. */
export interface RequestStart {
  requestId: string;
  at: number;
  startedAt: number;
  signal: AbortSignal;
  /** Aborts `signal` (the gateway ending a request itself, e.g. at shutdown). */
  abort(reason: unknown): void;
  protocol: InboundProtocol;
}

/**
 * Stamps a request with its id and start time, and an abort signal that fires if the client goes away
 * before the response is complete (so upstream calls stop too).
 */
export function beginRequest(
  _req: FastifyRequest,
  reply: FastifyReply,
  protocol: InboundProtocol = 'openai-chat',
): RequestStart {
  const controller = new AbortController();
  const res = reply.raw;
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(new Error('client closed the connection'));
  });
  return {
    requestId: newRequestId(),
    at: Date.now(),
    startedAt: performance.now(),
    signal: controller.signal,
    abort: (reason) => controller.abort(reason),
    protocol,
  };
}

/**
 * Records a request refused before routing (auth, validation, unparsable body): every request leaves a record.
 * Resolves once the record is durable; await it before sending the response.
 */
export function recordEarlyError(
  gateway: Gateway,
  start: RequestStart,
  rawBody: unknown,
  error: GatewayError,
): Promise<void> {
  const body = rawBody !== null && typeof rawBody === 'object' ? (rawBody as Record<string, unknown>) : undefined;
  const request: ChatRequest = {
    model: typeof body?.['model'] === 'string' ? (body['model'] as string).slice(0, 256) : '',
    messages: [],
    stream: body?.['stream'] === true,
    includeUsage: false,
    inbound: { protocol: start.protocol, body: {} },
  };
  return gateway.record(
    { ...start, caller: { tenantId: '-', keyId: null, policy: {} }, request },
    { attempts: 0, costNano: 0, status: error.status, errorCode: error.code, ttfbMs: null },
  );
}

/**
 * `req_` + 12 hex digits of the millisecond clock + 20 random hex digits (80 bits): unique, and ordered by
 * time, so the usage table's unique index on it grows at its end instead of at random places (cheaper
 * inserts, better locality), like UUIDv7. Random bytes are drawn in blocks to keep this off the hot path.
 */
let pool = Buffer.alloc(0);
let offset = 0;
export function newRequestId(): string {
  if (offset + 10 > pool.length) {
    pool = randomBytes(10 * 256);
    offset = 0;
  }
  const random = pool.toString('hex', offset, offset + 10);
  offset += 10;
  return `req_${Date.now().toString(16).padStart(12, '0')}${random}`;
}

/** Records a request that failed once routing had begun (durably), and returns what its client is told. */
export async function recordRoutedFailure(
  gateway: Gateway,
  ctx: RequestContext,
  err: unknown,
): Promise<{ error: GatewayError; attempts: number }> {
  const error = toClientError(err);
  if (error.code === 'internal_error') gateway.deps.logger.error({ err, requestId: ctx.requestId }, 'request failed');
  const attempts = attemptsOf(err);
  await gateway.record(ctx, {
    target: targetOf(err),
    attempts,
    costNano: 0,
    status: ctx.signal.aborted ? 499 : error.status,
    errorCode: ctx.signal.aborted ? null : error.code,
    ttfbMs: null,
  });
  return { error, attempts };
}

/** Records a completed non-streaming request (durably); returns its cost (nano-dollars) for the headers. */
export async function recordCompletion(gateway: Gateway, ctx: RequestContext, done: Completion): Promise<number> {
  const costNano = gateway.cost(done.response.usage, done.target.model);
  await gateway.record(ctx, { ...servedOutcome(done), usage: done.response.usage, costNano });
  return costNano;
}

/** A pass-through body as a Buffer view (no copy). */
export function passthroughBytes(body: Uint8Array): Buffer {
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}
