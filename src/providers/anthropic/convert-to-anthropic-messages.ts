import type {
  ContentBlockParam,
  ImageBlockParam,
  MessageParam,
  TextBlockParam,
  ToolResultBlockParam,
} from '@anthropic-ai/sdk/resources/messages';
import type { AssistantMessage, ContentPart, ImagePart, Message, TextPart, ToolMessage } from '../../core/ir.ts';

/**
 * IR messages → Anthropic `system` + `messages`.
 * - Leading system messages become the top-level `system` blocks (cache markers kept). A system message later
 *   in the conversation becomes user text at that point: only the newest models accept `role: "system"` mid
 *   conversation, and user text is understood by all of them.
 * - Tool results are user turns of `tool_result` blocks; consecutive turns of one role are merged, with
 *   tool results first, as the API requires.
 * - Assistant reasoning goes back as `thinking` (with its signature) or `redacted_thinking`; reasoning from
 *   other providers has no signature, which Anthropic would reject, so it is left out.
 * - Empty text blocks are dropped (the API rejects them), and a final assistant turn (prefill) loses its
 *   trailing whitespace, which the API also rejects.
 * @see https://platform.claude.com/docs/en/api/messages
 * @see https://platform.claude.com/docs/en/agents-and-tools/tool-use/handle-tool-calls
 * @see https://platform.claude.com/docs/en/build-with-claude/extended-thinking#preserving-thinking-blocks
 */

export interface AnthropicPrompt {
  system: TextBlockParam[];
  messages: MessageParam[];
}

type Role = 'user' | 'assistant';

function textBlock(part: TextPart): TextBlockParam | undefined {
  if (part.text === '') return undefined;
  const block: TextBlockParam = { type: 'text', text: part.text };
  if (part.cacheControl) block.cache_control = { ...part.cacheControl } as TextBlockParam['cache_control'];
  return block;
}

/** A `data:` URL is sent as inline base64, anything else as a URL source for Anthropic to fetch. */
export function imageBlock(part: ImagePart): ImageBlockParam {
  const source = part.source;
  if (source.kind === 'base64') {
    return {
      type: 'image',
      source: { type: 'base64', media_type: source.mediaType as 'image/png', data: source.data },
    };
  }
  const match = /^data:([^;,]+);base64,(.*)$/s.exec(source.url);
  if (match) {
    return { type: 'image', source: { type: 'base64', media_type: match[1] as 'image/png', data: match[2]! } };
  }
  return { type: 'image', source: { type: 'url', url: source.url } };
}

function contentBlocks(parts: ContentPart[]): Array<TextBlockParam | ImageBlockParam> {
  const blocks: Array<TextBlockParam | ImageBlockParam> = [];
  for (const part of parts) {
    if (part.type === 'text') {
      const block = textBlock(part);
      if (block) blocks.push(block);
    } else {
      blocks.push(imageBlock(part));
    }
  }
  return blocks;
}

function toolResult(message: ToolMessage): ToolResultBlockParam {
  const block: ToolResultBlockParam = { type: 'tool_result', tool_use_id: message.toolCallId };
  const content = contentBlocks(message.content);
  if (content.length === 1 && content[0]!.type === 'text' && !content[0]!.cache_control) {
    block.content = content[0]!.text;
  } else if (content.length > 0) {
    block.content = content;
  }
  if (message.isError) block.is_error = true;
  return block;
}

/** Tool-call arguments are JSON text in the IR; Anthropic wants the object. Unparseable text becomes `{}`. */
export function parseToolInput(argumentsText: string): Record<string, unknown> {
  if (argumentsText.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(argumentsText);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

function assistantBlocks(message: AssistantMessage): ContentBlockParam[] {
  const blocks: ContentBlockParam[] = [];
  for (const reasoning of message.reasoning ?? []) {
    if (reasoning.redactedData !== undefined) {
      blocks.push({ type: 'redacted_thinking', data: reasoning.redactedData });
    } else if (reasoning.signature) {
      blocks.push({ type: 'thinking', thinking: reasoning.text, signature: reasoning.signature });
    }
  }
  for (const part of message.content) {
    const block = textBlock(part);
    if (block) blocks.push(block);
  }
  if (message.refusal && !message.content.some((part) => part.text !== '')) {
    blocks.push({ type: 'text', text: message.refusal });
  }
  for (const call of message.toolCalls ?? []) {
    blocks.push({ type: 'tool_use', id: call.id, name: call.name, input: parseToolInput(call.arguments) });
  }
  return blocks;
}

export function convertToAnthropicMessages(messages: Message[]): AnthropicPrompt {
  const system: TextBlockParam[] = [];
  const turns: Array<{ role: Role; blocks: ContentBlockParam[] }> = [];
  let leading = true;

  const push = (role: Role, blocks: ContentBlockParam[]) => {
    if (blocks.length === 0) return;
    const last = turns[turns.length - 1];
    if (last && last.role === role) last.blocks.push(...blocks);
    else turns.push({ role, blocks: [...blocks] });
  };

  for (const message of messages) {
    if (message.role === 'system') {
      const blocks = message.content.map(textBlock).filter((b): b is TextBlockParam => b !== undefined);
      if (leading) system.push(...blocks);
      else push('user', blocks);
      continue;
    }
    leading = false;
    switch (message.role) {
      case 'user':
        push('user', contentBlocks(message.content));
        break;
      case 'tool':
        push('user', [toolResult(message)]);
        break;
      case 'assistant':
        push('assistant', assistantBlocks(message));
        break;
    }
  }

  const last = turns[turns.length - 1];
  if (last?.role === 'assistant') {
    trimPrefill(last.blocks);
    if (last.blocks.length === 0) turns.pop();
  }

  return {
    system,
    messages: turns.map((turn) => ({
      role: turn.role,
      content: turn.role === 'user' ? toolResultsFirst(turn.blocks) : turn.blocks,
    })),
  };
}

function toolResultsFirst(blocks: ContentBlockParam[]): ContentBlockParam[] {
  const results = blocks.filter((b) => b.type === 'tool_result');
  if (results.length === 0 || results.length === blocks.length) return blocks;
  return [...results, ...blocks.filter((b) => b.type !== 'tool_result')];
}

function trimPrefill(blocks: ContentBlockParam[]): void {
  const last = blocks[blocks.length - 1];
  if (last?.type !== 'text') return;
  const trimmed = last.text.trimEnd();
  if (trimmed === '') blocks.pop();
  else last.text = trimmed;
}
