import type { CatalogModel } from '../billing/catalog-types.ts';
import type { GatewayError } from '../core/errors.ts';
import type { ChatResponse, EmbeddingResponse, Usage } from '../core/ir.ts';
import type { PassthroughResponse, UpstreamTarget } from '../providers/types.ts';
import type { RouteDecision } from '../router/router.ts';
import type { PipelineStream } from './stream.ts';

/**
 * What the pipeline returns: values, never decorated errors. A route encodes them in its protocol; every
 * field a usage record or a header needs is here.
 */

/** How a request was served: the route taken, the upstream that answered, the attempts it took. */
export interface Served {
  decision: RouteDecision;
  target: UpstreamTarget;
  attempts: number;
  /** ms from arrival to the upstream's first byte (non-streaming: the whole response). */
  ttfbMs: number;
}

/** A request that ended in an error, and how far it got. */
export interface Failure {
  error: GatewayError;
  attempts: number;
  decision?: RouteDecision | undefined;
  /** The last upstream tried, if any. */
  target?: UpstreamTarget | undefined;
  /**
   * The model routing picked when a limit stopped the request before its first attempt (a balance hold, a
   * free-model rate): named in the error's headers like a target. Absent when no candidate could be tried.
   */
  chosen?: CatalogModel | undefined;
  /** Headers the refusal carries (a limited key's x-ratelimit-*). */
  headers?: Record<string, string> | undefined;
}

export type Attempted<T> = ({ ok: true } & T & Served) | ({ ok: false } & Failure);

/** Headers every answer carries: the request id, what ran and what it cost, the dashboard link on success. */
export type AnswerHeaders = Record<string, string>;

export type Handled =
  | {
      kind: 'completion';
      mode: 'ir';
      response: ChatResponse;
      served: Served;
      costNano: number;
      headers: AnswerHeaders;
    }
  | {
      kind: 'completion';
      mode: 'passthrough';
      response: PassthroughResponse;
      served: Served;
      costNano: number;
      headers: AnswerHeaders;
    }
  | { kind: 'stream'; stream: PipelineStream; headers: AnswerHeaders }
  | { kind: 'error'; error: GatewayError; headers: AnswerHeaders };

/** What `Pipeline.embed` returns: the vectors with how they were served and what they cost, or an error. */
export type Embedded =
  | { kind: 'embeddings'; response: EmbeddingResponse; served: Served; costNano: number; headers: AnswerHeaders }
  | Extract<Handled, { kind: 'error' }>;

export type Counted =
  | { kind: 'count'; inputTokens: number; headers: AnswerHeaders }
  | Extract<Handled, { kind: 'error' }>;

/** What a finished request leaves in its usage record. */
export interface Outcome {
  decision?: RouteDecision | undefined;
  target?: UpstreamTarget | undefined;
  attempts: number;
  usage?: Usage | undefined;
  costNano: number;
  status: number;
  errorCode: string | null;
  ttfbMs: number | null;
}
