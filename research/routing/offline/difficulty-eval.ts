import type { ChatRequest } from '../../../src/core/ir.ts';
import type { Preset, Tier } from '../../../src/core/tiers.ts';
import { EMPTY_CONTEXT } from '../../../src/router/auto/features.ts';
import { RULE_THRESHOLDS, ruleScore } from '../../../src/router/auto/rules.ts';
import {
  calibrateThresholds,
  type PresetThresholds,
  type TierShares,
  tierForScore,
} from '../../../src/router/auto/thresholds.ts';
import { scorerOf } from '../versions.ts';
import { REPO_ROOT } from './dataset.ts';
import {
  type DifficultyRow,
  type IndependentSet,
  inDifficultyLockbox,
  loadDifficultyRows,
  loadIndependentSets,
  rankingMetrics,
  type WithInterval,
} from './difficulty.ts';
import {
  DEFAULT_DIFFICULTY_TRAINING,
  difficultyMatrix,
  leaveOneSourceOutPairwise,
  V6_PRESET_SHARES,
} from './train-difficulty.ts';

/**
 * The difficulty evaluation of `npm run eval:router` (issue 22). Each chooser's score is compared with labelled
 * difficulty on data it was not trained on:
 *   1. held-out sources: learned-v6 retrained with each training source left out (leave one source out), its
 *      outputs on that source; pooled over sources against the shared target scale, and within each source
 *      against its levels;
 *   2. the lockbox: 15% of every source by content hash, which the shipped learned-v6 never saw;
 *   3. the independent sets, FLASK and WizardLM's test set (never trained or tuned on).
 * Rank correlation (Spearman) over all levels and AUC of the hardest vs the easiest levels, with bootstrap 95%
 * intervals; then each preset's tier shares per level. Baselines: prompt length, the rule chooser, learned-v5.
 * Prompt length has no thresholds of its own: it gets v6's preset shares of the training mix.
 */

export interface DifficultyEvalOptions {
  dataDir: string;
  mirrorDir: string;
  bootstrap: number;
  seed: number;
  log: (line: string) => void;
}

interface Chooser {
  name: string;
  score: (text: string) => number;
  thresholds: PresetThresholds;
}

function userRequest(text: string): ChatRequest {
  return {
    model: 'auto',
    messages: [{ role: 'user', content: [{ type: 'text', text }] }],
    stream: false,
    includeUsage: false,
    inbound: { protocol: 'openai', body: {} },
  } as unknown as ChatRequest;
}

const PRESETS: Preset[] = ['cheapest', 'balanced', 'quality'];
const f = (m: WithInterval) => `${m.value.toFixed(3)} [${m.low.toFixed(3)}, ${m.high.toFixed(3)}]`;

/** Levels of the lockbox on the shared scale: named bins of the target. */
function targetBin(target: number): number {
  if (target <= 0.1) return 0; // easy prompts written here
  if (target <= 0.35) return 1; // MixEval, FollowBench 0-2, MATH 1 not included (0.4)
  if (target <= 0.55) return 2;
  if (target <= 0.8) return 3;
  return 4; // Arena-Hard
}

export function evaluateDifficulty(options: DifficultyEvalOptions): Record<string, unknown> {
  const { log } = options;
  const results: Record<string, unknown> = {};
  const all = loadDifficultyRows(options.dataDir, REPO_ROOT);
  const train = all.filter((r) => !inDifficultyLockbox(r));
  const lockbox = all.filter((r) => inDifficultyLockbox(r));
  const v6 = scorerOf('v6');
  const v5 = scorerOf('v5');
  // Prompt length gets thresholds at v6's preset shares of the training mix (each source weighing the same).
  const lengthThresholds = {} as PresetThresholds;
  {
    const perSource = new Map<string, number[]>();
    for (const r of train) {
      const s = r.source.startsWith('arena-hard') ? 'arena-hard' : r.source;
      perSource.set(s, [...(perSource.get(s) ?? []), r.text.length]);
    }
    // Equal weight per source: resample each source to the same count.
    const mix: number[] = [];
    for (const lengths of perSource.values())
      for (let k = 0; k < 1000; k++) mix.push(lengths[(k * 7919) % lengths.length]!);
    for (const p of PRESETS) lengthThresholds[p] = calibrateThresholds(mix, V6_PRESET_SHARES[p] as TierShares);
  }
  const choosers: Chooser[] = [
    { name: 'learned-v6', score: (t) => v6.score(t, EMPTY_CONTEXT), thresholds: v6.thresholds },
    { name: 'learned-v5', score: (t) => v5.score(t, EMPTY_CONTEXT), thresholds: v5.thresholds },
    { name: 'rules', score: (t) => ruleScore(userRequest(t)), thresholds: RULE_THRESHOLDS },
    { name: 'prompt length', score: (t) => t.length, thresholds: lengthThresholds },
  ];
  const metricsOf = (
    label: string,
    rows: readonly DifficultyRow[],
    scores: Record<string, ArrayLike<number>>,
    easiest: (l: number) => boolean,
    hardest: (l: number) => boolean,
  ) => {
    const out: Record<string, unknown> = {};
    log(`\n${label}`);
    for (const [name, s] of Object.entries(scores)) {
      const m = rankingMetrics(s, rows, easiest, hardest, options.bootstrap, options.seed);
      out[name] = m;
      log(
        `  ${name.padEnd(26)} rank corr. ${f(m.spearman)}   AUC ${f(m.auc)}   rank corr. extremes ${f(m.extremeSpearman)}`,
      );
    }
    return out;
  };
  const sharesOf = (rows: readonly DifficultyRow[], levelName: (l: number) => string, label: string) => {
    const out: Record<string, unknown> = {};
    const levels = [...new Set(rows.map((r) => r.level))].sort((a, b) => a - b);
    log(`\n${label}: tier shares utility/fast/deep (%) per level, for each preset`);
    log(`  ${'chooser'.padEnd(16)}${'preset'.padEnd(10)}${levels.map((l) => levelName(l).padEnd(14)).join('')}`);
    for (const c of choosers) {
      const scores = rows.map((r) => c.score(r.text));
      for (const p of PRESETS) {
        const cells: string[] = [];
        const byLevel: Record<string, number[]> = {};
        for (const l of levels) {
          const counts: Record<Tier, number> = { utility: 0, fast: 0, deep: 0 };
          let n = 0;
          rows.forEach((r, i) => {
            if (r.level !== l) return;
            counts[tierForScore(scores[i]!, c.thresholds[p])]++;
            n++;
          });
          const shares = [counts.utility / n, counts.fast / n, counts.deep / n];
          byLevel[levelName(l)] = shares;
          cells.push(
            shares
              .map((s) => (s * 100).toFixed(0))
              .join('/')
              .padEnd(14),
          );
        }
        out[`${c.name}/${p}`] = byLevel;
        log(`  ${c.name.padEnd(16)}${p.padEnd(10)}${cells.join('')}`);
      }
    }
    return out;
  };
  const scoresFor = (rows: readonly DifficultyRow[]) =>
    Object.fromEntries(choosers.map((c) => [c.name, Float64Array.from(rows, (r) => c.score(r.text))]));

  // 1. held-out sources
  log(
    `\nDifficulty, held-out sources: learned-v6 retrained ${new Set(train.map((r) => r.source.replace(/-v.*/, ''))).size} times, each time without one source`,
  );
  const matrix = difficultyMatrix(train, DEFAULT_DIFFICULTY_TRAINING.train.hashBits);
  const loso = leaveOneSourceOutPairwise(matrix, train, DEFAULT_DIFFICULTY_TRAINING, [
    ...new Set(train.map((r) => r.source)),
  ]);
  const heldScores = { 'learned-v6 (source held out)': loso, ...scoresFor(train) };
  delete (heldScores as Record<string, unknown>)['learned-v6'];
  const held: Record<string, unknown> = {};
  held.pooled = metricsOf(
    `pooled over the ${train.length} rows, each scored by a model without its source: rank corr. with the target scale; AUC target >= 0.8 (MATH 5, Arena-Hard) vs <= 0.3 (easy prompts, FollowBench 0-1, MixEval)`,
    train.map((r) => ({ ...r, level: r.target })),
    heldScores,
    (l) => l <= 0.3,
    (l) => l >= 0.8,
  );
  for (const source of ['followbench', 'math', 'mixeval']) {
    const idx = train.flatMap((r, i) => (r.source === source ? [i] : []));
    const rows = idx.map((i) => train[i]!);
    const lv = rows.map((r) => r.level);
    const lo = Math.min(...lv);
    const hi = Math.max(...lv);
    held[source] = metricsOf(
      `${source} held out (${rows.length} rows), levels ${lo}-${hi}; AUC level ${hi} vs ${lo}`,
      rows,
      Object.fromEntries(Object.entries(heldScores).map(([k, s]) => [k, idx.map((i) => s[i]!)])),
      (l) => l === lo,
      (l) => l === hi,
    );
  }
  results.heldOutSources = held;

  // 2. the lockbox
  const lockRows = lockbox.map((r) => ({ ...r, level: targetBin(r.target) }));
  const binName = (l: number) => ['easy', 't<=.35', 't<=.55', 't<=.8', 'arena-hard'][l]!;
  results.lockbox = {
    metrics: metricsOf(
      `lockbox (${lockbox.length} rows never trained on): rank corr. with the target scale; AUC Arena-Hard/MATH 5 vs easy/MixEval/FollowBench 0-1`,
      lockbox.map((r) => ({ ...r, level: r.target })),
      scoresFor(lockbox),
      (l) => l <= 0.3,
      (l) => l >= 0.8,
    ),
    shares: sharesOf(lockRows, binName, 'lockbox, by target bin'),
  };

  // 3. the independent sets
  const sets: IndependentSet[] = loadIndependentSets(options.mirrorDir);
  if (sets.length === 0)
    log(`\nindependent sets: no snapshots under ${options.mirrorDir} (fetch kaistAI/FLASK, nlpxucan/WizardLM)`);
  const independent: Record<string, unknown> = {};
  for (const set of sets) {
    const counts = new Map<number, number>();
    for (const r of set.rows) counts.set(r.level, (counts.get(r.level) ?? 0) + 1);
    independent[set.name] = {
      provenance: set.provenance,
      metrics: metricsOf(
        `${set.name} (${set.rows.length} prompts, ${set.provenance}; levels ${[...counts]
          .sort((a, b) => a[0] - b[0])
          .map(([l, n]) => `${l}:${n}`)
          .join(' ')}); never trained or tuned on`,
        set.rows,
        scoresFor(set.rows),
        set.easiest,
        set.hardest,
      ),
      shares: sharesOf(set.rows, (l) => `level ${l}`, set.name),
    };
  }
  results.independent = independent;
  return results;
}
