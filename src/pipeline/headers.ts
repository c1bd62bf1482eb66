import { formatUsd } from '../billing/cost.ts';
import type { UpstreamTarget } from '../providers/types.ts';
import type { RouteDecision } from '../router/router.ts';

/** The `X-Model-Router-*` headers: what ran, why, and what it cost. */
export function routingHeaders(
  requestId: string,
  decision: RouteDecision | undefined,
  target: UpstreamTarget | undefined,
  attempts: number,
  costNano?: number,
): Record<string, string> {
  const headers: Record<string, string> = { 'x-request-id': requestId };
  if (decision) {
    headers['x-model-router-tier'] = decision.tier ?? 'none';
    if (decision.preset) headers['x-model-router-preset'] = decision.preset;
    if (decision.score !== null) headers['x-model-router-score'] = decision.score.toFixed(4);
  }
  if (target) {
    headers['x-model-router-model'] = target.model.id;
    headers['x-model-router-provider'] = target.provider.id;
  }
  if (attempts > 0) headers['x-model-router-attempts'] = String(attempts);
  if (costNano !== undefined) headers['x-model-router-cost'] = formatUsd(costNano);
  return headers;
}
