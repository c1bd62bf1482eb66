import type { CatalogModel } from '../billing/catalog-types.ts';
import { costNanoUsd } from '../billing/cost.ts';
import type { Preset } from '../core/tiers.ts';
import type { Router, RoutingPolicy } from '../router/router.ts';
import type { UsageTotals } from '../store/usage-totals.ts';

/**
 * "You would have paid X": the same tokens priced at the deep tier's first candidate for this tenant (its
 * preset and policy, so a bring-your-own-key tenant compares with its own provider's deep model).
 *
 * Method: token sums from the rollups (uncached input, cache reads, cache writes, output) × that model's
 * base rates. Long-context surcharges are left out: they apply per request, and sums cannot say which
 * requests crossed the threshold. Tokens are the ones actually used; a deep model might have used more or
 * fewer, which no estimate can know.
 */
export interface Savings {
  model: CatalogModel | undefined;
  actualNano: number;
  deepNano: number;
  savedNano: number;
}

export function deepTierModel(
  router: Pick<Router, 'listFor'>,
  preset: Preset,
  policy: RoutingPolicy,
): CatalogModel | undefined {
  return router.listFor(preset, 'deep', policy)[0];
}

export function computeSavings(totals: UsageTotals, model: CatalogModel | undefined): Savings {
  if (!model) return { model, actualNano: totals.costNanoUsd, deepNano: totals.costNanoUsd, savedNano: 0 };
  const { tiers: _ignored, ...base } = model.price;
  const deepNano = costNanoUsd(
    {
      inputTokens: totals.inputTokens,
      cachedInputTokens: totals.cachedInputTokens,
      cacheWriteTokens: totals.cacheWriteTokens,
      outputTokens: totals.outputTokens,
      reasoningTokens: totals.reasoningTokens,
    },
    base,
  );
  return { model, actualNano: totals.costNanoUsd, deepNano, savedNano: deepNano - totals.costNanoUsd };
}
