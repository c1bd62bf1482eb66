import type { FastifyReply } from 'fastify';
import type { InboundProtocol } from '../core/ir.ts';
import { type RequestStart, startRequest } from '../pipeline/context.ts';

/**
 * A request's start (id, clock, cancellation), cancelled if the client goes away before the response is
 * complete, so that upstream calls stop too.
 */
export function beginRequest(reply: FastifyReply, protocol: InboundProtocol): RequestStart {
  const { start, cancel } = startRequest(protocol, reply.request.ip);
  const res = reply.raw;
  res.once('close', () => {
    if (!res.writableFinished) cancel(new Error('client closed the connection'));
  });
  return start;
}
