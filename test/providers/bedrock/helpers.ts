import type { CatalogModel } from '../../../src/billing/catalog-types.ts';
import type { ChatRequest, StreamEvent, Usage } from '../../../src/core/ir.ts';
import type { ProviderKey, UpstreamTarget } from '../../../src/providers/types.ts';
import { DEFAULT_UPSTREAM_LIMITS } from '../../helpers/upstream-limits.ts';
import { MOCK_BEDROCK_CREDENTIALS, MOCK_BEDROCK_REGION, type MockBedrock } from '../../mocks/bedrock.ts';

export const CLAUDE = 'us.anthropic.claude-sonnet-4-20250514-v1:0';
export const NOVA = 'amazon.nova-pro-v1:0';

export const SIGV4_KEY: ProviderKey = {
  id: 'aws-main',
  secret: MOCK_BEDROCK_CREDENTIALS.accessKeyId,
  secretAccessKey: MOCK_BEDROCK_CREDENTIALS.secretAccessKey,
};

export function model(upstreamName = CLAUDE, overrides: Partial<CatalogModel> = {}): CatalogModel {
  return {
    id: `bedrock/${upstreamName}`,
    name: upstreamName,
    provider: 'bedrock',
    upstreamName,
    price: { input: 3, cachedInput: 0.3, cacheWrite: 3.75, output: 15 },
    contextWindow: 200_000,
    maxOutputTokens: 64_000,
    capabilities: { tools: true, vision: true, jsonSchema: true, streaming: true, reasoning: true },
    qualityRank: 80,
    tiers: [],
    ...overrides,
  };
}

export function target(
  mock: MockBedrock,
  options: { model?: string; key?: ProviderKey; providerOptions?: Record<string, string>; firstByteMs?: number } = {},
): UpstreamTarget {
  return {
    provider: {
      id: 'bedrock-test',
      kind: 'bedrock',
      baseUrl: mock.url,
      keys: [options.key ?? SIGV4_KEY],
      options: { region: MOCK_BEDROCK_REGION, ...options.providerOptions },
      timeouts: { connectMs: 2_000, firstByteMs: options.firstByteMs ?? 10_000, totalMs: 30_000 },
      limits: DEFAULT_UPSTREAM_LIMITS,
    },
    model: model(options.model),
    key: options.key ?? SIGV4_KEY,
  };
}

export function chat(overrides: Partial<ChatRequest> = {}): ChatRequest {
  return {
    model: 'fast',
    messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello' }] }],
    stream: false,
    includeUsage: true,
    inbound: { protocol: 'openai-chat', body: {} },
    ...overrides,
  };
}

export { callContext as ctx } from '../../helpers/call-context.ts';

export async function collect(stream: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  for await (const event of stream) events.push(event);
  return events;
}

/** Runs a stream to its end or error, keeping what was delivered before an error. */
export async function drain(stream: AsyncIterable<StreamEvent>): Promise<{ events: StreamEvent[]; error?: unknown }> {
  const events: StreamEvent[] = [];
  try {
    for await (const event of stream) events.push(event);
    return { events };
  } catch (error) {
    return { events, error };
  }
}

export interface FoldedStream {
  text: string;
  reasoning: string;
  signatures: string[];
  toolCalls: Array<{ id?: string; name?: string; arguments: string }>;
  finish?: { reason: string; stopSequence?: string };
  usage?: Usage;
}

/** What a client would assemble from the IR events. */
export function fold(events: StreamEvent[]): FoldedStream {
  const out: FoldedStream = { text: '', reasoning: '', signatures: [], toolCalls: [] };
  for (const event of events) {
    if (event.type === 'text') out.text += event.delta;
    else if (event.type === 'reasoning') {
      out.reasoning += event.delta;
      if (event.signature) out.signatures.push(event.signature);
    } else if (event.type === 'tool-call') {
      out.toolCalls[event.index] ??= { arguments: '' };
      const call = out.toolCalls[event.index]!;
      if (event.id !== undefined) call.id = event.id;
      if (event.name !== undefined) call.name = event.name;
      call.arguments += event.argumentsDelta;
    } else if (event.type === 'finish') {
      out.finish =
        event.stopSequence !== undefined
          ? { reason: event.reason, stopSequence: event.stopSequence }
          : { reason: event.reason };
    } else if (event.type === 'usage') out.usage = event.usage;
  }
  return out;
}
