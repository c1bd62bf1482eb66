import { GatewayError } from '../../core/errors.ts';
import type { ChatResponse, FinishReason, ReasoningBlock, ToolCall } from '../../core/ir.ts';
import type { BedrockConverseResponse } from './bedrock-api-types.ts';
import { convertBedrockUsage } from './convert-bedrock-usage.ts';
import { mapBedrockStopReason, matchedStopSequence } from './map-bedrock-stop-reason.ts';

/**
 * A Converse response → IR response. Text blocks are joined in order (as the stream would deliver them),
 * `toolUse` blocks become tool calls with their input as JSON text, `reasoningContent` becomes reasoning
 * (text with signature, or redacted bytes). In json_schema tool mode the `json_response` tool's input is
 * the answer text and other text is dropped. Converse returns no response id or model name: the id is the
 * request id and the model is the one asked for.
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_ResponseSyntax
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ContentBlock.html
 */

export interface ResponseContext {
  id: string;
  model: string;
  created: number;
  label: string;
  jsonToolName?: string;
}

export function convertBedrockResponse(response: BedrockConverseResponse, ctx: ResponseContext): ChatResponse {
  const outcome = mapBedrockStopReason(response.stopReason);
  if (outcome === 'malformed') {
    throw new GatewayError('provider_unavailable', `Upstream ${ctx.label} model produced malformed output`, {
      failover: true,
    });
  }
  const texts: string[] = [];
  const toolCalls: ToolCall[] = [];
  const reasoning: ReasoningBlock[] = [];
  let jsonAnswer: string | undefined;

  for (const block of response.output?.message?.content ?? []) {
    if (typeof block.text === 'string') {
      texts.push(block.text);
    } else if (block.toolUse) {
      const input = JSON.stringify(block.toolUse.input ?? {});
      if (ctx.jsonToolName && block.toolUse.name === ctx.jsonToolName) {
        jsonAnswer = input;
        continue;
      }
      toolCalls.push({ id: block.toolUse.toolUseId ?? '', name: block.toolUse.name ?? '', arguments: input });
    } else if (block.reasoningContent) {
      const { reasoningText, redactedContent } = block.reasoningContent;
      if (reasoningText) {
        reasoning.push({
          text: reasoningText.text ?? '',
          ...(reasoningText.signature ? { signature: reasoningText.signature } : {}),
        });
      } else if (redactedContent) {
        reasoning.push({ text: '', redactedData: redactedContent });
      }
    }
  }

  let finishReason: FinishReason = outcome;
  let content: string | null = texts.length > 0 ? texts.join('') : null;
  if (jsonAnswer !== undefined) {
    content = jsonAnswer;
    if (toolCalls.length === 0 && finishReason === 'tool_calls') finishReason = 'stop';
  }
  const stopSequence =
    response.stopReason === 'stop_sequence' ? matchedStopSequence(response.additionalModelResponseFields) : undefined;

  return {
    id: ctx.id,
    created: ctx.created,
    model: ctx.model,
    choices: [
      {
        index: 0,
        message: {
          content,
          ...(toolCalls.length > 0 ? { toolCalls } : {}),
          ...(reasoning.length > 0 ? { reasoning } : {}),
        },
        finishReason,
        ...(stopSequence !== undefined ? { stopSequence } : {}),
      },
    ],
    usage: convertBedrockUsage(response.usage),
  };
}
