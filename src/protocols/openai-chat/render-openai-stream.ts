import type { StreamEvent, Usage } from '../../core/ir.ts';
import { toOpenAIUsage } from './convert-openai-usage.ts';
import { toOpenAIFinishReason } from './map-finish-reason.ts';

/**
 * IR stream events → OpenAI `chat.completion.chunk` objects, one chunk per content event. The first chunk of
 * each choice carries `role: assistant`; tool calls open with id, type and name and then append arguments,
 * as OpenAI streams them. Usage is not rendered here: the gateway adds the usage chunk (with cost) at the end.
 * @see https://platform.openai.com/docs/api-reference/chat-streaming/streaming
 */
export class OpenAIStreamRenderer {
  private id = '';
  private model = '';
  private created = 0;
  private readonly started = new Set<number>();

  constructor(fallback: { id: string; model: string; created: number }) {
    this.id = fallback.id;
    this.model = fallback.model;
    this.created = fallback.created;
  }

  /** Returns the chunk to send for this event, or undefined when the event produces no chunk. */
  render(event: StreamEvent): Record<string, unknown> | undefined {
    switch (event.type) {
      case 'start':
        this.id = event.id || this.id;
        this.model = event.model || this.model;
        this.created = event.created || this.created;
        return undefined;
      case 'text':
        return this.chunk(event.choice, { content: event.delta });
      case 'reasoning':
        return event.delta === '' ? undefined : this.chunk(event.choice, { reasoning_content: event.delta });
      case 'refusal':
        return this.chunk(event.choice, { refusal: event.delta });
      case 'tool-call': {
        const call: Record<string, unknown> = { index: event.index };
        const fn: Record<string, unknown> = { arguments: event.argumentsDelta };
        if (event.id !== undefined) {
          call['id'] = event.id;
          call['type'] = 'function';
        }
        if (event.name !== undefined) fn['name'] = event.name;
        call['function'] = fn;
        return this.chunk(event.choice, { tool_calls: [call] });
      }
      case 'logprobs':
        return this.chunk(event.choice, {}, null, event.logprobs);
      case 'finish':
        return this.chunk(event.choice, {}, toOpenAIFinishReason(event.reason));
      case 'usage':
        return undefined;
    }
  }

  /** The final usage chunk (`choices: []`), as OpenAI sends it when `stream_options.include_usage` is set. */
  usageChunk(usage: Usage, cost: number): Record<string, unknown> {
    return {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [],
      usage: { ...toOpenAIUsage(usage), cost },
    };
  }

  private chunk(
    choice: number,
    delta: Record<string, unknown>,
    finishReason: string | null = null,
    logprobs: unknown = null,
  ): Record<string, unknown> {
    if (!this.started.has(choice)) {
      this.started.add(choice);
      delta = { role: 'assistant', ...delta };
      if (!('content' in delta) && finishReason === null) delta['content'] = '';
    }
    return {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      choices: [{ index: choice, delta, logprobs, finish_reason: finishReason }],
    };
  }
}
