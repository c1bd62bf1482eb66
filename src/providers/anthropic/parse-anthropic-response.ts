import { GatewayError } from '../../core/errors.ts';
import type { ChatResponse, ChoiceMessage, ReasoningBlock, ToolCall } from '../../core/ir.ts';
import { convertAnthropicUsage } from './convert-anthropic-usage.ts';
import { mapAnthropicStopReason } from './map-anthropic-stop-reason.ts';

/**
 * Anthropic Message → IR response (one choice).
 * - `text` blocks are concatenated; `thinking` / `redacted_thinking` become reasoning blocks (signature and
 *   opaque data kept, for echoing back); `tool_use` becomes a tool call with its input re-serialised as JSON.
 * - Server-side blocks (web search, code execution results, fallback markers...) have no IR form and are
 *   skipped; they only occur when the caller asked for server tools, i.e. on the pass-through path.
 * - In JSON-tool mode, the synthetic tool's input is the answer text and the turn ends with `stop`.
 * - A refusal is `content_filter`, with Anthropic's explanation (when given) as the refusal text.
 * @see https://platform.claude.com/docs/en/api/messages (response)
 */

type Json = Record<string, unknown>;

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function parseAnthropicResponse(
  json: Json,
  label: string,
  options: { jsonToolName?: string } = {},
): ChatResponse {
  if (json['type'] !== 'message' || !Array.isArray(json['content'])) {
    throw new GatewayError('provider_unavailable', `Upstream ${label} returned a body that is not a message`);
  }
  let text = '';
  let hasText = false;
  const toolCalls: ToolCall[] = [];
  const reasoning: ReasoningBlock[] = [];
  let jsonAnswer: string | undefined;

  for (const raw of json['content'] as unknown[]) {
    if (raw === null || typeof raw !== 'object') continue;
    const block = raw as Json;
    switch (block['type']) {
      case 'text':
        // In JSON-tool mode the answer is the tool's input; prose around it would corrupt the JSON.
        if (options.jsonToolName !== undefined) break;
        text += str(block['text']) ?? '';
        hasText = true;
        break;
      case 'thinking': {
        const item: ReasoningBlock = { text: str(block['thinking']) ?? '' };
        const signature = str(block['signature']);
        if (signature) item.signature = signature;
        reasoning.push(item);
        break;
      }
      case 'redacted_thinking':
        reasoning.push({ text: '', redactedData: str(block['data']) ?? '' });
        break;
      case 'tool_use': {
        const name = str(block['name']) ?? '';
        const args = JSON.stringify(block['input'] ?? {});
        if (options.jsonToolName !== undefined && name === options.jsonToolName) jsonAnswer = args;
        else toolCalls.push({ id: str(block['id']) ?? '', name, arguments: args });
        break;
      }
      default:
        break;
    }
  }

  let finishReason = mapAnthropicStopReason(json['stop_reason']);
  const message: ChoiceMessage = { content: hasText ? text : null };
  if (jsonAnswer !== undefined) {
    message.content = jsonAnswer;
    if (toolCalls.length === 0 && finishReason === 'tool_calls') finishReason = 'stop';
  }
  if (toolCalls.length > 0) message.toolCalls = toolCalls;
  if (reasoning.length > 0) message.reasoning = reasoning;
  if (finishReason === 'content_filter') {
    const details = json['stop_details'] as Json | null | undefined;
    message.refusal = str(details?.['explanation']) ?? null;
  }

  const response: ChatResponse = {
    id: str(json['id']) ?? '',
    created: Math.floor(Date.now() / 1000),
    model: str(json['model']) ?? '',
    choices: [{ index: 0, message, finishReason }],
    usage: convertAnthropicUsage(json['usage']),
  };
  const stopSequence = str(json['stop_sequence']);
  if (json['stop_reason'] === 'stop_sequence' && stopSequence !== undefined)
    response.choices[0]!.stopSequence = stopSequence;
  const tier = str((json['usage'] as Json | undefined)?.['service_tier']);
  if (tier) response.serviceTier = tier;
  return response;
}
