import type { GatewayError } from '../core/errors.ts';
import type { ChatRequest, EmbeddingRequest, InboundProtocol, StreamEvent } from '../core/ir.ts';
import type { Embedded, Handled } from '../pipeline/outcome.ts';
import type { PipelineStream, StreamEnd } from '../pipeline/stream.ts';
import type { PassthroughFrame } from '../providers/types.ts';

/**
 * An inbound protocol as the HTTP layer sees it: decode its request into the internal one, encode what the
 * pipeline returns. A route is: decode, `pipeline.handle`, encode (src/server/routes/chat.ts); a new
 * protocol is one codec.
 */
export interface ProtocolCodec extends ErrorCodec {
  /** The request body (and protocol headers) → the internal request; throws GatewayError invalid_request. */
  decode(body: unknown, headers: Readonly<Record<string, string | string[] | undefined>>): ChatRequest;
  /** A finished answer: its body and the protocol's own headers. */
  encodeCompletion(done: Extract<Handled, { kind: 'completion' }>, requestId: string, request: ChatRequest): Encoded;
  /** The protocol's own headers on every answer that is not encoded by encodeCompletion (streams, counts). */
  answerHeaders(requestId: string): Record<string, string>;
  /** Frames of a stream, then its ending. */
  streamEncoder(
    stream: PipelineStream,
    request: { requestId: string; at: number; includeUsage: boolean; request: ChatRequest },
  ): StreamEncoder;
  /** The event that ends a stream with an error (SSE text). */
  encodeStreamError(error: GatewayError, requestId: string): string;
}

/** What every endpoint's codec does: name its protocol (usage records) and render errors in its envelope. */
export interface ErrorCodec {
  readonly protocol: InboundProtocol;
  /** An error answer in the protocol's envelope. */
  encodeError(error: GatewayError, requestId: string): Encoded & { status: number };
}

/** An embeddings endpoint: decode into the internal embeddings request, encode what `Pipeline.embed` returns. */
export interface EmbeddingsCodec extends ErrorCodec {
  /** The request body → the internal request; throws GatewayError invalid_request. */
  decode(body: unknown): EmbeddingRequest;
  encode(done: Extract<Embedded, { kind: 'embeddings' }>, request: EmbeddingRequest): Encoded;
}

export interface Encoded {
  body: string | Buffer;
  headers: Record<string, string>;
}

export interface StreamEncoder {
  /** SSE text for one frame of the stream, or undefined when the frame sends nothing (yet). */
  frame(frame: StreamEvent | PassthroughFrame): string | undefined;
  /** SSE text that ends a stream that did not fail: usage, cost, the protocol's terminator. */
  end(end: StreamEnd): string;
  /** SSE text that ends a stream that failed after its first bytes; the codec's encodeStreamError if absent. */
  error?(error: GatewayError): string;
}
