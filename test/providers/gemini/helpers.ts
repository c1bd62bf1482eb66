import type { ChatRequest, StreamEvent } from '../../../src/core/ir.ts';
import type { UpstreamTarget } from '../../../src/providers/types.ts';
import { DEFAULT_UPSTREAM_LIMITS } from '../../helpers/upstream-limits.ts';
import type { MockGemini } from '../../mocks/gemini.ts';

/** A Gemini provider target pointing at the mock. */
export function geminiTarget(
  mock: Pick<MockGemini, 'baseUrl' | 'apiKey'>,
  upstreamName = 'gemini-2.5-flash',
  options: { secret?: string; reasoning?: boolean; providerOptions?: Record<string, string> } = {},
): UpstreamTarget {
  return {
    provider: {
      id: 'gemini-test',
      kind: 'gemini',
      baseUrl: mock.baseUrl,
      keys: [],
      options: options.providerOptions ?? {},
      timeouts: { connectMs: 2_000, firstByteMs: 5_000, totalMs: 10_000 },
      limits: DEFAULT_UPSTREAM_LIMITS,
    },
    model: {
      id: `gemini-test/${upstreamName}`,
      name: upstreamName,
      provider: 'gemini-test',
      upstreamName,
      price: { input: 0.3, cachedInput: 0.03, cacheWrite: 0, output: 2.5 },
      contextWindow: 1_048_576,
      maxOutputTokens: 65_536,
      capabilities: {
        tools: true,
        vision: true,
        jsonSchema: true,
        streaming: true,
        reasoning: options.reasoning ?? true,
      },
      qualityRank: 80,
      tiers: [],
    },
    key: { id: 'gemini-key-1', secret: options.secret ?? mock.apiKey },
  };
}

export function chatRequest(partial: Partial<ChatRequest> = {}): ChatRequest {
  return {
    model: 'fast',
    messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello' }] }],
    stream: false,
    includeUsage: false,
    inbound: { protocol: 'openai-chat', body: {} },
    ...partial,
  };
}

export function userText(text: string): ChatRequest['messages'][number] {
  return { role: 'user', content: [{ type: 'text', text }] };
}

export { callContext } from '../../helpers/call-context.ts';

export async function collect(events: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

/** Collects until the iterator throws; returns what arrived and the error. */
export async function collectUntilError(
  events: AsyncIterable<StreamEvent>,
): Promise<{ events: StreamEvent[]; error: unknown }> {
  const out: StreamEvent[] = [];
  try {
    for await (const event of events) out.push(event);
  } catch (error) {
    return { events: out, error };
  }
  return { events: out, error: undefined };
}

export function textOf(events: StreamEvent[]): string {
  return events.flatMap((e) => (e.type === 'text' ? [e.delta] : [])).join('');
}
