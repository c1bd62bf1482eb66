import { type Interval, percentileInterval } from './bootstrap.ts';
import type { PairRow } from './dataset.ts';
import { seededRandom } from './numeric.ts';
import {
  type CurvePoint,
  evaluateScores,
  modelQuality,
  oracleCurve,
  type PairedOutcomes,
  type RouterMetrics,
  randomCurve,
  routerCurve,
  routerMetrics,
} from './routellm-metrics.ts';

/**
 * Out-of-sample evaluation of routing methods on RouteLLM pairs, with RouteLLM's metrics.
 *
 * An evaluation unit is a set of rows scored by one model: each held-out fold ("per-fold": the metrics are
 * computed per fold and averaged), or all rows at once ("pooled": the out-of-fold scores of the fold
 * models are put together, as when one router scores the whole benchmark). Per-fold is the default because
 * pooling mixes scores from different models, which biases rank metrics (for a per-subject prior it costs
 * several APGR points); pooling is used where folds would be too small (MT-Bench: 72 prompts).
 * Intervals: percentile bootstrap over prompts, resampled within each unit.
 */

/** A routing method: the RouteLLM curve it yields on a set of rows. */
export type Method = (rows: readonly number[], outcomes: PairedOutcomes) => CurvePoint[];

export function scoredMethod(scores: ArrayLike<number>): Method {
  return (rows, outcomes) =>
    routerCurve(
      rows.map((i) => scores[i]!),
      outcomes,
    );
}

export function randomMethod(seed: number): Method {
  return (_rows, outcomes) => randomCurve(outcomes, seed);
}

export function oracleMethod(graded: boolean): Method {
  return (_rows, outcomes) => oracleCurve(outcomes, graded);
}

export function outcomesOf(all: readonly PairRow[], rows: readonly number[], graded: boolean): PairedOutcomes {
  return {
    weak: rows.map((i) => all[i]!.weak),
    strong: rows.map((i) => all[i]!.strong),
    scale: graded ? 1 : 100,
  };
}

export interface MethodEvaluation {
  metrics: RouterMetrics;
  ci: { apgr: Interval; cpt50: Interval; cpt80: Interval };
}

function averageMetrics(list: readonly RouterMetrics[]): RouterMetrics {
  const avg = (pick: (m: RouterMetrics) => number) => list.reduce((s, m) => s + pick(m), 0) / list.length;
  return {
    auc: avg((m) => m.auc),
    apgr: avg((m) => m.apgr),
    cpt20: avg((m) => m.cpt20),
    cpt50: avg((m) => m.cpt50),
    cpt80: avg((m) => m.cpt80),
  };
}

function unitMetrics(method: Method, all: readonly PairRow[], unit: readonly number[], graded: boolean): RouterMetrics {
  const outcomes = outcomesOf(all, unit, graded);
  return routerMetrics(
    method(unit, outcomes),
    modelQuality(outcomes.weak, outcomes.scale),
    modelQuality(outcomes.strong, outcomes.scale),
  );
}

export function evaluateMethod(
  method: Method,
  all: readonly PairRow[],
  units: readonly (readonly number[])[],
  graded: boolean,
  bootstrap: { samples: number; seed: number },
): MethodEvaluation {
  const metrics = averageMetrics(units.map((unit) => unitMetrics(method, all, unit, graded)));
  const random = seededRandom(bootstrap.seed);
  const apgr: number[] = [];
  const cpt50: number[] = [];
  const cpt80: number[] = [];
  for (let b = 0; b < bootstrap.samples; b++) {
    const resampled = units.map((unit) => {
      const out: number[] = new Array(unit.length);
      for (let k = 0; k < unit.length; k++) out[k] = unit[Math.floor(random() * unit.length)]!;
      return out;
    });
    const m = averageMetrics(resampled.map((unit) => unitMetrics(method, all, unit, graded)));
    apgr.push(m.apgr);
    cpt50.push(m.cpt50);
    cpt80.push(m.cpt80);
  }
  return {
    metrics,
    ci: { apgr: percentileInterval(apgr), cpt50: percentileInterval(cpt50), cpt80: percentileInterval(cpt80) },
  };
}

/** Per-fold subject prior: the training folds' mean gain of the prompt's category (MMLU subject, MT-Bench category). */
export function subjectPriorScores(all: readonly PairRow[], folds: readonly number[], foldCount: number): Float64Array {
  const scores = new Float64Array(all.length);
  for (let f = 0; f < foldCount; f++) {
    const sums = new Map<string, { total: number; count: number }>();
    all.forEach((row, i) => {
      if (folds[i] === f) return;
      const key = `${row.bench}/${row.category}`;
      const s = sums.get(key) ?? { total: 0, count: 0 };
      s.total += row.gain;
      s.count++;
      sums.set(key, s);
    });
    all.forEach((row, i) => {
      if (folds[i] !== f) return;
      const s = sums.get(`${row.bench}/${row.category}`);
      scores[i] = s ? s.total / s.count : 0;
    });
  }
  return scores;
}

/**
 * APGR of `score` on one benchmark's rows, per held-out fold and averaged over the folds: the measure of the
 * development studies (research/routing/dev-cv-*.ts). `keep` narrows the rows (e.g. to quizzes).
 */
export function foldAveragedApgr(
  rows: readonly PairRow[],
  folds: readonly number[],
  foldCount: number,
  bench: PairRow['bench'],
  score: (i: number) => number,
  keep: (i: number) => boolean = () => true,
): number {
  let total = 0;
  for (let f = 0; f < foldCount; f++) {
    const unit = rows.map((_, i) => i).filter((i) => folds[i] === f && rows[i]!.bench === bench && keep(i));
    total += evaluateScores(unit.map(score), {
      weak: unit.map((i) => rows[i]!.weak),
      strong: unit.map((i) => rows[i]!.strong),
      scale: bench === 'mt_bench' ? 1 : 100,
    }).apgr;
  }
  return total / foldCount;
}
