import { randomBytes } from 'node:crypto';
import type { Hold } from '../billing/ledger.ts';
import type { ChatRequest, EmbeddingRequest, InboundProtocol } from '../core/ir.ts';
import type { CompiledLimits } from '../limits/key-limits.ts';
import type { LimitTicket } from '../limits/limiter.ts';
import type { ProviderKey } from '../providers/types.ts';
import type { RoutingPolicy } from '../router/router.ts';

/**
 * Who is calling and what they asked: the values every pipeline stage reads. The HTTP layer makes a
 * RequestStart when a request arrives (its id, clock and cancellation), authentication adds the Caller, the
 * protocol codec adds the decoded request.
 */

/** Who is calling, as authentication resolved it. */
export interface Caller {
  tenantId: string;
  keyId: string | null;
  policy: RoutingPolicy;
  /**
   * Bring-your-own-key: the caller's own credential for one provider; used instead of the operator's keys
   * and never stored. Undefined for managed keys.
   */
  ownKey?: { provider: string; key: ProviderKey };
  /** The managed key's limits (rates, quota, addresses, models, scopes); absent: not limited. */
  limits?: CompiledLimits | undefined;
}

/** What is known of a request before it is decoded. */
export interface RequestStart {
  requestId: string;
  /** ms epoch when the request arrived. */
  at: number;
  /** performance.now() at arrival, for latency. */
  startedAt: number;
  /** Aborted when the client goes away, or by `abort`. */
  signal: AbortSignal;
  /** Stops the request's upstream work (the gateway ending a stream itself, at shutdown). */
  abort(reason: unknown): void;
  protocol: InboundProtocol;
  /** The client's address: the socket peer, or X-Forwarded-For behind a trusted proxy (server.trustedProxies). */
  clientIp: string;
}

/** A decoded request of a known caller: what the pipeline handles. */
export interface RequestContext extends RequestStart {
  caller: Caller;
  request: ChatRequest;
  /** Set by admission for a key with limits: settled with the request's real tokens and cost when it ends. */
  ticket?: LimitTicket | undefined;
  /** A billed account's hold on its balance (docs/billing.md): settled at the cost when the request ends. */
  hold?: Hold | undefined;
  execution?: { id: string } | undefined;
}

/** A decoded embeddings request of a known caller (`Pipeline.embed`). */
export interface EmbeddingContext extends RequestStart {
  caller: Caller;
  request: EmbeddingRequest;
  ticket?: LimitTicket | undefined;
  hold?: Hold | undefined;
}

/** What admission, failover and recording read of any request, chat or embeddings. */
export interface CallerContext extends RequestStart {
  caller: Caller;
  request: { model: string; stream?: boolean; requires?: ChatRequest['requires'] };
  ticket?: LimitTicket | undefined;
  hold?: Hold | undefined;
  /**
   * The run of an asynchronous execution (src/executions/): admitted, counted against the key's rates and held
   * at submission, so the pipeline neither counts nor holds again; the execution settles its own hold.
   */
  execution?: { id: string } | undefined;
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

/** A request's start, bound to a cancellation the caller triggers when its client goes away. */
export function startRequest(
  protocol: InboundProtocol,
  clientIp = '',
): { start: RequestStart; cancel(reason: unknown): void } {
  const controller = new AbortController();
  const abort = (reason: unknown) => controller.abort(reason);
  return {
    start: {
      requestId: newRequestId(),
      at: Date.now(),
      startedAt: performance.now(),
      signal: controller.signal,
      abort,
      protocol,
      clientIp,
    },
    cancel: abort,
  };
}
