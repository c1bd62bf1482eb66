import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { GatewayError } from '../core/errors.ts';
import { toClientError } from '../http/client-errors.ts';
import type { Caller } from '../pipeline/context.ts';
import type { Pipeline } from '../pipeline/pipeline.ts';
import type { BodyBudget } from './body-budget.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by authenticateFirst on API routes, before the body is read. */
    caller: Caller | undefined;
  }
}

/** Answers a request refused before its body was read, in the route's own error envelope. */
export type EarlyRejection = (req: FastifyRequest, reply: FastifyReply, error: GatewayError) => unknown;

/**
 * The API routes' first hook, the pipeline's authenticate stage: the caller is identified from the headers
 * alone, before a byte of the body is read, so a request without a valid credential costs a hash lookup and
 * is answered (with `Connection: close`, dropping whatever body it was sending) instead of holding memory
 * while a slow body trickles in. A caller no provider has verified yet (a new bring-your-own key) must also
 * fit its body into the shared budget of unverified bytes, or gets 429.
 */
export function authenticateFirst(
  pipeline: Pipeline,
  budget: BodyBudget,
  reject: EarlyRejection,
): onRequestHookHandler {
  return (req, reply, done) => {
    const refuse = (err: unknown) => {
      reply.header('connection', 'close');
      reject(req, reply, toClientError(err));
    };
    const admit = (caller: Caller) => {
      req.caller = caller;
      if (!pipeline.verified(caller) && !budget.admit(req)) {
        reply.header('retry-after', '1');
        refuse(
          new GatewayError(
            'rate_limited',
            'Too many request bodies from unverified callers are in flight; retry shortly',
            {
              retryAfter: 1,
            },
          ),
        );
        return;
      }
      done();
    };
    let result: Caller | Promise<Caller>;
    try {
      result = pipeline.authenticate(req.headers);
    } catch (err) {
      refuse(err);
      return;
    }
    if (result instanceof Promise) result.then(admit, refuse);
    else admit(result);
  };
}

/** The caller authenticateFirst identified; a route without that hook is a programming error. */
export function callerOf(req: FastifyRequest): Caller {
  if (!req.caller) throw new Error(`route ${req.url} did not authenticate first`);
  return req.caller;
}
