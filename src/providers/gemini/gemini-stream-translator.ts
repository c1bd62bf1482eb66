import { GatewayError } from '../../core/errors.ts';
import type { StreamEvent, Usage } from '../../core/ir.ts';
import { PartialArgsAssembler } from './assemble-partial-args.ts';
import { convertGeminiUsage, hasTokenCounts } from './convert-gemini-usage.ts';
import type { GeminiFunctionCall, GeminiPart, GeminiResponse } from './gemini-api-types.ts';
import { mapGeminiFinishReason } from './map-gemini-finish-reason.ts';
import { synthesizeToolCallId, upstreamToolCallId } from './tool-call-ids.ts';

/**
 * Gemini response chunks → IR stream events. One translator per response; it is also how a non-streaming
 * response is read (as a single chunk), so both paths convert identically.
 *
 * - Text parts → `text`; thought parts (`thought: true`) → `reasoning`. Thought signatures on text and
 *   thought parts are not surfaced: Gemini does not require them back, and a signature that reached another
 *   provider through the caller would be rejected there.
 * - A function call arrives as one whole part (Gemini API) or, with streamed arguments, as a part naming
 *   the call followed by `partialArgs` pieces until a part without `willContinue`; either way it becomes one
 *   `tool-call` event with the complete arguments. Its id is synthesized from the response id, choice and
 *   position (stable), and carries the call's thought signature (see tool-call-ids.ts).
 * - `finishReason` → `finish` (see map-gemini-finish-reason.ts); a call still open when its candidate
 *   finishes is closed with what was received (recorded streams end that way).
 * - `usageMetadata` is cumulative on every chunk: each change is a `usage` event, so a stream cut short is
 *   still metered on what was delivered.
 * - `promptFeedback.blockReason` without candidates: the prompt was refused → GatewayError content_filtered.
 * - A stream that ends before every candidate finished → GatewayError provider_unavailable (`end`).
 * @see https://ai.google.dev/api/generate-content#v1beta.GenerateContentResponse
 */

interface PendingCall {
  name: string;
  signature: string | undefined;
  upstreamId: string | undefined;
  args: PartialArgsAssembler;
}

interface CandidateState {
  toolCalls: number;
  finished: boolean;
  pending: PendingCall | undefined;
}

export interface GeminiTranslatorOptions {
  /** Provider id, for error messages. */
  label: string;
  /** The model the request went to: names the answer when Gemini does not, and tags thought signatures. */
  upstreamModel: string;
  /** Response id to use when Gemini sends none. */
  fallbackId: string;
}

export class GeminiStreamTranslator {
  private readonly options: GeminiTranslatorOptions;
  private started = false;
  private id = '';
  private readonly candidates = new Map<number, CandidateState>();
  private lastUsage: Usage | undefined;

  constructor(options: GeminiTranslatorOptions) {
    this.options = options;
  }

  /** Events for one chunk. Throws GatewayError for a refused prompt or a malformed answer. */
  push(chunk: GeminiResponse): StreamEvent[] {
    const events: StreamEvent[] = [];
    if (!this.started) {
      this.started = true;
      this.id = chunk.responseId || this.options.fallbackId;
      events.push({ type: 'start', id: this.id, model: this.modelOf(chunk), created: createdOf(chunk) });
    }
    const candidates = Array.isArray(chunk.candidates) ? chunk.candidates : [];
    const blockReason = chunk.promptFeedback?.blockReason;
    if (blockReason && candidates.length === 0) {
      throw new GatewayError('content_filtered', `Upstream ${this.options.label} refused the prompt (${blockReason})`, {
        param: 'messages',
      });
    }
    candidates.forEach((candidate, position) => {
      const choice = typeof candidate.index === 'number' ? candidate.index : position;
      const state = this.stateOf(choice);
      for (const part of candidate.content?.parts ?? []) this.part(part, choice, state, events);
      if (candidate.finishReason && !state.finished) {
        this.closePending(choice, state, events);
        const reason = mapGeminiFinishReason(candidate.finishReason, state.toolCalls > 0, this.options.label);
        events.push({ type: 'finish', choice, reason });
        state.finished = true;
      }
    });
    if (hasTokenCounts(chunk.usageMetadata)) {
      const usage = convertGeminiUsage(chunk.usageMetadata);
      if (!this.lastUsage || !sameUsage(usage, this.lastUsage)) {
        this.lastUsage = usage;
        events.push({ type: 'usage', usage });
      }
    }
    return events;
  }

  /**
   * Events once the upstream is done. With `requireFinish` (streams), a response that did not finish every
   * candidate is an error; without it (a complete non-streaming body), unfinished candidates end as `stop`.
   */
  end(requireFinish: boolean): StreamEvent[] {
    const { label } = this.options;
    if (!this.started || this.candidates.size === 0) {
      throw new GatewayError('provider_unavailable', `Upstream ${label} returned no answer`);
    }
    const events: StreamEvent[] = [];
    for (const [choice, state] of this.candidates) {
      if (state.finished) continue;
      if (requireFinish) {
        throw new GatewayError('provider_unavailable', `Upstream ${label} ended the stream before finishing`);
      }
      this.closePending(choice, state, events);
      events.push({ type: 'finish', choice, reason: state.toolCalls > 0 ? 'tool_calls' : 'stop' });
      state.finished = true;
    }
    return events;
  }

  private part(part: GeminiPart, choice: number, state: CandidateState, events: StreamEvent[]): void {
    if (part.thought) {
      if (part.text) events.push({ type: 'reasoning', choice, delta: part.text });
      return;
    }
    if (part.functionCall) {
      this.functionCall(part.functionCall, part.thoughtSignature, choice, state, events);
      return;
    }
    if (typeof part.text === 'string' && part.text !== '') events.push({ type: 'text', choice, delta: part.text });
    // Other parts (inline images, executable code) have no IR form and are not requested by this adapter.
  }

  private functionCall(
    call: GeminiFunctionCall,
    signature: string | undefined,
    choice: number,
    state: CandidateState,
    events: StreamEvent[],
  ): void {
    if (call.name) {
      // A named part starts a call; one left open before it is complete.
      this.closePending(choice, state, events);
      const pending: PendingCall = {
        name: call.name,
        signature,
        upstreamId: call.id,
        args: new PartialArgsAssembler(this.options.label),
      };
      for (const arg of call.partialArgs ?? []) pending.args.apply(arg);
      if (call.willContinue) {
        state.pending = pending;
        return;
      }
      this.emitCall(choice, state, pending, call.args ?? pending.args.value(), events);
      return;
    }
    const pending = state.pending;
    if (!pending) return;
    for (const arg of call.partialArgs ?? []) pending.args.apply(arg);
    if (!call.willContinue) this.closePending(choice, state, events);
  }

  private closePending(choice: number, state: CandidateState, events: StreamEvent[]): void {
    const pending = state.pending;
    if (!pending) return;
    state.pending = undefined;
    this.emitCall(choice, state, pending, pending.args.value(), events);
  }

  private emitCall(
    choice: number,
    state: CandidateState,
    call: PendingCall,
    args: Record<string, unknown>,
    events: StreamEvent[],
  ): void {
    const index = state.toolCalls++;
    const origin = { signature: call.signature, model: this.options.upstreamModel };
    const id = call.upstreamId
      ? upstreamToolCallId(call.upstreamId, origin)
      : synthesizeToolCallId(this.id, choice, index, origin);
    events.push({ type: 'tool-call', choice, index, id, name: call.name, argumentsDelta: JSON.stringify(args) });
  }

  private stateOf(choice: number): CandidateState {
    let state = this.candidates.get(choice);
    if (!state) {
      state = { toolCalls: 0, finished: false, pending: undefined };
      this.candidates.set(choice, state);
    }
    return state;
  }

  private modelOf(chunk: GeminiResponse): string {
    return chunk.modelVersion ? chunk.modelVersion.replace(/^models\//, '') : this.options.upstreamModel;
  }
}

function createdOf(chunk: GeminiResponse): number {
  const time = chunk.createTime ? Date.parse(chunk.createTime) : Number.NaN;
  return Math.floor((Number.isNaN(time) ? Date.now() : time) / 1000);
}

function sameUsage(a: Usage, b: Usage): boolean {
  return (
    a.inputTokens === b.inputTokens &&
    a.cachedInputTokens === b.cachedInputTokens &&
    a.cacheWriteTokens === b.cacheWriteTokens &&
    a.outputTokens === b.outputTokens &&
    a.reasoningTokens === b.reasoningTokens
  );
}
