import { interp, qcutEdges, seededRandom, trapz } from './numeric.ts';

/**
 * RouteLLM's router metrics, as `routellm/evals/benchmarks.py` and `routellm/evals/evaluate.py` compute them.
 *
 * - Curve: the router's scores are cut at the 11 edges of `pd.qcut(scores, 10)`; at edge i a prompt goes to
 *   the strong model when `score >= edge` (for the last edge `score > edge`, so the curve runs from 100% to
 *   0% strong calls). Each point is (share of strong calls in %, quality of the routed answers).
 * - Quality: MMLU and GSM8K in % correct (`sum(results) / len(results) * 100`); MT-Bench as the mean 1-10
 *   grade over both turns (each question contributes its two turn grades).
 * - AUC = `np.trapz(quality, strong% / 100)` with the points sorted by strong%.
 * - APGR = (AUC - weak AUC) / (strong AUC - weak AUC), where weak/strong AUC integrate the constant quality of
 *   always-weak / always-strong over the same x values.
 * - CPT(p) = `np.interp(weak + p * (strong - weak), quality, strong%)`: the share of strong calls (%) at
 *   which the router recovers p of the quality gap.
 * @see https://github.com/lm-sys/RouteLLM/blob/main/routellm/evals/evaluate.py (generate_results)
 */

/** Per-prompt outcomes of the two models, in the benchmark's own unit (0/1, or the 1-10 grade mean). */
export interface PairedOutcomes {
  weak: ArrayLike<number>;
  strong: ArrayLike<number>;
  /** 100 for accuracy benchmarks (quality in %), 1 for graded ones (MT-Bench). */
  scale: number;
}

export interface CurvePoint {
  threshold: number;
  /** Share of strong-model calls, in percent. */
  strongPct: number;
  quality: number;
}

export interface RouterMetrics {
  auc: number;
  apgr: number;
  /** Strong calls (%) needed for 20%, 50%, 80% of the quality gap. */
  cpt20: number;
  cpt50: number;
  cpt80: number;
}

function mean(values: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i]!;
  return total / values.length;
}

/** `Benchmark.get_model_accuracy`: the quality of always calling one model. */
export function modelQuality(values: ArrayLike<number>, scale: number): number {
  return mean(values) * scale;
}

/** `Benchmark.evaluate`: one curve point per qcut edge (11 for the default `num_results = 10`). */
export function routerCurve(scores: ArrayLike<number>, outcomes: PairedOutcomes, numResults = 10): CurvePoint[] {
  const edges = qcutEdges(scores, numResults);
  const n = scores.length;
  const points: CurvePoint[] = [];
  for (let i = 0; i < edges.length; i++) {
    const edge = edges[i]!;
    const last = i === edges.length - 1;
    let strongCalls = 0;
    let total = 0;
    for (let k = 0; k < n; k++) {
      const s = scores[k]!;
      const toStrong = last ? s > edge : s >= edge;
      if (toStrong) {
        strongCalls++;
        total += outcomes.strong[k]!;
      } else {
        total += outcomes.weak[k]!;
      }
    }
    points.push({ threshold: edge, strongPct: (strongCalls / n) * 100, quality: (total / n) * outcomes.scale });
  }
  return points;
}

/** The metrics of `generate_results` for one method's curve. */
export function routerMetrics(
  points: readonly CurvePoint[],
  weakQuality: number,
  strongQuality: number,
): RouterMetrics {
  // pandas sorts 11 rows with numpy's quicksort, which is an insertion sort (stable) below 16 elements.
  const sorted = points
    .map((p, i) => ({ p, i }))
    .sort((a, b) => a.p.strongPct - b.p.strongPct || a.i - b.i)
    .map((e) => e.p);
  const x = sorted.map((p) => p.strongPct / 100);
  const quality = sorted.map((p) => p.quality);
  const pct = sorted.map((p) => p.strongPct);
  const auc = trapz(quality, x);
  const weakAuc = trapz(
    x.map(() => weakQuality),
    x,
  );
  const strongAuc = trapz(
    x.map(() => strongQuality),
    x,
  );
  const cpt = (share: number) => interp(share * (strongQuality - weakQuality) + weakQuality, quality, pct);
  return {
    auc,
    apgr: (auc - weakAuc) / (strongAuc - weakAuc),
    cpt20: cpt(0.2),
    cpt50: cpt(0.5),
    cpt80: cpt(0.8),
  };
}

/** Convenience: curve plus metrics for one scored benchmark. */
export function evaluateScores(scores: ArrayLike<number>, outcomes: PairedOutcomes): RouterMetrics {
  return routerMetrics(
    routerCurve(scores, outcomes),
    modelQuality(outcomes.weak, outcomes.scale),
    modelQuality(outcomes.strong, outcomes.scale),
  );
}

/**
 * RouteLLM's `random` router: uniform scores, `iterations` runs, points averaged per strong% (pandas
 * `groupby("strong_percentage").mean()`).
 */
export function randomCurve(outcomes: PairedOutcomes, seed: number, iterations = 10): CurvePoint[] {
  const random = seededRandom(seed);
  const n = outcomes.weak.length;
  const byPct = new Map<number, { threshold: number; quality: number; count: number }>();
  const scores = new Float64Array(n);
  for (let it = 0; it < iterations; it++) {
    for (let k = 0; k < n; k++) scores[k] = random();
    for (const p of routerCurve(scores, outcomes)) {
      const entry = byPct.get(p.strongPct) ?? { threshold: 0, quality: 0, count: 0 };
      entry.threshold += p.threshold;
      entry.quality += p.quality;
      entry.count++;
      byPct.set(p.strongPct, entry);
    }
  }
  return [...byPct.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([strongPct, e]) => ({ strongPct, threshold: e.threshold / e.count, quality: e.quality / e.count }));
}

/**
 * `Benchmark.get_optimal_accuracy` at 0, 10, ..., 100% strong calls: an oracle that spends its strong calls
 * on the prompts where the strong model gains the most. For 0/1 outcomes RouteLLM allows a fractional number
 * of calls (`total * strong_percent`); for MT-Bench it truncates (`int(len * strong_percent)`).
 */
export function oracleCurve(outcomes: PairedOutcomes, graded: boolean): CurvePoint[] {
  const n = outcomes.weak.length;
  const gains: number[] = [];
  let weakTotal = 0;
  for (let k = 0; k < n; k++) {
    weakTotal += outcomes.weak[k]!;
    const gain = outcomes.strong[k]! - outcomes.weak[k]!;
    if (gain > 0) gains.push(gain);
  }
  gains.sort((a, b) => b - a);
  const points: CurvePoint[] = [];
  for (let pct = 0; pct <= 100; pct += 10) {
    const share = pct / 100;
    let total = weakTotal;
    if (graded) {
      const calls = Math.min(Math.trunc(n * share), gains.length);
      for (let i = 0; i < calls; i++) total += gains[i]!;
    } else {
      total += Math.min(n * share, gains.length);
    }
    points.push({ threshold: Number.NaN, strongPct: pct, quality: (total / n) * outcomes.scale });
  }
  return points;
}
