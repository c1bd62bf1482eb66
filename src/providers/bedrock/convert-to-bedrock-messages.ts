import { GatewayError } from '../../core/errors.ts';
import type { AssistantMessage, ContentPart, Message, TextPart, ToolMessage } from '../../core/ir.ts';
import type {
  BedrockCachePoint,
  BedrockContentBlock,
  BedrockImageBlock,
  BedrockMessage,
  BedrockSystemBlock,
  BedrockToolResultContent,
} from './bedrock-api-types.ts';
import { toBedrockImage } from './bedrock-images.ts';
import { type BedrockModelFamily, supportsCachePoints } from './bedrock-model-family.ts';
import { toBedrockToolUseId } from './tool-use-ids.ts';

/**
 * IR messages → Converse `system` and `messages`.
 * - Every system message goes to the top-level `system` blocks, in order (Converse has no system role).
 * - Tool results become `toolResult` blocks in a user message; consecutive messages of one role are merged,
 *   because Converse wants user and assistant turns to alternate.
 * - Empty text blocks are dropped (Converse rejects blank text) and so are messages left with no content.
 * - Assistant reasoning goes back as `reasoningContent` for Anthropic models only, and only when signed (or
 *   redacted): Anthropic needs its own signed thinking echoed back with tool use; other models reject it.
 * - An Anthropic-style cache marker on a text part becomes a `cachePoint` block after it, for the families
 *   that support prompt caching.
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Message.html
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ContentBlock.html
 * @see https://docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html
 */

export interface ConvertMessagesOptions {
  family: BedrockModelFamily;
  /** http(s) image URLs already fetched (see bedrock-images.ts). */
  images: ReadonlyMap<string, BedrockImageBlock>;
}

export interface BedrockPrompt {
  system: BedrockSystemBlock[];
  messages: BedrockMessage[];
  /** Tool names used by tool calls in the history (Converse wants them declared in toolConfig). */
  historyToolNames: string[];
}

/** What an empty tool result is sent as: Converse rejects blank text and empty content. */
export const EMPTY_TOOL_RESULT = '(empty)';

export function convertToBedrockMessages(messages: Message[], options: ConvertMessagesOptions): BedrockPrompt {
  const caching = supportsCachePoints(options.family);
  const cachePoint = (part: TextPart): BedrockCachePoint[] => {
    if (!caching || !part.cacheControl) return [];
    const ttl = part.cacheControl.ttl;
    return [{ cachePoint: { type: 'default', ...(ttl === '5m' || ttl === '1h' ? { ttl } : {}) } }];
  };

  const system: BedrockSystemBlock[] = [];
  const turns: BedrockMessage[] = [];
  const historyToolNames = new Set<string>();

  const push = (role: BedrockMessage['role'], content: BedrockContentBlock[]) => {
    if (content.length === 0) return;
    const last = turns.at(-1);
    if (last && last.role === role) last.content.push(...content);
    else turns.push({ role, content });
  };

  const userContent = (parts: ContentPart[]): BedrockContentBlock[] => {
    const blocks: BedrockContentBlock[] = [];
    for (const part of parts) {
      if (part.type === 'text') {
        if (part.text.trim() !== '') blocks.push({ text: part.text }, ...cachePoint(part));
      } else {
        blocks.push({ image: toBedrockImage(part.source, options.images) });
      }
    }
    return blocks;
  };

  for (const message of messages) {
    switch (message.role) {
      case 'system':
        for (const part of message.content) {
          if (part.text.trim() !== '') system.push({ text: part.text }, ...cachePoint(part));
        }
        break;
      case 'user':
        push('user', userContent(message.content));
        break;
      case 'assistant':
        for (const call of message.toolCalls ?? []) historyToolNames.add(call.name);
        push('assistant', assistantContent(message, options.family, cachePoint));
        break;
      case 'tool':
        push('user', toolResultContent(message, options, cachePoint));
        break;
    }
  }

  trimFinalAssistantText(turns);
  return { system, messages: turns, historyToolNames: [...historyToolNames] };
}

function assistantContent(
  message: AssistantMessage,
  family: BedrockModelFamily,
  cachePoint: (part: TextPart) => BedrockCachePoint[],
): BedrockContentBlock[] {
  const blocks: BedrockContentBlock[] = [];
  if (family === 'anthropic') {
    for (const block of message.reasoning ?? []) {
      if (block.redactedData) blocks.push({ reasoningContent: { redactedContent: block.redactedData } });
      else if (block.signature) {
        blocks.push({ reasoningContent: { reasoningText: { text: block.text, signature: block.signature } } });
      }
    }
  }
  let hasText = false;
  for (const part of message.content) {
    if (part.text.trim() === '') continue;
    hasText = true;
    blocks.push({ text: part.text }, ...cachePoint(part));
  }
  if (!hasText && message.refusal) blocks.push({ text: message.refusal });
  for (const call of message.toolCalls ?? []) {
    blocks.push({
      toolUse: { toolUseId: toBedrockToolUseId(call.id, family), name: call.name, input: toolInput(call.arguments) },
    });
  }
  return blocks;
}

/** Converse carries tool input as a JSON object, not text. */
function toolInput(argumentsText: string): unknown {
  if (argumentsText.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(argumentsText);
  } catch {
    throw new GatewayError('invalid_request', 'A tool call in the conversation has arguments that are not valid JSON', {
      param: 'messages',
    });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new GatewayError('invalid_request', 'Tool call arguments must be a JSON object for Bedrock', {
      param: 'messages',
    });
  }
  return value;
}

function toolResultContent(
  message: ToolMessage,
  options: ConvertMessagesOptions,
  cachePoint: (part: TextPart) => BedrockCachePoint[],
): BedrockContentBlock[] {
  const content: BedrockToolResultContent[] = [];
  const after: BedrockCachePoint[] = [];
  for (const part of message.content) {
    if (part.type === 'text') {
      if (part.text !== '') content.push({ text: part.text });
      if (after.length === 0) after.push(...cachePoint(part));
    } else {
      content.push({ image: toBedrockImage(part.source, options.images) });
    }
  }
  if (content.length === 0) content.push({ text: EMPTY_TOOL_RESULT });
  // `status` is only accepted by the Anthropic and Nova families; elsewhere an error result is plain content.
  const status = message.isError && (options.family === 'anthropic' || options.family === 'nova') ? 'error' : undefined;
  return [
    {
      toolResult: {
        toolUseId: toBedrockToolUseId(message.toolCallId, options.family),
        content,
        ...(status ? { status } : {}),
      },
    },
    ...after,
  ];
}

/** A conversation ending in an assistant turn (a prefill) may not end in whitespace (Anthropic rejects it). */
function trimFinalAssistantText(turns: BedrockMessage[]): void {
  const last = turns.at(-1);
  if (last?.role !== 'assistant') return;
  const block = last.content.at(-1);
  if (block && 'text' in block) {
    const trimmed = block.text.trimEnd();
    if (trimmed === '') last.content.pop();
    else block.text = trimmed;
    if (last.content.length === 0) turns.pop();
  }
}
