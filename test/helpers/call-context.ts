import { UpstreamPool } from '../../src/providers/http.ts';
import type { CallContext } from '../../src/providers/types.ts';
import { TokenCounter } from '../../src/tokens/token-counter.ts';

/**
 * What an adapter gets from the pipeline when a test calls it directly: one connection pool and one token
 * counter for the whole test process (closed with `closeCallContexts`, e.g. in an `after` hook).
 */
export const testUpstreams = new UpstreamPool();
const tokens = new TokenCounter({ budgetMs: 1_000 });
let sequence = 0;

export function callContext(signal: AbortSignal = new AbortController().signal): CallContext {
  sequence += 1;
  return { requestId: `req-test-${sequence}`, signal, tokens, pool: testUpstreams };
}

export async function closeCallContexts(): Promise<void> {
  await testUpstreams.close();
  await tokens.close();
}
