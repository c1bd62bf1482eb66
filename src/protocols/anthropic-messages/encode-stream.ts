import { nanoToUsd } from '../../billing/cost.ts';
import type { StreamEvent } from '../../core/ir.ts';
import { sseEvent } from '../../core/sse-text.ts';
import type { PipelineStream, StreamEnd } from '../../pipeline/stream.ts';
import type { PassthroughFrame } from '../../providers/types.ts';
import type { StreamEncoder } from '../codec.ts';
import { AnthropicStreamRenderer, formatAnthropicSSE } from './render-anthropic-stream.ts';

/**
 * A stream in Anthropic's event format. Translated streams are rendered by AnthropicStreamRenderer; a
 * same-protocol stream's events go out as the upstream sent them, but for two: the final cumulative usage
 * (`message_delta`) gets the gateway's cost, and `message_stop` is held back until the stream is metered and
 * recorded, so that it is the last byte and the record exists before it.
 * @see https://platform.claude.com/docs/en/build-with-claude/streaming
 */
export class AnthropicStreamEncoder implements StreamEncoder {
  readonly #stream: PipelineStream;
  readonly #renderer: AnthropicStreamRenderer | undefined;
  /** The upstream's message_stop (pass-through), sent by `end`. */
  #stop: string | undefined;

  constructor(stream: PipelineStream, request: { requestId: string }) {
    this.#stream = stream;
    this.#renderer =
      stream.mode === 'ir'
        ? new AnthropicStreamRenderer({ id: request.requestId, model: stream.served.target.model.upstreamName })
        : undefined;
  }

  frame(frame: StreamEvent | PassthroughFrame): string | undefined {
    if (this.#renderer) {
      let text = '';
      for (const out of this.#renderer.render(frame as StreamEvent)) text += formatAnthropicSSE(out);
      return text === '' ? undefined : text;
    }
    const passed = frame as PassthroughFrame;
    if (passed.event === 'message_stop') {
      this.#stop = passed.data;
      return undefined;
    }
    if (passed.event === 'message_delta' && passed.usage) {
      // The one frame re-serialised: the final cumulative usage gets our cost.
      const usage = passed.json['usage'] as Record<string, unknown>;
      const cost = nanoToUsd(this.#stream.costOf(passed.usage));
      return sseEvent('message_delta', JSON.stringify({ ...passed.json, usage: { ...usage, cost } }));
    }
    return sseEvent(passed.event ?? 'message', passed.data);
  }

  end(end: StreamEnd): string {
    if (!this.#renderer) return this.#stop === undefined ? '' : sseEvent('message_stop', this.#stop);
    let text = '';
    for (const out of this.#renderer.finish({ usage: end.usage, cost: nanoToUsd(end.costNano) })) {
      text += formatAnthropicSSE(out);
    }
    return text;
  }
}
