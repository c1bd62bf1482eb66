import { GatewayError } from '../../core/errors.ts';
import type { StreamEvent } from '../../core/ir.ts';
import { type AnthropicUsageCounters, convertAnthropicUsage, mergeAnthropicUsage } from './convert-anthropic-usage.ts';
import { mapAnthropicError, statusOfAnthropicErrorType } from './map-anthropic-error.ts';
import { mapAnthropicStopReason } from './map-anthropic-stop-reason.ts';

/**
 * Anthropic stream events → IR stream events, one event at a time.
 * - `message_start` → `start` + `usage` (the prompt counters); `message_delta` → `finish` + `usage`
 *   (cumulative totals: a present counter replaces, an absent one keeps).
 * - Content blocks: text deltas → `text` (except in JSON-tool mode, where the tool's input is the text); thinking deltas and signatures → `reasoning`; a `tool_use` block
 *   opens a tool call (id, name) and its `input_json_delta`s append arguments; a tool whose input streamed
 *   nothing gets `{}` (Anthropic sends an empty partial for argument-less calls). Server-tool blocks skipped.
 * - `ping` ignored; an `error` event is the upstream's error, mapped like an HTTP error of its type.
 * - A repeated `message_start` for the same message is ignored; one for another message means two
 *   responses were spliced into one stream, and is an error. So is an end without `message_stop`.
 * @see https://platform.claude.com/docs/en/build-with-claude/streaming
 */

type Json = Record<string, unknown>;

type Block =
  | { kind: 'text' | 'thinking' | 'other' }
  | { kind: 'tool'; toolIndex: number; streamed: boolean; initialInput: unknown }
  | { kind: 'json-tool'; streamed: boolean };

export interface AnthropicStreamOptions {
  label: string;
  /** Name of the synthetic JSON tool, whose input is streamed as text. */
  jsonToolName?: string;
  /** The key used, scrubbed from any upstream error message. */
  secret?: string;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function isEmptyObject(value: unknown): boolean {
  return value === null || typeof value !== 'object' || Object.keys(value as object).length === 0;
}

export class AnthropicStreamTranslator {
  private messageId: string | undefined;
  private readonly blocks = new Map<number, Block>();
  private toolCount = 0;
  private realToolCalls = 0;
  private usage: AnthropicUsageCounters = {};
  private stopped = false;
  private readonly options: AnthropicStreamOptions;

  constructor(options: AnthropicStreamOptions) {
    this.options = options;
  }

  /** Whether `message_stop` arrived: the stream is complete. */
  get complete(): boolean {
    return this.stopped;
  }

  /** One event's payload (and its SSE event name) → the IR events it produces. Throws GatewayError. */
  push(event: Json, eventName?: string): StreamEvent[] {
    const type = str(event['type']) ?? eventName;
    const out: StreamEvent[] = [];
    if (this.stopped) return out;
    switch (type) {
      case 'message_start':
        this.messageStart(event, out);
        break;
      case 'content_block_start':
        this.blockStart(event, out);
        break;
      case 'content_block_delta':
        this.blockDelta(event, out);
        break;
      case 'content_block_stop':
        this.blockStop(event, out);
        break;
      case 'message_delta':
        this.messageDelta(event, out);
        break;
      case 'message_stop':
        this.stopped = true;
        break;
      case 'error':
        throw this.upstreamError(event);
      default:
        // `ping` and event types newer than this code carry nothing for the IR.
        break;
    }
    return out;
  }

  /** Call when the upstream body ended; throws unless the message was complete. */
  end(): void {
    if (!this.stopped) {
      throw new GatewayError(
        'provider_unavailable',
        `Upstream ${this.options.label} ended the stream before message_stop`,
      );
    }
  }

  private upstreamError(event: Json): GatewayError {
    const error = event['error'] as Json | undefined;
    return mapAnthropicError({
      status: statusOfAnthropicErrorType(error?.['type']),
      body: event,
      label: this.options.label,
      secret: this.options.secret,
    });
  }

  private malformed(what: string): GatewayError {
    return new GatewayError('provider_unavailable', `Upstream ${this.options.label} sent ${what}`);
  }

  private messageStart(event: Json, out: StreamEvent[]): void {
    const message = (event['message'] ?? {}) as Json;
    const id = str(message['id']) ?? '';
    if (this.messageId !== undefined) {
      if (id === this.messageId) return;
      throw this.malformed('a second message in one stream');
    }
    this.messageId = id;
    out.push({ type: 'start', id, model: str(message['model']) ?? '', created: Math.floor(Date.now() / 1000) });
    this.usage = mergeAnthropicUsage(this.usage, message['usage']);
    out.push({ type: 'usage', usage: convertAnthropicUsage(this.usage) });
  }

  private index(event: Json): number {
    const index = event['index'];
    if (typeof index !== 'number') throw this.malformed('a content block event without an index');
    return index;
  }

  private blockStart(event: Json, out: StreamEvent[]): void {
    if (this.messageId === undefined) throw this.malformed('content before message_start');
    const index = this.index(event);
    const block = (event['content_block'] ?? {}) as Json;
    switch (block['type']) {
      case 'text': {
        // In JSON-tool mode the answer is the tool's input; prose around it would corrupt the JSON.
        if (this.options.jsonToolName !== undefined) {
          this.blocks.set(index, { kind: 'other' });
          break;
        }
        this.blocks.set(index, { kind: 'text' });
        const text = str(block['text']);
        if (text) out.push({ type: 'text', choice: 0, delta: text });
        break;
      }
      case 'thinking': {
        this.blocks.set(index, { kind: 'thinking' });
        const thinking = str(block['thinking']);
        if (thinking) out.push({ type: 'reasoning', choice: 0, delta: thinking });
        const signature = str(block['signature']);
        if (signature) out.push({ type: 'reasoning', choice: 0, delta: '', signature });
        break;
      }
      case 'redacted_thinking':
        this.blocks.set(index, { kind: 'other' });
        out.push({ type: 'reasoning', choice: 0, delta: '', redactedData: str(block['data']) ?? '' });
        break;
      case 'tool_use': {
        const name = str(block['name']) ?? '';
        if (this.options.jsonToolName !== undefined && name === this.options.jsonToolName) {
          this.blocks.set(index, { kind: 'json-tool', streamed: false });
          break;
        }
        const toolIndex = this.toolCount++;
        this.realToolCalls++;
        this.blocks.set(index, { kind: 'tool', toolIndex, streamed: false, initialInput: block['input'] });
        out.push({
          type: 'tool-call',
          choice: 0,
          index: toolIndex,
          id: str(block['id']) ?? '',
          name,
          argumentsDelta: '',
        });
        break;
      }
      default:
        this.blocks.set(index, { kind: 'other' });
        break;
    }
  }

  private blockDelta(event: Json, out: StreamEvent[]): void {
    const block = this.blocks.get(this.index(event));
    if (!block) throw this.malformed('a delta for a content block that was not started');
    const delta = (event['delta'] ?? {}) as Json;
    switch (delta['type']) {
      case 'text_delta': {
        const text = str(delta['text']);
        if (text && block.kind === 'text') out.push({ type: 'text', choice: 0, delta: text });
        break;
      }
      case 'thinking_delta': {
        const thinking = str(delta['thinking']);
        if (thinking && block.kind === 'thinking') out.push({ type: 'reasoning', choice: 0, delta: thinking });
        break;
      }
      case 'signature_delta': {
        const signature = str(delta['signature']);
        if (signature && block.kind === 'thinking') out.push({ type: 'reasoning', choice: 0, delta: '', signature });
        break;
      }
      case 'input_json_delta': {
        const partial = str(delta['partial_json']);
        if (!partial) break;
        if (block.kind === 'tool') {
          block.streamed = true;
          out.push({ type: 'tool-call', choice: 0, index: block.toolIndex, argumentsDelta: partial });
        } else if (block.kind === 'json-tool') {
          block.streamed = true;
          out.push({ type: 'text', choice: 0, delta: partial });
        }
        break;
      }
      default:
        // citations_delta and newer delta types have no IR form.
        break;
    }
  }

  private blockStop(event: Json, out: StreamEvent[]): void {
    const index = this.index(event);
    const block = this.blocks.get(index);
    if (block?.kind === 'tool' && !block.streamed) {
      const input = isEmptyObject(block.initialInput) ? '{}' : JSON.stringify(block.initialInput);
      out.push({ type: 'tool-call', choice: 0, index: block.toolIndex, argumentsDelta: input });
    } else if (block?.kind === 'json-tool' && !block.streamed) {
      out.push({ type: 'text', choice: 0, delta: '{}' });
    }
  }

  private messageDelta(event: Json, out: StreamEvent[]): void {
    const delta = (event['delta'] ?? {}) as Json;
    const stopReason = delta['stop_reason'];
    if (stopReason != null) {
      let reason = mapAnthropicStopReason(stopReason);
      if (reason === 'tool_calls' && this.realToolCalls === 0 && this.options.jsonToolName !== undefined)
        reason = 'stop';
      if (reason === 'content_filter') {
        const explanation = str((delta['stop_details'] as Json | null | undefined)?.['explanation']);
        if (explanation) out.push({ type: 'refusal', choice: 0, delta: explanation });
      }
      const stopSequence = str(delta['stop_sequence']);
      out.push(
        stopReason === 'stop_sequence' && stopSequence !== undefined
          ? { type: 'finish', choice: 0, reason, stopSequence }
          : { type: 'finish', choice: 0, reason },
      );
    }
    if (event['usage'] !== undefined) {
      this.usage = mergeAnthropicUsage(this.usage, event['usage']);
      out.push({ type: 'usage', usage: convertAnthropicUsage(this.usage) });
    }
  }
}
