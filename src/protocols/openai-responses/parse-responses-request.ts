import type { z } from 'zod';
import { GatewayError } from '../../core/errors.ts';
import type {
  AssistantMessage,
  ChatRequest,
  ContentPart,
  Message,
  ReasoningBlock,
  ReasoningOptions,
  ResponseFormat,
  TextPart,
  ToolChoice,
  ToolDefinition,
} from '../../core/ir.ts';
import { clipped, parseWith } from '../../core/validation.ts';
import { convertImageUrl } from '../openai-chat/parse-openai-request.ts';
import { decodeReasoningToken } from './reasoning-token.ts';
import {
  type messageItem,
  type ResponsesContentPart,
  type ResponsesInputItem,
  type ResponsesRequestBody,
  responsesRequestSchema,
} from './request-schema.ts';

/**
 * An inbound OpenAI Responses body → the internal request. Unless the operator stores responses
 * (`responses.store`, docs/responses.md), everything the model needs comes in the request: a
 * `previous_response_id` is refused then; with storage on it is accepted here and resolved by the caller
 * (src/responses/), which prepends the stored conversation (prependHistory). An `item_reference` is refused
 * either way, as are built-in tools (web search, file search, code interpreter…) that no translated provider
 * serves. Reasoning items passed back are kept when they carry what the next provider needs (an Anthropic
 * thinking signature, in `encrypted_content` as Modro wrote it) and their text otherwise.
 * @see https://platform.openai.com/docs/api-reference/responses/create
 */
export function parseResponsesRequest(raw: unknown, options: { storing?: boolean } = {}): ChatRequest {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new GatewayError('invalid_request', 'Request body must be a JSON object');
  }
  const body = parseWith(responsesRequestSchema, raw);
  if (body.previous_response_id && options.storing !== true) {
    throw invalid(
      'previous_response_id needs stored responses, and response storage is off on this gateway: send the whole conversation in input',
      'previous_response_id',
    );
  }
  if (body.background === true) {
    throw invalid('background responses are not served; use stream or a plain request', 'background');
  }
  const messages: Message[] = [];
  if (body.instructions) messages.push({ role: 'system', content: [text(body.instructions)] });
  if (typeof body.input === 'string') messages.push({ role: 'user', content: [text(body.input)] });
  else for (const [i, item] of body.input.entries()) addItem(messages, item, i);
  if (!messages.some((m) => m.role !== 'system')) throw invalid('input must hold at least one message', 'input');
  // A tool output answers a call made earlier in the same conversation (here, unless it continues a stored one).
  if (!body.previous_response_id && typeof body.input !== 'string') checkToolOutputs(body.input);

  const request: ChatRequest = {
    model: body.model,
    messages,
    stream: body.stream === true,
    // Every Responses answer carries its usage (response.completed), so the upstream's is always wanted.
    includeUsage: true,
    inbound: { protocol: 'openai-responses', body: raw as Record<string, unknown> },
  };
  // Built-in tools (web search, file search…) run at OpenAI: such a request can only be passed through to it
  // (admission keeps it on OpenAI providers, `requires`), never translated, so it cannot be stored here.
  const builtIn = (body.tools ?? []).flatMap((tool, i) => (tool.type === 'function' ? [] : [{ type: tool.type, i }]));
  const hostedChoice =
    body.tool_choice != null && typeof body.tool_choice === 'object' && body.tool_choice.type !== 'function';
  if (builtIn.length > 0 || hostedChoice) {
    const param = builtIn[0] ? `tools[${builtIn[0].i}]` : 'tool_choice';
    const what = builtIn[0] ? `built-in tool ${clipped(builtIn[0].type)}` : 'a built-in tool_choice';
    if (options.storing && body.store !== false) {
      throw invalid(
        `${what} runs only at OpenAI, through a pass-through that stored responses cannot use: set store to false`,
        param,
      );
    }
    const features = builtIn.map((t) => t.type);
    if (hostedChoice) features.push(String((body.tool_choice as { type: unknown }).type));
    request.requires = { providerKinds: ['openai'], features: [...new Set(features.map((f) => clipped(f)))] };
  }
  const tools = (body.tools ?? []).filter((tool) => tool.type === 'function').map(convertTool);
  if (tools.length > 0) request.tools = tools;
  if (body.tool_choice != null && !hostedChoice) request.toolChoice = convertToolChoice(body.tool_choice, tools);
  if (body.parallel_tool_calls != null) request.parallelToolCalls = body.parallel_tool_calls;
  if (body.text?.format) request.responseFormat = convertFormat(body.text.format);
  if (body.max_output_tokens != null) request.maxTokens = body.max_output_tokens;
  if (body.temperature != null) request.temperature = body.temperature;
  if (body.top_p != null) request.topP = body.top_p;
  if (body.user) request.user = body.user;
  const reasoning = convertReasoning(body.reasoning?.effort);
  if (reasoning) request.reasoning = reasoning;
  return request;
}

function checkToolOutputs(items: readonly ResponsesInputItem[]): void {
  const calls = new Set<string>();
  items.forEach((item, i) => {
    if (item.type === 'function_call') calls.add((item as { call_id: string }).call_id);
    if (item.type === 'function_call_output' && !calls.has((item as { call_id: string }).call_id)) {
      throw invalid('function_call_output answers no function_call earlier in input', `input[${i}].call_id`);
    }
  });
}

/** Whether the request's first message is its `instructions` (which are not carried over to later responses). */
function hasInstructions(request: ChatRequest): boolean {
  const instructions = request.inbound.body['instructions'];
  return typeof instructions === 'string' && instructions !== '' && request.messages[0]?.role === 'system';
}

/**
 * A stored conversation put before the request's input, after its `instructions`: what OpenAI does with a
 * `previous_response_id` (the earlier request's instructions are not carried over).
 */
export function prependHistory(request: ChatRequest, history: readonly Message[]): void {
  request.messages.splice(hasInstructions(request) ? 1 : 0, 0, ...history);
}

/** The conversation a request carries, without its `instructions`: what a stored response keeps of it. */
export function conversationOf(request: ChatRequest): Message[] {
  return request.messages.slice(hasInstructions(request) ? 1 : 0);
}

/**
 * A Response's `output` items (reasoning, message, function_call, as render-response.ts writes them) as
 * internal messages: the same translation as those items passed back in a later request's `input`.
 */
export function outputMessages(output: readonly unknown[]): Message[] {
  const messages: Message[] = [];
  for (const [i, item] of output.entries()) addItem(messages, item as ResponsesInputItem, i);
  return messages;
}

function invalid(message: string, param: string): GatewayError {
  return new GatewayError('invalid_request', message, { param });
}

function text(value: string): TextPart {
  return { type: 'text', text: value };
}

function addItem(messages: Message[], item: ResponsesInputItem, index: number): void {
  const param = `input[${index}]`;
  if ('role' in item && typeof item.role === 'string') {
    addMessage(messages, item as MessageItem, param);
    return;
  }
  switch (item.type) {
    case 'function_call': {
      const call = item as Extract<ResponsesInputItem, { type: 'function_call' }>;
      assistantTurn(messages).toolCalls ??= [];
      assistantTurn(messages).toolCalls!.push({ id: call.call_id, name: call.name, arguments: call.arguments });
      return;
    }
    case 'function_call_output': {
      const output = item as Extract<ResponsesInputItem, { type: 'function_call_output' }>;
      const content: ContentPart[] =
        typeof output.output === 'string' ? [text(output.output)] : contentParts(output.output, `${param}.output`);
      messages.push({ role: 'tool', toolCallId: output.call_id, content });
      return;
    }
    case 'reasoning': {
      const block = reasoningBlock(item as Extract<ResponsesInputItem, { type: 'reasoning' }>);
      if (block) {
        const turn = assistantTurn(messages);
        turn.reasoning = [...(turn.reasoning ?? []), block];
      }
      return;
    }
    case 'item_reference':
      throw invalid(
        'item_reference items are not served: send the item itself, or continue a stored response with previous_response_id',
        param,
      );
    default:
      throw invalid(`input items of type ${clipped(String(item.type))} are not served by this gateway`, param);
  }
}

type MessageItem = z.infer<typeof messageItem>;

function addMessage(messages: Message[], item: MessageItem, param: string): void {
  const parts =
    typeof item.content === 'string' ? [text(item.content)] : contentParts(item.content, `${param}.content`);
  switch (item.role) {
    case 'system':
    case 'developer':
      messages.push({ role: 'system', content: textOnly(parts, param) });
      return;
    case 'user':
      messages.push({ role: 'user', content: parts });
      return;
    case 'assistant': {
      const turn = assistantTurn(messages);
      turn.content.push(...textOnly(parts, param));
      if (typeof item.content !== 'string') {
        const refused = item.content.find((p) => p.type === 'refusal');
        if (refused && 'refusal' in refused) turn.refusal = String(refused.refusal);
      }
      return;
    }
  }
}

/**
 * The assistant message that function calls, reasoning and assistant text of one turn join: the last message
 * if it is the assistant's, else a new one (a user or tool message ends a turn).
 */
function assistantTurn(messages: Message[]): AssistantMessage {
  const last = messages.at(-1);
  if (last?.role === 'assistant') return last;
  const turn: AssistantMessage = { role: 'assistant', content: [] };
  messages.push(turn);
  return turn;
}

function contentParts(parts: readonly ResponsesContentPart[], param: string): ContentPart[] {
  const out: ContentPart[] = [];
  for (const part of parts) {
    switch (part.type) {
      case 'input_text':
      case 'output_text':
        out.push(text((part as { text: string }).text));
        break;
      case 'refusal':
        break;
      case 'input_image': {
        const image = part as { image_url?: string | null; file_id?: string | null; detail?: string | null };
        if (!image.image_url) {
          throw invalid('input_image needs an image_url (a URL or a data: URL); file ids are not served', param);
        }
        out.push(convertImageUrl(image.image_url, image.detail ?? undefined));
        break;
      }
      default:
        throw invalid(`content parts of type ${part.type} are not served by this gateway`, param);
    }
  }
  return out;
}

function textOnly(parts: ContentPart[], param: string): TextPart[] {
  if (parts.some((p) => p.type !== 'text')) throw invalid('only user messages may carry images', param);
  return parts as TextPart[];
}

function reasoningBlock(item: Extract<ResponsesInputItem, { type: 'reasoning' }>): ReasoningBlock | undefined {
  const texts = [...(item.content ?? []), ...(item.summary ?? [])].map((p) => p.text);
  const block: ReasoningBlock = { text: texts.join('\n\n') };
  const token = item.encrypted_content ? decodeReasoningToken(item.encrypted_content) : undefined;
  if (token?.signature) block.signature = token.signature;
  if (token?.redactedData) block.redactedData = token.redactedData;
  return block.text || block.signature || block.redactedData ? block : undefined;
}

type RequestTool = NonNullable<ResponsesRequestBody['tools']>[number];

function convertTool(tool: RequestTool): ToolDefinition {
  const fn = tool as Extract<RequestTool, { name: string }>;
  const definition: ToolDefinition = {
    name: fn.name,
    parameters: fn.parameters ?? { type: 'object', properties: {} },
  };
  if (fn.description) definition.description = fn.description;
  if (fn.strict != null) definition.strict = fn.strict;
  return definition;
}

function convertToolChoice(
  choice: NonNullable<ResponsesRequestBody['tool_choice']>,
  tools: ToolDefinition[],
): ToolChoice {
  if (typeof choice === 'string') return { type: choice };
  if (choice.type === 'function' && 'name' in choice && typeof choice.name === 'string') {
    if (!tools.some((t) => t.name === choice.name)) {
      throw invalid('tool_choice names a function that is not in tools', 'tool_choice');
    }
    return { type: 'tool', name: choice.name };
  }
  throw invalid(`tool_choice of type ${clipped(String(choice.type))} is not valid`, 'tool_choice');
}

function convertFormat(format: NonNullable<NonNullable<ResponsesRequestBody['text']>['format']>): ResponseFormat {
  if (format.type !== 'json_schema') return { type: format.type };
  const result: ResponseFormat = { type: 'json_schema', name: format.name, schema: format.schema };
  if (format.strict != null) result.strict = format.strict;
  if (format.description) result.description = format.description;
  return result;
}

const EFFORTS = new Set(['minimal', 'low', 'medium', 'high']);

function convertReasoning(effort: string | null | undefined): ReasoningOptions | undefined {
  if (effort == null || effort === 'none') return undefined;
  // Newer OpenAI levels above `high` map to the highest level every provider understands.
  if (effort === 'xhigh') return { effort: 'high' };
  if (!EFFORTS.has(effort)) {
    throw invalid(`reasoning.effort must be one of none, minimal, low, medium, high, xhigh`, 'reasoning.effort');
  }
  return { effort: effort as ReasoningOptions['effort'] };
}
