import type { CacheTTL, ImageFormat, StopReason } from '@aws-sdk/client-bedrock-runtime';

/**
 * Bedrock Converse wire shapes as JSON. The official SDK's types (imported above where they match) model blobs
 * as Uint8Array and unions as tagged namespaces; on the wire a blob is a base64 string, so the JSON bodies are
 * typed here.
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html
 */

export type BedrockImageFormat = ImageFormat;
/** Empty member objects on the wire: `{"auto":{}}`. */
export type EmptyObject = Record<string, never>;

export interface BedrockCachePoint {
  cachePoint: { type: 'default'; ttl?: CacheTTL };
}

export interface BedrockImageBlock {
  format: BedrockImageFormat;
  source: { bytes: string } | { s3Location: { uri: string; bucketOwner?: string } };
}

export type BedrockToolResultContent = { text: string } | { json: unknown } | { image: BedrockImageBlock };

export type BedrockReasoningContent =
  | { reasoningText: { text: string; signature?: string } }
  | { redactedContent: string };

export type BedrockContentBlock =
  | { text: string }
  | { image: BedrockImageBlock }
  | { toolUse: { toolUseId: string; name: string; input: unknown } }
  | { toolResult: { toolUseId: string; content: BedrockToolResultContent[]; status?: 'success' | 'error' } }
  | { reasoningContent: BedrockReasoningContent }
  | BedrockCachePoint;

export type BedrockSystemBlock = { text: string } | BedrockCachePoint;

export interface BedrockMessage {
  role: 'user' | 'assistant';
  content: BedrockContentBlock[];
}

export interface BedrockToolSpec {
  toolSpec: { name: string; description?: string; inputSchema: { json: Record<string, unknown> }; strict?: boolean };
}

export type BedrockToolChoice = { auto: EmptyObject } | { any: EmptyObject } | { tool: { name: string } };

export interface BedrockToolConfig {
  tools: Array<BedrockToolSpec | BedrockCachePoint>;
  toolChoice?: BedrockToolChoice;
}

export interface BedrockInferenceConfig {
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  stopSequences?: string[];
}

export interface BedrockOutputConfig {
  textFormat: {
    type: 'json_schema';
    structure: { jsonSchema: { schema: string; name?: string; description?: string } };
  };
}

export interface BedrockConverseRequest {
  messages: BedrockMessage[];
  system?: BedrockSystemBlock[];
  inferenceConfig?: BedrockInferenceConfig;
  toolConfig?: BedrockToolConfig;
  additionalModelRequestFields?: Record<string, unknown>;
  additionalModelResponseFieldPaths?: string[];
  outputConfig?: BedrockOutputConfig;
}

/** Token usage; the `*Count` spellings are older duplicates some responses still carry. */
export interface BedrockUsage {
  inputTokens?: number;
  outputTokens?: number;
  totalTokens?: number;
  cacheReadInputTokens?: number;
  cacheWriteInputTokens?: number;
  cacheReadInputTokenCount?: number;
  cacheWriteInputTokenCount?: number;
}

/** A response content block: the request union plus fields the API may add (citations, `type`). */
export interface BedrockResponseBlock {
  text?: string;
  toolUse?: { toolUseId?: string; name?: string; input?: unknown };
  reasoningContent?: { reasoningText?: { text?: string; signature?: string }; redactedContent?: string };
  [other: string]: unknown;
}

export interface BedrockConverseResponse {
  output?: { message?: { role?: string; content?: BedrockResponseBlock[] } };
  stopReason?: StopReason | (string & {});
  usage?: BedrockUsage;
  metrics?: { latencyMs?: number };
  additionalModelResponseFields?: Record<string, unknown>;
}

// ---------- ConverseStream events (the JSON payload of each event message, by `:event-type`) ----------

export interface BedrockMessageStartEvent {
  role?: string;
}
export interface BedrockContentBlockStartEvent {
  contentBlockIndex?: number;
  start?: { toolUse?: { toolUseId?: string; name?: string } };
}
export interface BedrockContentBlockDeltaEvent {
  contentBlockIndex?: number;
  delta?: {
    text?: string;
    toolUse?: { input?: string };
    reasoningContent?: { text?: string; signature?: string; redactedContent?: string };
  };
}
export interface BedrockContentBlockStopEvent {
  contentBlockIndex?: number;
}
export interface BedrockMessageStopEvent {
  stopReason?: StopReason | (string & {});
  additionalModelResponseFields?: Record<string, unknown>;
}
export interface BedrockMetadataEvent {
  usage?: BedrockUsage;
  metrics?: { latencyMs?: number };
}

/** Exception event names on the stream (`:exception-type`), as ConverseStreamOutput lists them. */
export const BEDROCK_STREAM_EXCEPTIONS = [
  'internalServerException',
  'modelStreamErrorException',
  'validationException',
  'throttlingException',
  'serviceUnavailableException',
] as const;
