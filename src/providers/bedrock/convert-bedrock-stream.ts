import { GatewayError } from '../../core/errors.ts';
import type { FinishReason, StreamEvent } from '../../core/ir.ts';
import type {
  BedrockContentBlockDeltaEvent,
  BedrockContentBlockStartEvent,
  BedrockContentBlockStopEvent,
  BedrockMessageStopEvent,
  BedrockMetadataEvent,
} from './bedrock-api-types.ts';
import { convertBedrockUsage } from './convert-bedrock-usage.ts';
import type { EventStreamMessage } from './decode-event-stream.ts';
import { mapBedrockError } from './map-bedrock-error.ts';
import { mapBedrockStopReason, matchedStopSequence } from './map-bedrock-stop-reason.ts';

/**
 * ConverseStream messages → IR stream events.
 * - `messageStart` (or whichever event comes first) → `start`.
 * - `contentBlockStart` with `toolUse` opens a tool call (id and name); `contentBlockDelta` carries text,
 *   tool input fragments (JSON text) or `reasoningContent` (text, signature, redacted bytes); a tool call whose
 *   input never arrived is closed with `{}` at `contentBlockStop`, as the non-streaming answer would give.
 * - `messageStop` gives the stop reason and `metadata` the usage; Bedrock sends metadata last. The finish event
 *   goes out once both have arrived, followed by the usage. A stream that ends without either is cut short and
 *   throws a retryable provider_unavailable (what was delivered is all the caller gets).
 * - Exception messages (`:message-type: exception`, `:exception-type: throttlingException` ...) and generic
 *   `error` messages throw the mapped GatewayError.
 * - In json_schema tool mode the `json_response` tool's input is streamed as text, and text the model wrote
 *   before it is dropped (the caller asked for JSON only).
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStreamOutput.html
 */

export interface BedrockStreamContext {
  id: string;
  model: string;
  created: number;
  label: string;
  jsonToolName?: string;
}

type Json = Record<string, unknown>;

function parsePayload(message: EventStreamMessage, label: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(message.body).toString('utf8'));
  } catch {
    throw new GatewayError('provider_unavailable', `Upstream ${label} sent an event that is not JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new GatewayError('provider_unavailable', `Upstream ${label} sent an event that is not a JSON object`);
  }
  return value as Json;
}

export async function* convertBedrockStream(
  messages: AsyncIterable<EventStreamMessage>,
  ctx: BedrockStreamContext,
): AsyncGenerator<StreamEvent> {
  const { label } = ctx;
  let started = false;
  /** Content block index → IR tool call index, for tool blocks. */
  const toolCalls = new Map<number, { index: number; hasInput: boolean }>();
  let jsonBlock: number | undefined;
  let jsonHasInput = false;
  /** Tool mode: text held back until it is known whether the JSON tool answers. */
  let heldText: string[] = [];
  let stop: { reason: FinishReason; stopSequence?: string } | undefined;
  let finished = false;
  let usageSeen = false;

  const finishEvent = (): StreamEvent => ({
    type: 'finish',
    choice: 0,
    reason: stop!.reason,
    ...(stop!.stopSequence !== undefined ? { stopSequence: stop!.stopSequence } : {}),
  });

  for await (const message of messages) {
    const messageType = message.headers[':message-type'];
    if (messageType === 'exception') {
      const payload = parsePayload(message, label);
      throw mapBedrockError({ errorType: message.headers[':exception-type'], message: payload['message'], label });
    }
    if (messageType === 'error') {
      throw mapBedrockError({
        errorType: message.headers[':error-code'],
        message: message.headers[':error-message'],
        label,
      });
    }
    if (messageType !== 'event') continue;

    if (!started) {
      started = true;
      yield { type: 'start', id: ctx.id, model: ctx.model, created: ctx.created };
    }
    const eventType = message.headers[':event-type'];
    switch (eventType) {
      case 'contentBlockStart': {
        const event = parsePayload(message, label) as BedrockContentBlockStartEvent;
        const toolUse = event.start?.toolUse;
        if (!toolUse) break;
        const block = event.contentBlockIndex ?? 0;
        if (ctx.jsonToolName && toolUse.name === ctx.jsonToolName) {
          jsonBlock = block;
          heldText = [];
          break;
        }
        const index = toolCalls.size;
        toolCalls.set(block, { index, hasInput: false });
        yield {
          type: 'tool-call',
          choice: 0,
          index,
          id: toolUse.toolUseId ?? '',
          name: toolUse.name ?? '',
          argumentsDelta: '',
        };
        break;
      }
      case 'contentBlockDelta': {
        const event = parsePayload(message, label) as BedrockContentBlockDeltaEvent;
        const block = event.contentBlockIndex ?? 0;
        const delta = event.delta ?? {};
        if (typeof delta.text === 'string' && delta.text !== '') {
          if (!ctx.jsonToolName) yield { type: 'text', choice: 0, delta: delta.text };
          else if (jsonBlock === undefined) heldText.push(delta.text);
        } else if (delta.toolUse) {
          const input = delta.toolUse.input ?? '';
          if (block === jsonBlock) {
            if (input !== '') {
              jsonHasInput = true;
              yield { type: 'text', choice: 0, delta: input };
            }
            break;
          }
          const call = toolCalls.get(block);
          if (!call)
            throw new GatewayError('provider_unavailable', `Upstream ${label} sent tool input for no tool call`);
          if (input !== '') {
            call.hasInput = true;
            yield { type: 'tool-call', choice: 0, index: call.index, argumentsDelta: input };
          }
        } else if (delta.reasoningContent) {
          const reasoning = delta.reasoningContent;
          if (typeof reasoning.text === 'string' && reasoning.text !== '') {
            yield { type: 'reasoning', choice: 0, delta: reasoning.text };
          }
          if (reasoning.signature) yield { type: 'reasoning', choice: 0, delta: '', signature: reasoning.signature };
          if (reasoning.redactedContent) {
            yield { type: 'reasoning', choice: 0, delta: '', redactedData: reasoning.redactedContent };
          }
        }
        break;
      }
      case 'contentBlockStop': {
        const event = parsePayload(message, label) as BedrockContentBlockStopEvent;
        const block = event.contentBlockIndex ?? 0;
        if (block === jsonBlock && !jsonHasInput) {
          jsonHasInput = true;
          yield { type: 'text', choice: 0, delta: '{}' };
        }
        const call = toolCalls.get(block);
        if (call && !call.hasInput) {
          call.hasInput = true;
          yield { type: 'tool-call', choice: 0, index: call.index, argumentsDelta: '{}' };
        }
        break;
      }
      case 'messageStop': {
        const event = parsePayload(message, label) as BedrockMessageStopEvent;
        const outcome = mapBedrockStopReason(event.stopReason);
        if (outcome === 'malformed') {
          throw new GatewayError('provider_unavailable', `Upstream ${label} model produced malformed output`, {
            failover: true,
          });
        }
        if (ctx.jsonToolName && jsonBlock === undefined) {
          for (const text of heldText) yield { type: 'text', choice: 0, delta: text };
          heldText = [];
        }
        let reason: FinishReason = outcome;
        // The JSON tool is the answer, not a tool call for the caller.
        if (jsonBlock !== undefined && toolCalls.size === 0 && reason === 'tool_calls') reason = 'stop';
        const stopSequence =
          event.stopReason === 'stop_sequence' ? matchedStopSequence(event.additionalModelResponseFields) : undefined;
        stop = stopSequence !== undefined ? { reason, stopSequence } : { reason };
        if (usageSeen && !finished) {
          finished = true;
          yield finishEvent();
        }
        break;
      }
      case 'metadata': {
        const event = parsePayload(message, label) as BedrockMetadataEvent;
        if (!event.usage) break;
        if (stop && !finished) {
          finished = true;
          yield finishEvent();
        }
        usageSeen = true;
        yield { type: 'usage', usage: convertBedrockUsage(event.usage) };
        break;
      }
      default:
        // messageStart (handled above) and event types this gateway does not use.
        break;
    }
  }

  if (!stop)
    throw new GatewayError('provider_unavailable', `Upstream ${label} stream ended before the message finished`);
  if (!usageSeen) throw new GatewayError('provider_unavailable', `Upstream ${label} stream ended before its usage`);
}
