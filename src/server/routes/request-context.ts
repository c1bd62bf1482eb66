import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { InboundProtocol } from '../../core/ir.ts';

/** The parts of a request context known before authentication and parsing. */
export interface RequestStart {
  requestId: string;
  at: number;
  startedAt: number;
  signal: AbortSignal;
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
    requestId: `req_${randomUUID().replaceAll('-', '')}`,
    at: Date.now(),
    startedAt: performance.now(),
    signal: controller.signal,
    protocol,
  };
}
