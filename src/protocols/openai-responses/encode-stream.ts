import type { GatewayError } from '../../core/errors.ts';
import type { ChatRequest, FinishReason, ReasoningBlock, StreamEvent, ToolCall } from '../../core/ir.ts';
import { sseEvent } from '../../core/sse-text.ts';
import type { PipelineStream, StreamEnd } from '../../pipeline/stream.ts';
import type { PassthroughFrame } from '../../providers/types.ts';
import type { StreamEncoder } from '../codec.ts';
import {
  functionCallItem,
  itemId,
  messageItem,
  type OutputItem,
  outputTextPart,
  type ResponseState,
  reasoningItem,
  responseId,
  responseObject,
  statusOf,
  UNSTORED,
} from './render-response.ts';

/**
 * A stream as the Responses API's semantic events, in OpenAI's order: `response.created`,
 * `response.in_progress`, then per output item `response.output_item.added`, its parts and deltas
 * (`response.content_part.added`, `response.output_text.delta`, `response.function_call_arguments.delta`,
 * `response.reasoning_summary_text.delta`…) and their `…done` events, and last `response.completed` (or
 * `response.incomplete` when cut by the token limit). An upstream failing mid-stream ends it with an `error`
 * event and `response.failed`, never a silent short answer. Every event carries its `sequence_number`.
 * @see https://platform.openai.com/docs/api-reference/responses-streaming
 */
export class ResponsesStreamEncoder implements StreamEncoder {
  readonly #request: ChatRequest;
  readonly #id: string;
  readonly #createdAt: number;
  readonly #model: string;
  #sequence = 0;
  #started = false;
  readonly #output: OutputItem[] = [];
  #open: OpenItem | undefined;
  /** Function-call items by the stream's tool-call index. */
  readonly #calls = new Map<number, CallItem>();
  #finish: FinishReason | undefined;
  readonly #state: ResponseState;
  /** Pass-through: the upstream's events go out as they came; its last Response object, for a failure. */
  readonly #passthrough: boolean;
  #upstreamResponse: Record<string, unknown> | undefined;

  constructor(
    stream: PipelineStream,
    request: { requestId: string; at: number; request: ChatRequest },
    state: ResponseState = UNSTORED,
  ) {
    this.#request = request.request;
    this.#state = state;
    this.#id = responseId(request.requestId);
    this.#createdAt = Math.floor(request.at / 1000);
    this.#model = stream.served.target.model.upstreamName;
    this.#passthrough = stream.mode === 'passthrough';
  }

  frame(frame: StreamEvent | PassthroughFrame): string | undefined {
    if (this.#passthrough) return this.#forward(frame as PassthroughFrame);
    const event = frame as StreamEvent;
    let out = this.#start();
    switch (event.type) {
      case 'text':
        if (event.choice === 0 && event.delta) out += this.#content('text', event.delta);
        break;
      case 'refusal':
        if (event.choice === 0 && event.delta) out += this.#content('refusal', event.delta);
        break;
      case 'reasoning':
        if (event.choice === 0) out += this.#reasoning(event);
        break;
      case 'tool-call':
        if (event.choice === 0) out += this.#toolCall(event);
        break;
      case 'finish':
        if (event.choice === 0) this.#finish = event.reason;
        break;
      default:
        break;
    }
    return out || undefined;
  }

  /** An upstream event as it came (its own `event:` name and sequence number), remembered for a failure. */
  #forward(frame: PassthroughFrame): string {
    this.#started = true;
    const { json } = frame;
    if (typeof json['sequence_number'] === 'number') this.#sequence = json['sequence_number'] + 1;
    const response = json['response'];
    if (response && typeof response === 'object') this.#upstreamResponse = response as Record<string, unknown>;
    return sseEvent(String(json['type']), frame.data);
  }

  end(end: StreamEnd): string {
    // A pass-through stream has already sent the upstream's own response.completed (with its usage).
    if (this.#passthrough) return '';
    let out = this.#start() + this.#close();
    const status = statusOf(this.#finish);
    const response = this.#response(status, { usage: end.usage, costNano: end.costNano });
    out += this.#event(status === 'completed' ? 'response.completed' : 'response.incomplete', { response });
    this.#state.onFinished?.(response);
    return out;
  }

  /** An upstream failure after the first bytes: OpenAI's `error` event, then `response.failed`. */
  error(error: GatewayError): string {
    let out = this.#start();
    const detail = { type: error.code, code: error.code, message: error.message, param: null };
    out += this.#event('error', { code: error.code, message: error.message, param: null, error: detail });
    // A Response's error.code is OpenAI's short list; Modro's own code is in the error event above.
    const code = error.code === 'rate_limited' ? 'rate_limit_exceeded' : 'server_error';
    const response = this.#response('failed', { error: { code, message: error.message } });
    // Pass-through: the Response the client has seen so far is the upstream's (its id, model and time).
    const upstream = this.#upstreamResponse;
    if (upstream) {
      for (const key of ['id', 'model', 'created_at']) if (upstream[key] !== undefined) response[key] = upstream[key];
    }
    out += this.#event('response.failed', { response });
    return out;
  }

  #response(
    status: 'in_progress' | 'completed' | 'incomplete' | 'failed',
    extra: { usage?: StreamEnd['usage']; costNano?: number; error?: { code: string; message: string } } = {},
  ) {
    return responseObject({
      id: this.#id,
      createdAt: this.#createdAt,
      model: this.#model,
      request: this.#request,
      status,
      output: this.#output,
      finishReason: this.#finish,
      state: this.#state,
      ...extra,
    });
  }

  #event(type: string, fields: Record<string, unknown>): string {
    return sseEvent(type, JSON.stringify({ type, sequence_number: this.#sequence++, ...fields }));
  }

  #start(): string {
    if (this.#started) return '';
    this.#started = true;
    const response = this.#response('in_progress');
    return this.#event('response.created', { response }) + this.#event('response.in_progress', { response });
  }

  /** Text or refusal delta: into the open message's part of that kind, opening the message and part first. */
  #content(kind: 'text' | 'refusal', delta: string): string {
    let out = '';
    let open = this.#open;
    if (open?.kind !== 'message') {
      out += this.#close();
      open = this.#openMessage();
      out += this.#event('response.output_item.added', {
        output_index: open.index,
        item: messageItem(open.id, 'in_progress', []),
      });
    }
    if (open.part?.kind !== kind) {
      out += this.#closePart(open);
      const empty = kind === 'text' ? outputTextPart('') : { type: 'refusal', refusal: '' };
      open.part = { kind, index: open.parts.length, text: '' };
      open.parts.push(empty);
      out += this.#event('response.content_part.added', {
        item_id: open.id,
        output_index: open.index,
        content_index: open.part.index,
        part: { ...empty },
      });
    }
    open.part.text += delta;
    const at = { item_id: open.id, output_index: open.index, content_index: open.part.index };
    return (
      out +
      (kind === 'text'
        ? this.#event('response.output_text.delta', { ...at, delta, logprobs: [] })
        : this.#event('response.refusal.delta', { ...at, delta }))
    );
  }

  #reasoning(event: Extract<StreamEvent, { type: 'reasoning' }>): string {
    let out = '';
    let open = this.#open;
    if (open?.kind !== 'reasoning') {
      out += this.#close();
      const index = this.#output.length;
      open = { kind: 'reasoning', index, id: itemId('rs', this.#id, index), blocks: [{ text: '' }], partOpen: false };
      this.#output.push(reasoningItem(open.id, []));
      this.#open = open;
      out += this.#event('response.output_item.added', {
        output_index: index,
        item: reasoningItem(open.id, []),
      });
    }
    const block = open.blocks.at(-1)!;
    if (event.signature) block.signature = event.signature;
    if (event.redactedData) block.redactedData = event.redactedData;
    if (!event.delta) return out;
    if (!open.partOpen) {
      open.partOpen = true;
      out += this.#event('response.reasoning_summary_part.added', {
        item_id: open.id,
        output_index: open.index,
        summary_index: 0,
        part: { type: 'summary_text', text: '' },
      });
    }
    block.text += event.delta;
    return (
      out +
      this.#event('response.reasoning_summary_text.delta', {
        item_id: open.id,
        output_index: open.index,
        summary_index: 0,
        delta: event.delta,
      })
    );
  }

  #toolCall(event: Extract<StreamEvent, { type: 'tool-call' }>): string {
    let out = '';
    let call = this.#calls.get(event.index);
    if (!call) {
      out += this.#close();
      const index = this.#output.length;
      call = {
        kind: 'call',
        index,
        id: itemId('fc', this.#id, index),
        call: {
          id: event.id ?? `call_${itemId('fc', this.#id, index).slice(3)}`,
          name: event.name ?? '',
          arguments: '',
        },
      };
      this.#calls.set(event.index, call);
      this.#output.push(functionCallItem(call.id, call.call, 'in_progress'));
      this.#open = call;
      out += this.#event('response.output_item.added', {
        output_index: index,
        item: functionCallItem(call.id, call.call, 'in_progress'),
      });
    }
    if (!event.argumentsDelta) return out;
    call.call.arguments += event.argumentsDelta;
    return (
      out +
      this.#event('response.function_call_arguments.delta', {
        item_id: call.id,
        output_index: call.index,
        delta: event.argumentsDelta,
      })
    );
  }

  #openMessage(): MessageState {
    const index = this.#output.length;
    const open: MessageState = {
      kind: 'message',
      index,
      id: itemId('msg', this.#id, index),
      parts: [],
      part: undefined,
    };
    this.#output.push(messageItem(open.id, 'in_progress', open.parts));
    this.#open = open;
    return open;
  }

  #closePart(open: MessageState): string {
    const part = open.part;
    if (!part) return '';
    open.part = undefined;
    const done = part.kind === 'text' ? outputTextPart(part.text) : { type: 'refusal', refusal: part.text };
    open.parts[part.index] = done;
    const base = { item_id: open.id, output_index: open.index, content_index: part.index };
    const textDone =
      part.kind === 'text'
        ? this.#event('response.output_text.done', { ...base, text: part.text, logprobs: [] })
        : this.#event('response.refusal.done', { ...base, refusal: part.text });
    return textDone + this.#event('response.content_part.done', { ...base, part: done });
  }

  /** Ends the open output item with its `…done` events and puts its final form into the output list. */
  #close(): string {
    const open = this.#open;
    if (!open) return '';
    this.#open = undefined;
    let out = '';
    let item: OutputItem;
    switch (open.kind) {
      case 'message': {
        out += this.#closePart(open);
        const status = statusOf(this.#finish) === 'completed' ? 'completed' : 'incomplete';
        item = messageItem(open.id, status, open.parts);
        break;
      }
      case 'reasoning': {
        const text = open.blocks.map((b) => b.text).join('');
        if (open.partOpen) {
          const base = { item_id: open.id, output_index: open.index, summary_index: 0 };
          out += this.#event('response.reasoning_summary_text.done', { ...base, text });
          out += this.#event('response.reasoning_summary_part.done', {
            ...base,
            part: { type: 'summary_text', text },
          });
        }
        item = reasoningItem(open.id, open.blocks);
        break;
      }
      case 'call': {
        out += this.#event('response.function_call_arguments.done', {
          item_id: open.id,
          output_index: open.index,
          name: open.call.name,
          arguments: open.call.arguments,
        });
        item = functionCallItem(open.id, open.call, 'completed');
        break;
      }
    }
    this.#output[open.index] = item;
    return out + this.#event('response.output_item.done', { output_index: open.index, item });
  }
}

interface MessageState {
  kind: 'message';
  index: number;
  id: string;
  parts: Array<Record<string, unknown>>;
  part: { kind: 'text' | 'refusal'; index: number; text: string } | undefined;
}

interface ReasoningState {
  kind: 'reasoning';
  index: number;
  id: string;
  blocks: ReasoningBlock[];
  partOpen: boolean;
}

interface CallItem {
  kind: 'call';
  index: number;
  id: string;
  call: ToolCall;
}

type OpenItem = MessageState | ReasoningState | CallItem;
