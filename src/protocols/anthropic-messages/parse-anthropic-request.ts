import type { z } from 'zod';
import { GatewayError } from '../../core/errors.ts';
import type {
  AssistantMessage,
  ChatRequest,
  ContentPart,
  ImagePart,
  Message,
  ReasoningBlock,
  ReasoningOptions,
  TextPart,
  ToolCall,
  ToolChoice,
  ToolDefinition,
  ToolMessage,
} from '../../core/ir.ts';
import { formatParamPath, parseWith } from '../../core/validation.ts';
import {
  type AnthropicMessageBody,
  type AnthropicRequestBody,
  anthropicRequestSchema,
  customToolSchema,
  documentBlockSchema,
  imageBlockSchema,
  redactedThinkingBlockSchema,
  textBlockSchema,
  thinkingBlockSchema,
  toolResultBlockSchema,
  toolUseBlockSchema,
} from './request-schema.ts';

/**
 * An inbound Anthropic Messages body → the internal request. Validates once at the edge (errors are
 * invalid_request naming the field, e.g. `messages[0].content[1].source`); the original body and the
 * caller's `anthropic-beta` and `anthropic-version` headers are kept for the pass-through path, which forwards what the IR cannot
 * express. What the IR cannot carry (documents other than plain text, files, server tools, server-tool
 * blocks in the history) is left out of the IR; `anthropicOnlyFeatures` names it so the gateway can keep
 * such a request on Anthropic.
 * @see https://platform.claude.com/docs/en/api/messages
 */

type Json = Record<string, unknown>;

function validated<T extends z.ZodType>(schema: T, value: unknown, path: PropertyKey[]): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (!issue) throw new GatewayError('invalid_request', 'Invalid request body');
  const param = formatParamPath([...path, ...issue.path]);
  throw new GatewayError('invalid_request', `'${param}': ${issue.message}`, { param });
}

function textPart(block: {
  text: string;
  cache_control?: { type: 'ephemeral'; ttl?: string | undefined } | null | undefined;
}): TextPart {
  const part: TextPart = { type: 'text', text: block.text };
  if (block.cache_control) {
    part.cacheControl =
      block.cache_control.ttl === undefined
        ? { type: 'ephemeral' }
        : { type: 'ephemeral', ttl: block.cache_control.ttl };
  }
  return part;
}

function imagePart(block: Json, path: PropertyKey[]): ImagePart | undefined {
  const image = validated(imageBlockSchema, block, path);
  const source = image.source;
  if (source.type === 'base64')
    return { type: 'image', source: { kind: 'base64', mediaType: source.media_type, data: source.data } };
  if (source.type === 'url') return { type: 'image', source: { kind: 'url', url: source.url } };
  return undefined; // Files API reference: only Anthropic can resolve it.
}

/** A plain-text document (inline text, or content blocks of text) reads the same as text; others cannot. */
function documentText(block: Json, path: PropertyKey[]): TextPart | undefined {
  const document = validated(documentBlockSchema, block, path);
  const source = document.source as Json;
  if (source['type'] === 'text' && typeof source['data'] === 'string') return { type: 'text', text: source['data'] };
  if (source['type'] === 'content') {
    if (typeof source['content'] === 'string') return { type: 'text', text: source['content'] };
    if (Array.isArray(source['content'])) {
      const texts = (source['content'] as Json[])
        .filter((b) => b?.['type'] === 'text')
        .map((b) => String(b['text'] ?? ''));
      return { type: 'text', text: texts.join('\n') };
    }
  }
  return undefined;
}

/** Text, image and text-document blocks; anything else is left to the pass-through path. */
function contentPart(block: Json, path: PropertyKey[]): ContentPart | undefined {
  switch (block['type']) {
    case 'text':
      return textPart(validated(textBlockSchema, block, path));
    case 'image':
      return imagePart(block, path);
    case 'document':
      return documentText(block, path);
    default:
      return undefined;
  }
}

function blocksOf(content: AnthropicMessageBody['content']): Json[] {
  return typeof content === 'string' ? [{ type: 'text', text: content }] : (content as Json[]);
}

function toolMessage(block: Json, path: PropertyKey[]): ToolMessage {
  const result = validated(toolResultBlockSchema, block, path);
  const content: ContentPart[] = [];
  if (typeof result.content === 'string') {
    content.push({ type: 'text', text: result.content });
  } else if (result.content) {
    result.content.forEach((inner, i) => {
      const part = contentPart(inner as Json, [...path, 'content', i]);
      if (part) content.push(part);
    });
  }
  const message: ToolMessage = { role: 'tool', toolCallId: result.tool_use_id, content };
  if (result.is_error) message.isError = true;
  return message;
}

function convertUser(message: AnthropicMessageBody, path: PropertyKey[], out: Message[]): void {
  let pending: ContentPart[] = [];
  const flush = () => {
    if (pending.length > 0) out.push({ role: 'user', content: pending });
    pending = [];
  };
  blocksOf(message.content).forEach((block, i) => {
    const blockPath = [...path, 'content', i];
    if (block['type'] === 'tool_result') {
      flush();
      out.push(toolMessage(block, blockPath));
      return;
    }
    const part = contentPart(block, blockPath);
    if (part) pending.push(part);
  });
  flush();
}

function convertAssistant(message: AnthropicMessageBody, path: PropertyKey[]): AssistantMessage {
  const result: AssistantMessage = { role: 'assistant', content: [] };
  const reasoning: ReasoningBlock[] = [];
  const toolCalls: ToolCall[] = [];
  blocksOf(message.content).forEach((block, i) => {
    const blockPath = [...path, 'content', i];
    switch (block['type']) {
      case 'text':
        result.content.push(textPart(validated(textBlockSchema, block, blockPath)));
        break;
      case 'thinking': {
        const thinking = validated(thinkingBlockSchema, block, blockPath);
        reasoning.push({ text: thinking.thinking, signature: thinking.signature });
        break;
      }
      case 'redacted_thinking': {
        const redacted = validated(redactedThinkingBlockSchema, block, blockPath);
        reasoning.push({ text: '', redactedData: redacted.data });
        break;
      }
      case 'tool_use': {
        const use = validated(toolUseBlockSchema, block, blockPath);
        toolCalls.push({ id: use.id, name: use.name, arguments: JSON.stringify(use.input ?? {}) });
        break;
      }
      default:
        break; // server-tool blocks: Anthropic-only
    }
  });
  if (reasoning.length > 0) result.reasoning = reasoning;
  if (toolCalls.length > 0) result.toolCalls = toolCalls;
  return result;
}

function systemMessage(
  content: AnthropicMessageBody['content'] | AnthropicRequestBody['system'],
  path: PropertyKey[],
): Message {
  const blocks = typeof content === 'string' ? [{ type: 'text', text: content }] : ((content ?? []) as Json[]);
  return {
    role: 'system',
    content: blocks.map((block, i) =>
      textPart(validated(textBlockSchema, block, [...path, ...(typeof content === 'string' ? [] : [i])])),
    ),
  };
}

export function isCustomTool(tool: Json): boolean {
  return tool['type'] === undefined || tool['type'] === null || tool['type'] === 'custom';
}

function convertTool(tool: Json, index: number): ToolDefinition {
  const custom = validated(customToolSchema, tool, ['tools', index]);
  const definition: ToolDefinition = { name: custom.name, parameters: custom.input_schema as Json };
  if (custom.description !== undefined) definition.description = custom.description;
  if (custom.strict !== undefined) definition.strict = custom.strict;
  return definition;
}

function convertToolChoice(choice: NonNullable<AnthropicRequestBody['tool_choice']>): ToolChoice {
  switch (choice.type) {
    case 'auto':
      return { type: 'auto' };
    case 'any':
      return { type: 'required' };
    case 'none':
      return { type: 'none' };
    case 'tool':
      return { type: 'tool', name: choice.name };
  }
}

function convertReasoning(body: AnthropicRequestBody): ReasoningOptions | undefined {
  const thinking = body.thinking;
  if (!thinking || thinking.type === 'disabled') return undefined;
  if (thinking.type === 'enabled') return { budgetTokens: thinking.budget_tokens };
  // Adaptive thinking: the effort setting (Anthropic's default is high) is the only knob.
  switch (body.output_config?.effort) {
    case 'low':
      return { effort: 'low' };
    case 'medium':
      return { effort: 'medium' };
    default:
      return { effort: 'high' };
  }
}

/** The caller's protocol headers that a pass-through forwards (lower-case names, as Node gives them). */
export interface AnthropicInboundHeaders {
  'anthropic-beta'?: string | string[] | undefined;
  'anthropic-version'?: string | string[] | undefined;
}

export function parseAnthropicRequest(raw: unknown, headers: AnthropicInboundHeaders = {}): ChatRequest {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new GatewayError('invalid_request', 'Request body must be a JSON object');
  }
  const body = parseWith(anthropicRequestSchema, raw);

  const messages: Message[] = [];
  if (body.system !== undefined && body.system !== '' && !(Array.isArray(body.system) && body.system.length === 0)) {
    messages.push(systemMessage(body.system, ['system']));
  }
  body.messages.forEach((message, i) => {
    const path = ['messages', i];
    if (message.role === 'system') messages.push(systemMessage(message.content, [...path, 'content']));
    else if (message.role === 'user') convertUser(message, path, messages);
    else messages.push(convertAssistant(message, path));
  });

  const request: ChatRequest = {
    model: body.model,
    messages,
    stream: body.stream === true,
    // Anthropic streams always carry usage (message_start and message_delta).
    includeUsage: body.stream === true,
    inbound: { protocol: 'anthropic-messages', body: raw as Json },
  };
  const forwarded: Record<string, string> = {};
  for (const name of ['anthropic-beta', 'anthropic-version'] as const) {
    const value = headers[name];
    const joined = Array.isArray(value) ? value.join(',') : value;
    if (joined) forwarded[name] = joined;
  }
  if (Object.keys(forwarded).length > 0) request.inbound.headers = forwarded;

  const tools = (body.tools ?? []) as Json[];
  const customTools = tools.flatMap((tool, i) => (isCustomTool(tool) ? [convertTool(tool, i)] : []));
  if (customTools.length > 0) request.tools = customTools;
  if (body.tool_choice) {
    request.toolChoice = convertToolChoice(body.tool_choice);
    if ('disable_parallel_tool_use' in body.tool_choice && body.tool_choice.disable_parallel_tool_use === true) {
      request.parallelToolCalls = false;
    }
    if (
      body.tool_choice.type === 'tool' &&
      !tools.some((t) => t['name'] === (body.tool_choice as { name: string }).name)
    ) {
      throw new GatewayError('invalid_request', 'tool_choice names a tool that is not in tools', {
        param: 'tool_choice',
      });
    }
  }
  if (body.max_tokens !== undefined) request.maxTokens = body.max_tokens;
  if (body.stop_sequences && body.stop_sequences.length > 0) request.stop = body.stop_sequences;
  if (body.temperature !== undefined) request.temperature = body.temperature;
  if (body.top_p !== undefined) request.topP = body.top_p;
  if (body.top_k !== undefined) request.topK = body.top_k;
  if (body.metadata?.user_id) request.user = body.metadata.user_id;
  const reasoning = convertReasoning(body);
  if (reasoning) request.reasoning = reasoning;
  const format = body.output_config?.format ?? body.output_format;
  if (format) request.responseFormat = { type: 'json_schema', name: 'response', schema: format.schema, strict: true };
  return request;
}
