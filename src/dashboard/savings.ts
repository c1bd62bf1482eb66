import { type CatalogModel, isEmbeddingModel } from '../billing/catalog-types.ts';
import { costNanoUsd } from '../billing/cost.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { Preset } from '../core/tiers.ts';
import type { Router, RoutingPolicy } from '../router/router.ts';
import type { BreakdownRow } from '../store/usage-queries.ts';
import { emptyTotals, sumTotals, type UsageTotals } from '../store/usage-totals.ts';

/**
 * "You would have paid X": the same tokens priced at the deep tier's first candidate for this tenant (its
 * preset and policy, so a bring-your-own-key tenant compares with its own provider's deep model).
 *
 * Method: token sums from the rollups (uncached input, cache reads, cache writes, output) × that model's
 * base rates. Long-context surcharges are left out: they apply per request, and sums cannot say which
 * requests crossed the threshold. Tokens are the ones actually used; a deep model might have used more or
 * fewer, which no estimate can know. Embedding requests serve no tier: they count at what they cost, and their
 * tokens are not priced at the deep chat model's rates.
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

/** The part of a usage view's totals spent on embedding models (by the catalog's word), to keep out of savings. */
export function embeddingTotals(byModel: readonly BreakdownRow[], catalog: Pick<Catalog, 'byId'>): UsageTotals {
  const rows = byModel.filter((row) => {
    const model = row.key === null ? undefined : catalog.byId.get(row.key);
    return model !== undefined && isEmbeddingModel(model);
  });
  return rows.length === 0 ? emptyTotals() : sumTotals(rows);
}

export function computeSavings(
  totals: UsageTotals,
  model: CatalogModel | undefined,
  embeddings: UsageTotals = emptyTotals(),
): Savings {
  if (!model) return { model, actualNano: totals.costNanoUsd, deepNano: totals.costNanoUsd, savedNano: 0 };
  const { tiers: _ignored, ...base } = model.price;
  const deepNano =
    costNanoUsd(
      {
        inputTokens: totals.inputTokens - embeddings.inputTokens,
        cachedInputTokens: totals.cachedInputTokens - embeddings.cachedInputTokens,
        cacheWriteTokens: totals.cacheWriteTokens - embeddings.cacheWriteTokens,
        outputTokens: totals.outputTokens - embeddings.outputTokens,
        reasoningTokens: totals.reasoningTokens - embeddings.reasoningTokens,
      },
      base,
    ) + embeddings.costNanoUsd;
  return { model, actualNano: totals.costNanoUsd, deepNano, savedNano: deepNano - totals.costNanoUsd };
}
