import type { ChatRequest, ContentPart, Message } from '../../core/ir.ts';

/**
 * IR request → OpenAI Chat Completions body, for callers that did not speak OpenAI's format (the Anthropic
 * inbound endpoint). OpenAI-format callers take the pass-through path instead and keep their own body.
 * @see https://platform.openai.com/docs/api-reference/chat/create
 */
export function convertToOpenAIRequest(request: ChatRequest, upstreamModel: string): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model: upstreamModel,
    messages: request.messages.map(convertMessage),
  };
  if (request.tools && request.tools.length > 0) {
    body['tools'] = request.tools.map((tool) => {
      const fn: Record<string, unknown> = { name: tool.name, parameters: tool.parameters };
      if (tool.description !== undefined) fn['description'] = tool.description;
      if (tool.strict !== undefined) fn['strict'] = tool.strict;
      return { type: 'function', function: fn };
    });
  }
  if (request.toolChoice) {
    body['tool_choice'] =
      request.toolChoice.type === 'tool'
        ? { type: 'function', function: { name: request.toolChoice.name } }
        : request.toolChoice.type;
  }
  if (request.parallelToolCalls !== undefined && request.tools?.length) {
    body['parallel_tool_calls'] = request.parallelToolCalls;
  }
  if (request.responseFormat) {
    const format = request.responseFormat;
    body['response_format'] =
      format.type === 'json_schema'
        ? {
            type: 'json_schema',
            json_schema: {
              name: format.name,
              schema: format.schema,
              ...(format.strict !== undefined ? { strict: format.strict } : {}),
              ...(format.description !== undefined ? { description: format.description } : {}),
            },
          }
        : { type: format.type };
  }
  if (request.maxTokens !== undefined) body['max_tokens'] = request.maxTokens;
  if (request.temperature !== undefined) body['temperature'] = request.temperature;
  if (request.topP !== undefined) body['top_p'] = request.topP;
  if (request.stop?.length) body['stop'] = request.stop;
  if (request.seed !== undefined) body['seed'] = request.seed;
  if (request.n !== undefined) body['n'] = request.n;
  if (request.frequencyPenalty !== undefined) body['frequency_penalty'] = request.frequencyPenalty;
  if (request.presencePenalty !== undefined) body['presence_penalty'] = request.presencePenalty;
  if (request.logprobs !== undefined) body['logprobs'] = request.logprobs;
  if (request.topLogprobs !== undefined) body['top_logprobs'] = request.topLogprobs;
  if (request.logitBias !== undefined) body['logit_bias'] = request.logitBias;
  if (request.user !== undefined) body['user'] = request.user;
  if (request.reasoning?.effort !== undefined) body['reasoning_effort'] = request.reasoning.effort;
  if (request.stream) {
    body['stream'] = true;
    body['stream_options'] = { include_usage: true };
  }
  return body;
}

function convertParts(parts: ContentPart[]): string | Record<string, unknown>[] {
  if (parts.every((part) => part.type === 'text')) return parts.map((part) => part.text).join('');
  return parts.map((part) => {
    if (part.type === 'text') return { type: 'text', text: part.text };
    const url =
      part.source.kind === 'url' ? part.source.url : `data:${part.source.mediaType};base64,${part.source.data}`;
    return { type: 'image_url', image_url: part.detail ? { url, detail: part.detail } : { url } };
  });
}

function convertMessage(message: Message): Record<string, unknown> {
  switch (message.role) {
    case 'system':
      return { role: 'system', content: message.content.map((part) => part.text).join('\n') };
    case 'user':
      return message.name === undefined
        ? { role: 'user', content: convertParts(message.content) }
        : { role: 'user', content: convertParts(message.content), name: message.name };
    case 'assistant': {
      const text = message.content.map((part) => part.text).join('');
      const result: Record<string, unknown> = { role: 'assistant', content: text === '' ? null : text };
      if (message.toolCalls?.length) {
        result['tool_calls'] = message.toolCalls.map((call) => ({
          id: call.id,
          type: 'function',
          function: { name: call.name, arguments: call.arguments },
        }));
      }
      if (message.refusal !== undefined) result['refusal'] = message.refusal;
      return result;
    }
    case 'tool': {
      // OpenAI tool messages carry text only; images in a tool result are described, never dropped silently.
      const content = message.content
        .map((part) => (part.type === 'text' ? part.text : '[image omitted: this provider takes text tool results]'))
        .join('\n');
      return { role: 'tool', tool_call_id: message.toolCallId, content };
    }
  }
}
