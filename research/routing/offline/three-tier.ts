import { quantileLinear } from './numeric.ts';

/**
 * Three-tier evaluation: one score per prompt, two thresholds, three models with per-prompt quality and
 * cost. Sweeping the thresholds gives (cost, quality) points; their non-decreasing upper convex hull is the
 * cost-quality curve (any point on it is reachable by mixing two threshold settings at random), and AIQ is
 * the curve's mean height over the cost range, as defined in RouterBench (Hu et al., 2024, section 3).
 */

export interface TierOutcome {
  /** Per-prompt quality of the tier's model. */
  quality: ArrayLike<number>;
  /** Per-prompt cost (USD) of the tier's model. */
  cost: ArrayLike<number>;
}

export interface CostQuality {
  cost: number;
  quality: number;
}

export interface SweepPoint extends CostQuality {
  utilityThreshold: number;
  deepThreshold: number;
  shares: [utility: number, fast: number, deep: number];
}

/** Mean cost and quality when prompts go to utility (score < t1), fast, or deep (score >= t2). */
export function routeThreeTiers(
  scores: ArrayLike<number>,
  tiers: readonly [TierOutcome, TierOutcome, TierOutcome],
  t1: number,
  t2: number,
): SweepPoint {
  const n = scores.length;
  let cost = 0;
  let quality = 0;
  const counts: [number, number, number] = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    const s = scores[i]!;
    const tier = s >= t2 ? 2 : s < t1 ? 0 : 1;
    counts[tier]++;
    cost += tiers[tier]!.cost[i]!;
    quality += tiers[tier]!.quality[i]!;
  }
  return {
    cost: cost / n,
    quality: quality / n,
    utilityThreshold: t1,
    deepThreshold: t2,
    shares: [counts[0] / n, counts[1] / n, counts[2] / n],
  };
}

/** All threshold pairs on a grid of score quantiles (t1 <= t2), including "never" settings. */
export function sweepThresholds(
  scores: ArrayLike<number>,
  tiers: readonly [TierOutcome, TierOutcome, TierOutcome],
  steps = 20,
): SweepPoint[] {
  const sorted = Float64Array.from(scores).sort();
  const grid: number[] = [Number.NEGATIVE_INFINITY];
  for (let k = 1; k < steps; k++) grid.push(quantileLinear(sorted, k / steps));
  grid.push(Number.POSITIVE_INFINITY);
  const points: SweepPoint[] = [];
  for (let a = 0; a < grid.length; a++) {
    for (let b = a; b < grid.length; b++) points.push(routeThreeTiers(scores, tiers, grid[a]!, grid[b]!));
  }
  return points;
}

/**
 * Non-decreasing upper convex hull of (cost, quality) points, from the cheapest point: the best quality
 * reachable at each cost by mixing points, never worse than at a lower cost.
 */
export function nonDecreasingHull(points: readonly CostQuality[]): CostQuality[] {
  const sorted = [...points].sort((a, b) => a.cost - b.cost || b.quality - a.quality);
  const hull: CostQuality[] = [];
  for (const p of sorted) {
    if (hull.length > 0 && p.quality <= hull[hull.length - 1]!.quality) continue;
    while (hull.length >= 2) {
      const a = hull[hull.length - 2]!;
      const b = hull[hull.length - 1]!;
      // Drop b when it lies on or under the segment a -> p.
      if ((b.quality - a.quality) * (p.cost - a.cost) <= (p.quality - a.quality) * (b.cost - a.cost)) hull.pop();
      else break;
    }
    hull.push({ cost: p.cost, quality: p.quality });
  }
  return hull;
}

/** Height of a hull at a cost (flat after its last point, undefined before its first). */
export function hullQualityAt(hull: readonly CostQuality[], cost: number): number {
  if (hull.length === 0 || cost < hull[0]!.cost) return Number.NaN;
  for (let i = 0; i + 1 < hull.length; i++) {
    const a = hull[i]!;
    const b = hull[i + 1]!;
    if (cost <= b.cost) return a.quality + ((b.quality - a.quality) * (cost - a.cost)) / (b.cost - a.cost || 1);
  }
  return hull[hull.length - 1]!.quality;
}

/** AIQ: mean height of the hull over [minCost, maxCost], the hull held flat beyond its last point. */
export function aiq(hull: readonly CostQuality[], minCost: number, maxCost: number, samples = 2000): number {
  let total = 0;
  for (let k = 0; k <= samples; k++) {
    const c = minCost + ((maxCost - minCost) * k) / samples;
    const q = hullQualityAt(hull, c);
    const weight = k === 0 || k === samples ? 0.5 : 1;
    total += weight * (Number.isNaN(q) ? 0 : q);
  }
  return total / samples;
}

/** Lowest cost at which the hull reaches `quality` (NaN if it never does). */
export function costToReach(hull: readonly CostQuality[], quality: number): number {
  if (hull.length === 0) return Number.NaN;
  if (hull[0]!.quality >= quality) return hull[0]!.cost;
  for (let i = 0; i + 1 < hull.length; i++) {
    const a = hull[i]!;
    const b = hull[i + 1]!;
    if (b.quality >= quality) return a.cost + ((b.cost - a.cost) * (quality - a.quality)) / (b.quality - a.quality);
  }
  return Number.NaN;
}

/**
 * Oracle frontier: for each price of quality lambda, every prompt takes the model maximising
 * quality - lambda * cost (knowing the outcomes). The points trace the oracle's convex frontier.
 */
export function oracleFrontier(tiers: readonly TierOutcome[], lambdas: readonly number[]): CostQuality[] {
  const n = tiers[0]!.quality.length;
  return lambdas.map((lambda) => {
    let cost = 0;
    let quality = 0;
    for (let i = 0; i < n; i++) {
      let best = 0;
      let bestValue = Number.NEGATIVE_INFINITY;
      tiers.forEach((t, m) => {
        const v = t.quality[i]! - lambda * t.cost[i]!;
        if (v > bestValue + 1e-15 || (Math.abs(v - bestValue) <= 1e-15 && t.cost[i]! < tiers[best]!.cost[i]!)) {
          bestValue = v;
          best = m;
        }
      });
      cost += tiers[best]!.cost[i]!;
      quality += tiers[best]!.quality[i]!;
    }
    return { cost: cost / n, quality: quality / n };
  });
}
