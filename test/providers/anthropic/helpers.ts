import type { CatalogModel } from '../../../src/billing/catalog-types.ts';
import type { ChatRequest } from '../../../src/core/ir.ts';
import type { UpstreamTarget } from '../../../src/providers/types.ts';
import { DEFAULT_UPSTREAM_LIMITS } from '../../helpers/upstream-limits.ts';

/** Targets, requests and contexts for the Anthropic adapter tests. */

export function catalogModel(overrides: Partial<CatalogModel> = {}): CatalogModel {
  const upstreamName = overrides.upstreamName ?? 'claude-haiku-4-5';
  return {
    id: `anthropic/${upstreamName}`,
    name: upstreamName,
    provider: 'anthropic',
    upstreamName,
    price: { input: 1, cachedInput: 0.1, cacheWrite: 1.25, output: 5 },
    contextWindow: 200_000,
    maxOutputTokens: 64_000,
    capabilities: { tools: true, vision: true, jsonSchema: true, streaming: true, reasoning: true },
    qualityRank: 70,
    tiers: ['fast'],
    ...overrides,
  };
}

export function target(
  baseUrl: string,
  secret: string,
  model: Partial<CatalogModel> = {},
  options: Record<string, string> = {},
  timeouts = { connectMs: 2_000, firstByteMs: 5_000, totalMs: 10_000 },
): UpstreamTarget {
  return {
    provider: {
      id: 'anthropic-test',
      kind: 'anthropic',
      baseUrl,
      keys: [{ id: 'k1', secret }],
      options,
      timeouts,
      limits: DEFAULT_UPSTREAM_LIMITS,
    },
    model: catalogModel(model),
    key: { id: 'k1', secret },
  };
}

export { callContext as ctx } from '../../helpers/call-context.ts';

export function chatRequest(overrides: Partial<ChatRequest> = {}): ChatRequest {
  return {
    model: 'fast',
    messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello' }] }],
    stream: false,
    includeUsage: false,
    inbound: { protocol: 'openai-chat', body: {} },
    ...overrides,
  };
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}
