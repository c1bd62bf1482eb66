import type { CatalogModel } from '../billing/catalog-types.ts';
import type {
  ChatRequest,
  ChatResponse,
  EmbeddingRequest,
  EmbeddingResponse,
  InboundProtocol,
  StreamEvent,
  Usage,
} from '../core/ir.ts';
import type { TokenCounter } from '../tokens/token-counter.ts';
import type { UpstreamPool } from './http.ts';
import type { ProviderKind } from './kinds/index.ts';

/**
 * The provider adapter interface. One adapter per wire protocol (openai-compatible, anthropic, gemini,
 * bedrock, plus the in-process demo); each lives in its own folder under src/providers/ and translates the
 * internal representation (src/core/ir.ts) to its wire format and back. Adapters are stateless: keys,
 * health and failover belong to the gateway.
 */

/**
 * A provider credential. `id` is a stable, non-secret label used in logs, metrics and usage records. Build
 * keys with `providerKey()` (provider-key.ts): it makes the secret parts non-enumerable, so no log line or
 * serialised object can carry them.
 */
export interface ProviderKey {
  readonly id: string;
  readonly secret: string;
  /** Bedrock: the secret is the access key id; these complete the AWS credentials. */
  readonly secretAccessKey?: string;
  readonly sessionToken?: string;
}

/** A configured provider instance (there may be several of one kind, e.g. two Azure resources). */
export interface ProviderSpec {
  /** Operator-chosen id, unique: `openai`, `azure-eu`, `local-ollama`. */
  id: string;
  kind: ProviderKind;
  /** Base URL without a trailing slash, e.g. `https://api.openai.com/v1`. */
  baseUrl: string;
  keys: ProviderKey[];
  /** Kind-specific settings: Azure `apiVersion`, Bedrock `region`, extra headers... */
  options: Record<string, string>;
  timeouts: Timeouts;
  limits: UpstreamLimits;
}

export interface Timeouts {
  /** TCP/TLS connect. */
  connectMs: number;
  /** Until the response headers (and for streams, the first event) arrive. */
  firstByteMs: number;
  /** Whole attempt, body included. */
  totalMs: number;
}

/**
 * Caps on what one upstream answer may send (config `limits.upstream`, overridable per provider). Readers check
 * them as bytes arrive, so an oversized answer is refused before it is held in memory; over a cap is a
 * retryable provider_unavailable.
 */
export interface UpstreamLimits {
  /**
   * One SSE event (counted in decoded characters: up to 3 bytes each on the wire, at most 2 in memory) or one
   * AWS event-stream frame (bytes).
   */
  maxEventBytes: number;
  /** Every byte of one streamed answer. */
  maxStreamBytes: number;
  /** A whole non-streamed answer. */
  maxBodyBytes: number;
}

export interface UpstreamTarget {
  provider: ProviderSpec;
  model: CatalogModel;
  key: ProviderKey;
}

export interface CallContext {
  requestId: string;
  /** The runtime's upstream connection pools. */
  pool: UpstreamPool;
  /** Aborted when the client goes away or the attempt's total time is up. */
  signal: AbortSignal;
  /** Token counts for usage an upstream did not report (tokens/tokens.ts), within their budget. */
  tokens: TokenCounter;
}

/** A frame of a same-protocol stream, forwarded as bytes unless the gateway must touch it. */
export interface PassthroughFrame {
  /** SSE `event:` name, for protocols that use it (Anthropic). */
  event?: string;
  /** The SSE `data:` payload to forward: as received, unless the adapter moved usage out of it (see usageOnly). */
  data: string;
  /** The parsed payload (adapters parse every frame to meter it and catch in-band errors). */
  json: Record<string, unknown>;
  /** Cumulative usage, when this frame reports it. */
  usage?: Usage;
  /** The wire's own usage object (wherever the provider put it), for a protocol that re-renders usage. */
  upstreamUsage?: Record<string, unknown>;
  /**
   * The frame only reports usage (no content): a protocol that renders its own usage frame at the end (with
   * the gateway's cost) holds it back. When a provider mixes usage into a content frame, the adapter moves
   * it out of `data` and sets `usage`, so what is forwarded never carries usage twice.
   */
  usageOnly?: boolean;
  /** The text this frame delivered to the client (content, tool arguments, reasoning), for metering a cut stream. */
  delivered?: string;
}

export interface PassthroughResponse {
  /** The upstream body, exactly as received. */
  body: Uint8Array;
  /** Its parsed form (already needed for metering); do not re-serialise it unless you must change it. */
  json: Record<string, unknown>;
  usage: Usage;
  /** The model the upstream says answered. */
  model: string;
}

/** Same-protocol fast path: the caller's body goes upstream with minimal edits and comes back as bytes. */
export interface PassthroughAdapter {
  readonly protocol: InboundProtocol;
  /** Whether this target can take this request as it is (default: yes). */
  serves?(request: ChatRequest, target: UpstreamTarget): boolean;
  complete(request: ChatRequest, target: UpstreamTarget, ctx: CallContext): Promise<PassthroughResponse>;
  /** Resolves once the upstream accepted the request (2xx headers); the iterator throws GatewayError. */
  stream(request: ChatRequest, target: UpstreamTarget, ctx: CallContext): Promise<AsyncIterable<PassthroughFrame>>;
}

export interface ProviderAdapter {
  /** Wire protocol name: `openai-compatible`, `anthropic`, `gemini`, `bedrock`, `demo`. */
  readonly wire: string;
  /** Non-streaming call. Throws GatewayError (mapped through the provider's error table). */
  complete(request: ChatRequest, target: UpstreamTarget, ctx: CallContext): Promise<ChatResponse>;
  /**
   * Streaming call. Resolves once the upstream accepted the request (2xx headers); the iterator yields IR
   * events and throws GatewayError on upstream failure, malformed frames or a stream cut short.
   */
  stream(request: ChatRequest, target: UpstreamTarget, ctx: CallContext): Promise<AsyncIterable<StreamEvent>>;
  /** Present when the adapter can forward the caller's own protocol unchanged. */
  /** Same-protocol fast paths, at most one per inbound protocol. */
  passthroughs?: readonly PassthroughAdapter[];
  /** The provider's own exact count of the prompt's input tokens; absent when it has none (a local count serves). */
  countTokens?(request: ChatRequest, target: UpstreamTarget, ctx: CallContext): Promise<number>;
  /**
   * Why this provider cannot serve this request although the model's capabilities allow it (a feature the
   * provider lacks, such as logprobs or n > 1), or undefined. Such a candidate is skipped, never called.
   */
  unsupportedReason?(request: ChatRequest, target: UpstreamTarget): string | undefined;
  /** Present when the wire protocol has an embeddings call (`POST /v1/embeddings` routes only to these). */
  embeddings?: EmbeddingsAdapter;
  /**
   * The provider's model-listing endpoint (model discovery): every model it says it serves with this key.
   * Throws GatewayError (status only, never the upstream's message). Absent where the wire has none.
   */
  listModels?(provider: ProviderSpec, key: ProviderKey, ctx: ListingContext): Promise<ListedModel[]>;
}

/** The embeddings call of a wire protocol. */
export interface EmbeddingsAdapter {
  /** One vector per input, in input order, with the input tokens. Throws GatewayError. */
  embed(request: EmbeddingRequest, target: UpstreamTarget, ctx: CallContext): Promise<EmbeddingResponse>;
  /** Why this provider cannot serve this request (token arrays on a text-only API…), or undefined. */
  unsupportedReason?(request: EmbeddingRequest, target: UpstreamTarget): string | undefined;
}

/** The pass-through of this adapter for this request and target, if one serves it. */
export function passthroughFor(
  adapter: ProviderAdapter,
  request: ChatRequest,
  target: UpstreamTarget,
): PassthroughAdapter | undefined {
  if (request.inbound.passthrough === false) return undefined;
  const pass = adapter.passthroughs?.find((p) => p.protocol === request.inbound.protocol);
  return pass && (pass.serves?.(request, target) ?? true) ? pass : undefined;
}

/** A model a provider's model-listing endpoint names (model discovery, src/catalog/discovery.ts). */
export interface ListedModel {
  /** The name the provider takes in requests (`gpt-4o-mini`; Gemini's without `models/`). */
  name: string;
  /** Set when the listing says the model only embeds (Gemini's supported methods). */
  mode?: 'embedding';
}

/** What a listing call gets: the runtime's pools and a cancellation. */
export interface ListingContext {
  pool: UpstreamPool;
  signal: AbortSignal;
}
