import { nanoToUsd } from '../../billing/cost.ts';
import type { StreamEvent, Usage } from '../../core/ir.ts';
import { sseData } from '../../core/sse-text.ts';
import type { PipelineStream, StreamEnd } from '../../pipeline/stream.ts';
import type { PassthroughFrame } from '../../providers/types.ts';
import type { StreamEncoder } from '../codec.ts';
import { OpenAIStreamRenderer } from './render-openai-stream.ts';

/**
 * A stream in OpenAI's chunk format. Translated streams are rendered chunk by chunk; a same-protocol stream's
 * chunks go out as the upstream sent them, but for usage-only chunks, held back: usage is requested upstream
 * for every stream and reaches the client only if it asked (`stream_options.include_usage`), in one final
 * chunk carrying the gateway's cost, then `[DONE]`.
 * @see https://platform.openai.com/docs/api-reference/chat-streaming
 */
export class OpenAIStreamEncoder implements StreamEncoder {
  readonly #includeUsage: boolean;
  readonly #renderer: OpenAIStreamRenderer | undefined;
  /** The last upstream chunk that reported usage (pass-through): ids and the upstream's usage fields. */
  #usageFrame: PassthroughFrame | undefined;
  #firstFrame: PassthroughFrame | undefined;

  constructor(stream: PipelineStream, request: { requestId: string; at: number; includeUsage: boolean }) {
    this.#includeUsage = request.includeUsage;
    this.#renderer =
      stream.mode === 'ir'
        ? new OpenAIStreamRenderer({
            id: `chatcmpl-${request.requestId}`,
            model: stream.served.target.model.upstreamName,
            created: Math.floor(request.at / 1000),
          })
        : undefined;
  }

  frame(frame: StreamEvent | PassthroughFrame): string | undefined {
    if (this.#renderer) {
      const chunk = this.#renderer.render(frame as StreamEvent);
      return chunk ? sseData(JSON.stringify(chunk)) : undefined;
    }
    const passed = frame as PassthroughFrame;
    this.#firstFrame ??= passed;
    if (passed.usage) this.#usageFrame = passed;
    return passed.usageOnly ? undefined : sseData(passed.data);
  }

  end(end: StreamEnd): string {
    let text = '';
    if (this.#includeUsage) {
      const cost = nanoToUsd(end.costNano);
      const chunk = this.#renderer
        ? this.#renderer.usageChunk(end.usage, cost)
        : passthroughUsageChunk(this.#usageFrame ?? this.#firstFrame, end.usage, cost);
      text += sseData(JSON.stringify(chunk));
    }
    return `${text}data: [DONE]\n\n`;
  }
}

/** The usage chunk of a same-protocol stream: the upstream's own usage object (when it sent one) plus our cost. */
function passthroughUsageChunk(
  source: PassthroughFrame | undefined,
  usage: Usage,
  cost: number,
): Record<string, unknown> {
  const json = source?.json ?? {};
  return {
    id: json['id'],
    object: 'chat.completion.chunk',
    created: json['created'],
    model: json['model'],
    ...(json['system_fingerprint'] ? { system_fingerprint: json['system_fingerprint'] } : {}),
    choices: [],
    usage: {
      ...(source?.upstreamUsage ?? {
        prompt_tokens: usage.inputTokens,
        completion_tokens: usage.outputTokens,
        total_tokens: usage.inputTokens + usage.outputTokens,
      }),
      cost,
    },
  };
}
