import { nanoToUsd } from '../../billing/cost.ts';
import type { ChatRequest, ChatResponse, FinishReason, ReasoningBlock, ToolCall, Usage } from '../../core/ir.ts';
import { encodeReasoningToken } from './reasoning-token.ts';

/**
 * The Response object of OpenAI's Responses API, for a finished answer and for the events of a stream
 * (`response.created` … `response.completed`). Request parameters are echoed as OpenAI echoes them; `store`
 * is true only when the gateway stores responses and the request did not opt out (ResponseState).
 * `usage.cost` is Modro's addition (USD, as on chat completions).
 * @see https://platform.openai.com/docs/api-reference/responses/object
 */

export type ResponseStatus = 'in_progress' | 'completed' | 'incomplete' | 'failed';
export type OutputItem = Record<string, unknown> & { id: string; type: string };

export interface ResponseIds {
  /** `resp_…`; item ids are derived from it. */
  response: string;
}

/**
 * What a Response reports of stored responses (docs/responses.md): whether this one is stored, the response it
 * continues, and who to hand it to once it has finished (completed or incomplete) so that it can be stored.
 */
export interface ResponseState {
  store: boolean;
  previousResponseId: string | null;
  /** Called with the finished Response object (never a failed one); must not throw or block. */
  onFinished?: ((response: Record<string, unknown>) => void) | undefined;
}

export const UNSTORED: ResponseState = { store: false, previousResponseId: null };

export function responseId(requestId: string): string {
  return `resp_${requestId.replace(/[^A-Za-z0-9]/g, '')}`;
}

/** An item id of one response: `msg_…`, `fc_…`, `rs_…`, unique within it by its output index. */
export function itemId(kind: 'msg' | 'fc' | 'rs', responseIdValue: string, outputIndex: number): string {
  return `${kind}_${responseIdValue.slice(5)}${outputIndex.toString(36)}`;
}

export function responseObject(options: {
  id: string;
  createdAt: number;
  model: string;
  request: ChatRequest;
  status: ResponseStatus;
  output: OutputItem[];
  finishReason?: FinishReason | undefined;
  usage?: Usage | undefined;
  costNano?: number | undefined;
  error?: { code: string; message: string } | undefined;
  state?: ResponseState | undefined;
}): Record<string, unknown> {
  const state = options.state ?? UNSTORED;
  const body = options.request.inbound.body;
  const incomplete =
    options.status === 'incomplete'
      ? { reason: options.finishReason === 'content_filter' ? 'content_filter' : 'max_output_tokens' }
      : null;
  return {
    id: options.id,
    object: 'response',
    created_at: options.createdAt,
    status: options.status,
    background: false,
    error: options.error ?? null,
    incomplete_details: incomplete,
    instructions: body['instructions'] ?? null,
    max_output_tokens: body['max_output_tokens'] ?? null,
    model: options.model,
    output: options.output,
    parallel_tool_calls: body['parallel_tool_calls'] ?? true,
    previous_response_id: state.previousResponseId,
    reasoning: { effort: (body['reasoning'] as { effort?: unknown } | undefined)?.effort ?? null, summary: null },
    store: state.store,
    temperature: body['temperature'] ?? 1,
    text: { format: (body['text'] as { format?: unknown } | undefined)?.format ?? { type: 'text' } },
    tool_choice: body['tool_choice'] ?? 'auto',
    tools: body['tools'] ?? [],
    top_p: body['top_p'] ?? 1,
    truncation: 'disabled',
    ...(options.usage ? { usage: usageObject(options.usage, options.costNano ?? 0) } : {}),
    ...(typeof body['user'] === 'string' ? { user: body['user'] } : {}),
    metadata: body['metadata'] ?? {},
  };
}

export function usageObject(usage: Usage, costNano: number): Record<string, unknown> {
  return {
    input_tokens: usage.inputTokens,
    input_tokens_details: { cached_tokens: usage.cachedInputTokens, cache_write_tokens: usage.cacheWriteTokens },
    output_tokens: usage.outputTokens,
    output_tokens_details: { reasoning_tokens: usage.reasoningTokens },
    total_tokens: usage.inputTokens + usage.outputTokens,
    cost: nanoToUsd(costNano),
  };
}

/** `incomplete` when the answer was cut (token limit, content filter), else `completed`. */
export function statusOf(reason: FinishReason | undefined): ResponseStatus {
  return reason === 'length' || reason === 'content_filter' ? 'incomplete' : 'completed';
}

export function reasoningItem(id: string, blocks: readonly ReasoningBlock[]): OutputItem {
  const text = blocks.map((b) => b.text).join('');
  const item: OutputItem = {
    id,
    type: 'reasoning',
    summary: text ? [{ type: 'summary_text', text }] : [],
  };
  const last = blocks.at(-1);
  const token = encodeReasoningToken({ signature: last?.signature, redactedData: last?.redactedData });
  if (token) item['encrypted_content'] = token;
  return item;
}

export function messageItem(
  id: string,
  status: 'in_progress' | 'completed' | 'incomplete',
  content: Array<Record<string, unknown>>,
): OutputItem {
  return { id, type: 'message', status, role: 'assistant', content };
}

export function outputTextPart(text: string): Record<string, unknown> {
  return { type: 'output_text', text, annotations: [], logprobs: [] };
}

export function functionCallItem(id: string, call: ToolCall, status: 'in_progress' | 'completed'): OutputItem {
  return { id, type: 'function_call', status, call_id: call.id, name: call.name, arguments: call.arguments };
}

/** A finished answer (choice 0; Responses has no `n`) as a Response object. */
export function renderResponse(
  response: ChatResponse,
  request: ChatRequest,
  requestId: string,
  costNano: number,
  state: ResponseState = UNSTORED,
): Record<string, unknown> {
  const id = responseId(requestId);
  const choice = response.choices[0];
  const output: OutputItem[] = [];
  const message = choice?.message;
  if (message?.reasoning?.length) output.push(reasoningItem(itemId('rs', id, output.length), message.reasoning));
  const content: Array<Record<string, unknown>> = [];
  if (message?.content) content.push(outputTextPart(message.content));
  if (message?.refusal) content.push({ type: 'refusal', refusal: message.refusal });
  const status = statusOf(choice?.finishReason);
  if (content.length > 0) {
    output.push(
      messageItem(itemId('msg', id, output.length), status === 'completed' ? 'completed' : 'incomplete', content),
    );
  }
  for (const call of message?.toolCalls ?? []) {
    output.push(functionCallItem(itemId('fc', id, output.length), call, 'completed'));
  }
  return responseObject({
    id,
    createdAt: response.created,
    model: response.model,
    request,
    status,
    output,
    finishReason: choice?.finishReason,
    usage: response.usage,
    costNano,
    state,
  });
}
