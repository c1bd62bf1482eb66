import type { FinishReason, StreamEvent, Usage } from '../../core/ir.ts';
import { emptyUsage } from '../../core/ir.ts';
import { messageId, toolUseId } from './anthropic-ids.ts';
import { toAnthropicUsage, withCost } from './convert-usage.ts';
import { toAnthropicStopReason } from './map-finish-reason.ts';

/**
 * IR stream events → Anthropic SSE events, in the order Anthropic sends them:
 * `message_start`, then per content block `content_block_start` / `content_block_delta`… /
 * `content_block_stop` (blocks strictly one after another, indexed from 0), then `message_delta` with
 * `stop_reason` and cumulative usage, then `message_stop`.
 * - `message_start` waits for the first content (or the end), so a usage report that arrives right after
 *   the upstream's start (Anthropic's, Gemini's) is in it; usage known only at the end (OpenAI's) goes in
 *   `message_delta`, whose counters are cumulative, as Anthropic's are.
 * - Reasoning is a `thinking` block (signature as `signature_delta`; more reasoning after a signature opens
 *   a new block); opaque reasoning is a `redacted_thinking` block.
 * - Each tool call is a `tool_use` block whose arguments stream as `input_json_delta`. Upstreams that
 *   interleave the arguments of parallel calls (rare) get the late fragments sent with the earlier block's
 *   index, which the SDKs' accumulators handle.
 * - A refusal goes in `stop_details.explanation`; only the first choice is rendered.
 * @see https://platform.claude.com/docs/en/build-with-claude/streaming#event-types
 */

export interface AnthropicSSEFrame {
  event: string;
  data: Record<string, unknown>;
}

/** One frame as SSE text, with the `event:` line the official SDKs require. */
export function formatAnthropicSSE(frame: AnthropicSSEFrame): string {
  return `event: ${frame.event}\ndata: ${JSON.stringify(frame.data)}\n\n`;
}

export const PING_FRAME: AnthropicSSEFrame = { event: 'ping', data: { type: 'ping' } };

type OpenBlock =
  | { index: number; kind: 'text' }
  | { index: number; kind: 'thinking'; signed: boolean }
  | { index: number; kind: 'tool' };

export class AnthropicStreamRenderer {
  private id: string;
  private model: string;
  private started = false;
  private ended = false;
  private usage: Usage = emptyUsage();
  private serviceTier: string | undefined;
  private open: OpenBlock | undefined;
  private nextIndex = 0;
  private readonly toolBlocks = new Map<number, number>();
  private finishReason: FinishReason | undefined;
  private stopSequence: string | undefined;
  private refusal = '';

  constructor(fallback: { id?: string; model: string; serviceTier?: string }) {
    this.id = messageId(fallback.id);
    this.model = fallback.model;
    this.serviceTier = fallback.serviceTier;
  }

  /** The frames to send for this event (possibly none). */
  render(event: StreamEvent): AnthropicSSEFrame[] {
    const out: AnthropicSSEFrame[] = [];
    if (this.ended) return out;
    switch (event.type) {
      case 'start':
        if (!this.started) {
          if (event.id) this.id = messageId(event.id);
          if (event.model) this.model = event.model;
        }
        break;
      case 'usage':
        this.usage = { ...event.usage };
        break;
      case 'text':
        if (event.choice !== 0 || event.delta === '') break;
        this.openBlock('text', out);
        out.push(this.delta({ type: 'text_delta', text: event.delta }));
        break;
      case 'reasoning':
        if (event.choice !== 0) break;
        this.reasoning(event, out);
        break;
      case 'tool-call':
        if (event.choice !== 0) break;
        this.toolCall(event, out);
        break;
      case 'refusal':
        if (event.choice === 0) this.refusal += event.delta;
        break;
      case 'finish':
        if (event.choice !== 0) break;
        this.finishReason = event.reason;
        this.stopSequence = event.stopSequence;
        break;
      case 'logprobs':
        break;
    }
    return out;
  }

  /** Closes the message: the open block, `message_delta` (stop reason, usage, optional cost), `message_stop`. */
  finish(options: { usage?: Usage; cost?: number } = {}): AnthropicSSEFrame[] {
    const out: AnthropicSSEFrame[] = [];
    if (this.ended) return out;
    if (options.usage) this.usage = { ...options.usage };
    this.ensureStarted(out);
    this.closeBlock(out);
    const reason = this.finishReason ?? (this.toolBlocks.size > 0 ? 'tool_calls' : 'stop');
    const stopReason = toAnthropicStopReason(reason, this.stopSequence);
    const usage = toAnthropicUsage(this.usage, this.serviceTier);
    out.push({
      event: 'message_delta',
      data: {
        type: 'message_delta',
        delta: {
          stop_reason: stopReason,
          stop_sequence: stopReason === 'stop_sequence' ? (this.stopSequence ?? null) : null,
          stop_details:
            stopReason === 'refusal' ? { type: 'refusal', category: null, explanation: this.refusal || null } : null,
          container: null,
        },
        usage: withCost(
          {
            input_tokens: usage.input_tokens,
            cache_creation_input_tokens: usage.cache_creation_input_tokens,
            cache_read_input_tokens: usage.cache_read_input_tokens,
            output_tokens: usage.output_tokens,
            output_tokens_details: usage.output_tokens_details,
            server_tool_use: null,
          },
          options.cost,
        ),
      },
    });
    out.push({ event: 'message_stop', data: { type: 'message_stop' } });
    this.ended = true;
    return out;
  }

  /** Whether any frame was produced yet (before that, an error can still be an HTTP error response). */
  get hasStarted(): boolean {
    return this.started;
  }

  private ensureStarted(out: AnthropicSSEFrame[]): void {
    if (this.started) return;
    this.started = true;
    out.push({
      event: 'message_start',
      data: {
        type: 'message_start',
        message: {
          id: this.id,
          type: 'message',
          role: 'assistant',
          model: this.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          stop_details: null,
          container: null,
          diagnostics: null,
          usage: toAnthropicUsage(this.usage, this.serviceTier),
        },
      },
    });
  }

  private delta(delta: Record<string, unknown>, index = this.open?.index ?? 0): AnthropicSSEFrame {
    return { event: 'content_block_delta', data: { type: 'content_block_delta', index, delta } };
  }

  private closeBlock(out: AnthropicSSEFrame[]): void {
    if (!this.open) return;
    out.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index: this.open.index } });
    this.open = undefined;
  }

  private startBlock(block: Record<string, unknown>, out: AnthropicSSEFrame[]): number {
    this.ensureStarted(out);
    this.closeBlock(out);
    const index = this.nextIndex++;
    out.push({ event: 'content_block_start', data: { type: 'content_block_start', index, content_block: block } });
    return index;
  }

  private openBlock(kind: 'text' | 'thinking', out: AnthropicSSEFrame[]): void {
    if (this.open?.kind === kind && !(this.open.kind === 'thinking' && this.open.signed)) return;
    if (kind === 'text') {
      this.open = { index: this.startBlock({ type: 'text', text: '', citations: null }, out), kind };
    } else {
      this.open = {
        index: this.startBlock({ type: 'thinking', thinking: '', signature: '' }, out),
        kind,
        signed: false,
      };
    }
  }

  private reasoning(event: Extract<StreamEvent, { type: 'reasoning' }>, out: AnthropicSSEFrame[]): void {
    if (event.redactedData !== undefined) {
      this.startBlock({ type: 'redacted_thinking', data: event.redactedData }, out);
      this.open = undefined;
      out.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index: this.nextIndex - 1 } });
      return;
    }
    if (event.delta !== '') {
      this.openBlock('thinking', out);
      out.push(this.delta({ type: 'thinking_delta', thinking: event.delta }));
    }
    if (event.signature) {
      if (this.open?.kind !== 'thinking') this.openBlock('thinking', out);
      out.push(this.delta({ type: 'signature_delta', signature: event.signature }));
      if (this.open?.kind === 'thinking') this.open.signed = true;
    }
  }

  private toolCall(event: Extract<StreamEvent, { type: 'tool-call' }>, out: AnthropicSSEFrame[]): void {
    let index = this.toolBlocks.get(event.index);
    if (index === undefined) {
      index = this.startBlock(
        { type: 'tool_use', id: toolUseId(event.id), name: event.name ?? '', input: {}, caller: { type: 'direct' } },
        out,
      );
      this.open = { index, kind: 'tool' };
      this.toolBlocks.set(event.index, index);
    }
    if (event.argumentsDelta !== '')
      out.push(this.delta({ type: 'input_json_delta', partial_json: event.argumentsDelta }, index));
  }
}
