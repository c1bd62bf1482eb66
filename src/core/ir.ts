/**
 * The internal representation (IR): the one request, response and stream-event shape that every inbound
 * protocol (OpenAI chat, Anthropic messages) parses into and every provider adapter translates to and from.
 *
 * Conventions
 * - Token counts follow the price-library convention: `inputTokens` is the whole prompt, including cached
 *   and cache-write tokens; `outputTokens` includes reasoning tokens. Adapters whose provider reports the
 *   partitions separately (Anthropic) add them up.
 * - Tool-call arguments stay a JSON string, as every wire format carries them; nobody parses them on the
 *   way through.
 * - `inbound` keeps the caller's original body so that an adapter speaking the same protocol can forward
 *   it nearly untouched (the pass-through fast path), including fields the IR does not model.
 */

export type InboundProtocol = 'openai-chat' | 'openai-responses' | 'anthropic-messages' | 'openai-embeddings';

// ---------- content ----------

export interface TextPart {
  type: 'text';
  text: string;
  /** Anthropic prompt-caching marker, carried so Anthropic-bound requests keep it. */
  cacheControl?: { type: 'ephemeral'; ttl?: string };
}

export type ImageSource = { kind: 'url'; url: string } | { kind: 'base64'; mediaType: string; data: string };

export interface ImagePart {
  type: 'image';
  source: ImageSource;
  /** OpenAI's `detail` hint (auto, low, high); others ignore it. */
  detail?: string;
}

export type ContentPart = TextPart | ImagePart;

export interface ToolCall {
  id: string;
  name: string;
  /** JSON text of the arguments, exactly as produced by the model. */
  arguments: string;
}

/** A block of model reasoning ("thinking"), kept for providers that need it echoed back (Anthropic signatures). */
export interface ReasoningBlock {
  text: string;
  signature?: string;
  /** Anthropic `redacted_thinking` payload. */
  redactedData?: string;
}

export interface SystemMessage {
  role: 'system';
  content: TextPart[];
}

export interface UserMessage {
  role: 'user';
  content: ContentPart[];
  name?: string;
}

export interface AssistantMessage {
  role: 'assistant';
  content: TextPart[];
  toolCalls?: ToolCall[];
  reasoning?: ReasoningBlock[];
  refusal?: string;
  name?: string;
}

export interface ToolMessage {
  role: 'tool';
  toolCallId: string;
  content: ContentPart[];
  isError?: boolean;
}

export type Message = SystemMessage | UserMessage | AssistantMessage | ToolMessage;

// ---------- request ----------

export interface ToolDefinition {
  name: string;
  description?: string;
  /** JSON Schema of the arguments. */
  parameters: Record<string, unknown>;
  strict?: boolean;
}

export type ToolChoice = { type: 'auto' } | { type: 'none' } | { type: 'required' } | { type: 'tool'; name: string };

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; name: string; schema: Record<string, unknown>; strict?: boolean; description?: string };

export interface ReasoningOptions {
  /** OpenAI-style effort; adapters map it to budgets where the provider wants tokens. */
  effort?: 'minimal' | 'low' | 'medium' | 'high';
  /** Anthropic/Gemini-style explicit budget. */
  budgetTokens?: number;
}

export interface ChatRequest {
  /** What the caller asked for: `auto`, a tier, `tier:preset`, or a catalog model id. */
  model: string;
  messages: Message[];
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  parallelToolCalls?: boolean;
  responseFormat?: ResponseFormat;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  stop?: string[];
  seed?: number;
  n?: number;
  frequencyPenalty?: number;
  presencePenalty?: number;
  logprobs?: boolean;
  topLogprobs?: number;
  logitBias?: Record<string, number>;
  user?: string;
  reasoning?: ReasoningOptions;
  stream: boolean;
  /** The client asked for the usage chunk (`stream_options.include_usage`); upstream is always asked. */
  includeUsage: boolean;
  /**
   * Set by a decoder when the request uses what only some provider kinds serve (Anthropic's server tools,
   * documents…): admission keeps it to providers of those kinds, or refuses it, instead of letting a
   * translation silently drop parts of it.
   */
  requires?: { providerKinds: string[]; features: string[] };
  /** The caller's original request, for same-protocol pass-through. Never mutated. */
  inbound: {
    protocol: InboundProtocol;
    body: Record<string, unknown>;
    /** Headers a pass-through forwards (Anthropic: `anthropic-beta`, `anthropic-version`); lower-case names. */
    headers?: Record<string, string>;
    /**
     * `false`: the answer must be translated even where a same-protocol upstream could take the body as it is
     * (the gateway reads or completes it: a stored response, a conversation continued from the store).
     */
    passthrough?: false;
  };
}

// ---------- response ----------

/**
 * Why a choice ended. `stop` covers natural end and stop sequences (`stopSequence` says which one);
 * `error` is only used on streams cut by an upstream failure.
 */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'error';

export interface Usage {
  /** Whole prompt, including cached and cache-write tokens. */
  inputTokens: number;
  /** Part of inputTokens read from the provider's prompt cache. */
  cachedInputTokens: number;
  /** Part of inputTokens written to the prompt cache (Anthropic cache creation). */
  cacheWriteTokens: number;
  /** Everything generated, including reasoning tokens. */
  outputTokens: number;
  /** Part of outputTokens spent on reasoning. */
  reasoningTokens: number;
}

export interface ChoiceMessage {
  content: string | null;
  toolCalls?: ToolCall[];
  reasoning?: ReasoningBlock[];
  refusal?: string | null;
}

export interface Choice {
  index: number;
  message: ChoiceMessage;
  finishReason: FinishReason;
  stopSequence?: string;
  /** OpenAI logprobs object, carried opaque. */
  logprobs?: unknown;
}

export interface ChatResponse {
  id: string;
  /** Unix seconds. */
  created: number;
  /** The model the upstream says answered. */
  model: string;
  choices: Choice[];
  usage: Usage;
  systemFingerprint?: string;
  serviceTier?: string;
}

// ---------- stream ----------

export type StreamEvent =
  | { type: 'start'; id: string; model: string; created: number }
  | { type: 'text'; choice: number; delta: string }
  | { type: 'reasoning'; choice: number; delta: string; signature?: string; redactedData?: string }
  /** First event of a tool call carries id and name; later ones append argument text. */
  | { type: 'tool-call'; choice: number; index: number; id?: string; name?: string; argumentsDelta: string }
  | { type: 'refusal'; choice: number; delta: string }
  | { type: 'logprobs'; choice: number; logprobs: unknown }
  | { type: 'finish'; choice: number; reason: FinishReason; stopSequence?: string }
  /** Cumulative usage so far; the last one wins. */
  | { type: 'usage'; usage: Usage };

export const ZERO_USAGE: Readonly<Usage> = Object.freeze({
  inputTokens: 0,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
});

export function emptyUsage(): Usage {
  return { ...ZERO_USAGE };
}

// ---------- embeddings ----------

/** What to embed: texts, or texts already tokenized by the caller (OpenAI's token arrays). One vector each. */
export type EmbeddingInput = { kind: 'text'; texts: string[] } | { kind: 'tokens'; tokens: number[][] };

/** How vectors travel on the wire: JSON numbers, or base64 of little-endian float32 bytes. */
export type EmbeddingEncoding = 'float' | 'base64';

export interface EmbeddingRequest {
  /** A catalog model id (`provider/model`) or a bare model name; tiers do not apply (docs/embeddings.md). */
  model: string;
  input: EmbeddingInput;
  /** Output dimensions asked for (models that can shorten their vectors). */
  dimensions?: number;
  /** What the caller wants back; adapters may get the other from upstream, the codec converts. */
  encodingFormat: EmbeddingEncoding;
  user?: string;
  /** The caller's original body, for an upstream that speaks the same protocol. Never mutated. */
  inbound: { protocol: InboundProtocol; body: Record<string, unknown> };
}

/** One vector as the upstream sent it: numbers, or base64 of little-endian float32 (never re-encoded needlessly). */
export type EmbeddingVector = number[] | string;

export interface EmbeddingResponse {
  /** The model the upstream says answered. */
  model: string;
  /** One per input, in input order. */
  vectors: EmbeddingVector[];
  /** `inputTokens` only: embeddings generate nothing. */
  usage: Usage;
}
