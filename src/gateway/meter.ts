import type { ChatRequest, StreamEvent, Usage } from '../core/ir.ts';
import type { PassthroughFrame } from '../providers/types.ts';
import type { TokenCounter } from '../router/token-counter.ts';
import { promptTokens, textTokens } from '../router/tokens.ts';

/**
 * Follows a stream to meter it: the provider's own usage when it sends one (the last report wins), else,
 * for a stream cut short, an estimate from what was actually delivered (tokenized) and the prompt. Error
 * text is never counted. Tokenizing runs off the event loop within its budget, else falls back to an
 * estimate (router/tokens.ts).
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

  observeFrame(frame: PassthroughFrame): void {
    if (frame.usage) this.usage = frame.usage;
    // Only kept for the cut-stream estimate; cheap field reads, no re-serialisation.
    const choices = frame.json['choices'];
    if (Array.isArray(choices)) {
      for (const choice of choices) {
        const delta = (choice as Record<string, unknown> | null)?.['delta'] as Record<string, unknown> | undefined;
        if (!delta) continue;
        if (typeof delta['content'] === 'string') this.delivered.push(delta['content']);
        const calls = delta['tool_calls'];
        if (Array.isArray(calls)) {
          for (const call of calls) {
            const fn = (call as Record<string, unknown>)['function'] as Record<string, unknown> | undefined;
            if (typeof fn?.['arguments'] === 'string') this.delivered.push(fn['arguments']);
          }
        }
      }
      return;
    }
    const delta = frame.json['delta'] as Record<string, unknown> | undefined;
    if (delta) {
      for (const field of ['text', 'partial_json', 'thinking']) {
        if (typeof delta[field] === 'string') this.delivered.push(delta[field] as string);
      }
    }
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
