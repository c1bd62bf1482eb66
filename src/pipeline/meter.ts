import type { ChatRequest, StreamEvent, Usage } from '../core/ir.ts';
import type { PassthroughFrame } from '../providers/types.ts';
import type { TokenCounter } from '../tokens/token-counter.ts';
import { promptTokens, textTokens } from '../tokens/tokens.ts';

/**
 * Follows a stream to meter it: the provider's own usage when it sends one (the last report wins), else,
 * for a stream cut short, an estimate from what was actually delivered (tokenized) and the prompt. Error
 * text is never counted. Tokenizing runs off the event loop within its budget, else falls back to an
 * estimate (tokens/tokens.ts).
 */
export class StreamMeter {
  private readonly tokens: TokenCounter;
  private usage: Usage | undefined;
  private delivered: string[] = [];

  constructor(tokens: TokenCounter) {
    this.tokens = tokens;
  }

  observeEvent(event: StreamEvent): void {
    switch (event.type) {
      case 'usage':
        this.usage = event.usage;
        break;
      case 'text':
      case 'reasoning':
      case 'refusal':
        this.delivered.push(event.delta);
        break;
      case 'tool-call':
        if (event.name) this.delivered.push(event.name);
        this.delivered.push(event.argumentsDelta);
        break;
      default:
        break;
    }
  }

  /** A pass-through frame: its usage, and what the adapter says it delivered (the meter knows no wire format). */
  observeFrame(frame: PassthroughFrame): void {
    if (frame.usage) this.usage = frame.usage;
    if (frame.delivered !== undefined) this.delivered.push(frame.delivered);
  }

  /** Whether the provider reported usage itself. */
  get reported(): boolean {
    return this.usage !== undefined;
  }

  /**
   * The usage to meter. A stream that completed reports its own; one cut short may have reported only its
   * start (Anthropic's message_start carries the prompt but almost no output), so its output is at least
   * what was delivered.
   */
  async final(request: ChatRequest, completed = true): Promise<Usage> {
    if (this.usage && completed) return this.usage;
    const [delivered, input] = await Promise.all([
      textTokens(this.tokens, [this.delivered.join('')]),
      this.usage ? 0 : promptTokens(this.tokens, request),
    ]);
    if (this.usage) return { ...this.usage, outputTokens: Math.max(this.usage.outputTokens, delivered) };
    return {
      inputTokens: input,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: delivered,
      reasoningTokens: 0,
    };
  }
}
