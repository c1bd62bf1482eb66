import { GatewayError } from '../../core/errors.ts';
import type {
  ChatRequest,
  ContentPart,
  ImagePart,
  Message,
  ResponseFormat,
  TextPart,
  ToolChoice,
  ToolDefinition,
} from '../../core/ir.ts';
import { parseWith } from '../../core/validation.ts';
import { type ChatCompletionRequestBody, chatCompletionRequestSchema, type OpenAIMessage } from './request-schema.ts';

/**
 * An inbound OpenAI Chat Completions body → the internal request. Validates once at the edge; everything
 * after this trusts the IR. The original body is kept for the pass-through path.
 * @see https://platform.openai.com/docs/api-reference/chat/create
 */
export function parseOpenAIRequest(raw: unknown): ChatRequest {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new GatewayError('invalid_request', 'Request body must be a JSON object');
  }
  const body = parseWith(chatCompletionRequestSchema, raw);
  const request: ChatRequest = {
    model: body.model,
    messages: body.messages.map(convertMessage),
    stream: body.stream === true,
    includeUsage: body.stream === true && body.stream_options?.include_usage === true,
    inbound: { protocol: 'openai-chat', body: raw as Record<string, unknown> },
  };
  if (body.tools && body.tools.length > 0) request.tools = body.tools.map(convertTool);
  if (body.tool_choice !== undefined) request.toolChoice = convertToolChoice(body.tool_choice);
  if (body.parallel_tool_calls !== undefined) request.parallelToolCalls = body.parallel_tool_calls;
  if (body.response_format) request.responseFormat = convertResponseFormat(body.response_format);
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (maxTokens != null) request.maxTokens = maxTokens;
  if (body.temperature != null) request.temperature = body.temperature;
  if (body.top_p != null) request.topP = body.top_p;
  if (body.stop != null) request.stop = typeof body.stop === 'string' ? [body.stop] : body.stop;
  if (body.seed != null) request.seed = body.seed;
  if (body.n != null) request.n = body.n;
  if (body.frequency_penalty != null) request.frequencyPenalty = body.frequency_penalty;
  if (body.presence_penalty != null) request.presencePenalty = body.presence_penalty;
  if (body.logprobs != null) request.logprobs = body.logprobs;
  if (body.top_logprobs != null) request.topLogprobs = body.top_logprobs;
  if (body.logit_bias != null) request.logitBias = body.logit_bias;
  if (body.user !== undefined) request.user = body.user;
  if (body.reasoning_effort != null) request.reasoning = { effort: body.reasoning_effort };
  if (request.toolChoice?.type === 'tool' && !request.tools?.some((t) => t.name === nameOf(request.toolChoice))) {
    throw new GatewayError('invalid_request', 'tool_choice names a function that is not in tools', {
      param: 'tool_choice',
    });
  }
  return request;
}

function nameOf(choice: ToolChoice | undefined): string | undefined {
  return choice?.type === 'tool' ? choice.name : undefined;
}

function text(value: string): TextPart {
  return { type: 'text', text: value };
}

function textParts(content: string | ReadonlyArray<{ type: string; text?: string }> | null | undefined): TextPart[] {
  if (content == null) return [];
  if (typeof content === 'string') return content === '' ? [] : [text(content)];
  const parts: TextPart[] = [];
  for (const part of content) if (part.type === 'text' && part.text !== undefined) parts.push(text(part.text));
  return parts;
}

/** `data:image/png;base64,...` becomes inline bytes so providers that cannot fetch URLs still get the image. */
export function convertImageUrl(url: string, detail?: string): ImagePart {
  const part: ImagePart = { type: 'image', source: { kind: 'url', url } };
  if (url.startsWith('data:')) {
    const comma = url.indexOf(',');
    const header = url.slice(5, comma);
    if (comma > 0 && header.endsWith(';base64')) {
      part.source = {
        kind: 'base64',
        mediaType: header.slice(0, -7) || 'application/octet-stream',
        data: url.slice(comma + 1),
      };
    }
  }
  if (detail !== undefined) part.detail = detail;
  return part;
}

function convertMessage(message: OpenAIMessage): Message {
  switch (message.role) {
    case 'system':
    case 'developer':
      return { role: 'system', content: textParts(message.content) };
    case 'user': {
      const content: ContentPart[] =
        typeof message.content === 'string'
          ? [text(message.content)]
          : message.content.map((part) =>
              part.type === 'text' ? text(part.text) : convertImageUrl(part.image_url.url, part.image_url.detail),
            );
      return message.name === undefined ? { role: 'user', content } : { role: 'user', content, name: message.name };
    }
    case 'assistant': {
      const result: Message = { role: 'assistant', content: textParts(message.content as never) };
      if (Array.isArray(message.content)) {
        const refusal = message.content.find((p) => p.type === 'refusal');
        if (refusal && 'refusal' in refusal) result.refusal = refusal.refusal as string;
      }
      if (message.refusal) result.refusal = message.refusal;
      if (message.tool_calls && message.tool_calls.length > 0) {
        result.toolCalls = message.tool_calls.map((call) => ({
          id: call.id,
          name: call.function.name,
          arguments: call.function.arguments,
        }));
      }
      if (message.reasoning_content) result.reasoning = [{ text: message.reasoning_content }];
      if (message.name !== undefined) result.name = message.name;
      return result;
    }
    case 'tool':
      return { role: 'tool', toolCallId: message.tool_call_id, content: textParts(message.content) };
  }
}

function convertTool(tool: NonNullable<ChatCompletionRequestBody['tools']>[number]): ToolDefinition {
  const definition: ToolDefinition = {
    name: tool.function.name,
    parameters: tool.function.parameters ?? { type: 'object', properties: {} },
  };
  if (tool.function.description !== undefined) definition.description = tool.function.description;
  if (tool.function.strict != null) definition.strict = tool.function.strict;
  return definition;
}

function convertToolChoice(choice: NonNullable<ChatCompletionRequestBody['tool_choice']>): ToolChoice {
  if (typeof choice === 'string') return { type: choice };
  return { type: 'tool', name: choice.function.name };
}

function convertResponseFormat(format: NonNullable<ChatCompletionRequestBody['response_format']>): ResponseFormat {
  if (format.type !== 'json_schema') return { type: format.type };
  const result: ResponseFormat = {
    type: 'json_schema',
    name: format.json_schema.name,
    schema: format.json_schema.schema ?? {},
  };
  if (format.json_schema.strict != null) result.strict = format.json_schema.strict;
  if (format.json_schema.description !== undefined) result.description = format.json_schema.description;
  return result;
}
