import { type CatalogModel, isChatModel } from '../billing/catalog-types.ts';
import { blendedPrice, type Catalog, resolveModelRef } from '../catalog/catalog.ts';
import { PRESETS, type Preset, TIERS, type Tier } from '../core/tiers.ts';

/**
 * Presets turn a tier into an ordered candidate list (first preferred, the rest fallbacks), derived by rules
 * from the catalog, so a new cheaper or better model changes routing with no code change:
 *
 * - A model's tier comes from its quality rank: `deep` from the deep floor up, `fast` from the fast floor up,
 *   `utility` below (or from its explicit `tiers` list, which wins).
 * - `balanced`: the tier's own models, best value first (quality minus 12 points per tenfold price).
 * - `cheapest`: models of the tier or up to 10 rank points below its floor, cheapest first.
 * - `quality`: models of the tier or above, best first.
 *
 * The operator may pin any list in the configuration (`routing.pin.<preset>.<tier>`).
 */
export type CandidateTable = Record<Preset, Record<Tier, CatalogModel[]>>;

const CHEAPEST_SLACK = 10;

export function naturalTier(model: CatalogModel, floors: { fast: number; deep: number }): Tier[] {
  if (model.tiers.length > 0) return model.tiers;
  if (model.qualityRank >= floors.deep) return ['deep'];
  if (model.qualityRank >= floors.fast) return ['fast'];
  return ['utility'];
}

function floorOf(tier: Tier, floors: { fast: number; deep: number }): number {
  return tier === 'deep' ? floors.deep : tier === 'fast' ? floors.fast : 0;
}

function value(model: CatalogModel): number {
  return model.qualityRank - 12 * Math.log10(blendedPrice(model) + 0.01);
}

const byPrice = (a: CatalogModel, b: CatalogModel) =>
  blendedPrice(a) - blendedPrice(b) || b.qualityRank - a.qualityRank;
const byQuality = (a: CatalogModel, b: CatalogModel) =>
  b.qualityRank - a.qualityRank || blendedPrice(a) - blendedPrice(b);
const byValue = (a: CatalogModel, b: CatalogModel) => value(b) - value(a) || byPrice(a, b);

export function deriveList(models: CatalogModel[], preset: Preset, tier: Tier, floors: { fast: number; deep: number }) {
  const inTier = models.filter((m) => naturalTier(m, floors).includes(tier));
  const floor = floorOf(tier, floors);
  switch (preset) {
    case 'balanced':
      return inTier.sort(byValue);
    case 'cheapest': {
      const pool = models.filter(
        (m) => inTier.includes(m) || (m.qualityRank >= floor - CHEAPEST_SLACK && m.qualityRank < floor),
      );
      return pool.sort(byPrice);
    }
    case 'quality': {
      const pool = models.filter((m) => inTier.includes(m) || m.qualityRank >= floor);
      return pool.sort(byQuality);
    }
  }
}

/** The routing settings the table is built from (`routing.pin`, `routing.tierFloors` of the configuration). */
export interface CandidateSettings {
  pin: Partial<Record<Preset, Partial<Record<Tier, string[]>>>>;
  tierFloors: { fast: number; deep: number };
}

export function buildCandidateTable(catalog: Catalog, routing: CandidateSettings): CandidateTable {
  const table = {} as CandidateTable;
  // Tiers are chat: an embedding model is never a tier's candidate, even pinned (docs/embeddings.md).
  // Nor is a discovered model without a quality rank: its place cannot be told (docs/routing.md, "Discovery").
  const chat = catalog.models.filter((m) => isChatModel(m) && !m.unranked);
  for (const preset of PRESETS) {
    table[preset] = {} as Record<Tier, CatalogModel[]>;
    for (const tier of TIERS) {
      const pinned = routing.pin[preset]?.[tier];
      let list = pinned ? pinned.flatMap((ref) => resolveModelRef(catalog, ref)).filter((m) => isChatModel(m)) : [];
      if (list.length === 0) list = deriveList(chat, preset, tier, routing.tierFloors);
      // A tier nobody fills borrows the nearest tier's models, so every tier always answers.
      table[preset][tier] = list;
    }
    for (const tier of TIERS) {
      if (table[preset][tier].length > 0) continue;
      const order: Tier[] =
        tier === 'utility' ? ['fast', 'deep'] : tier === 'fast' ? ['deep', 'utility'] : ['fast', 'utility'];
      for (const other of order) {
        const borrowed = deriveList(chat, preset, other, routing.tierFloors);
        if (borrowed.length > 0) {
          table[preset][tier] = borrowed;
          break;
        }
      }
    }
  }
  return table;
}
