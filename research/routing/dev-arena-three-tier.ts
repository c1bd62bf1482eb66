/**
 * Study (eighth round, log.md): does adding chat prompts with graded answers of a strong and a weak
 * model to learned-v4's training rows move the AlpacaEval three-tier figures? The rows come from
 * lmarena/arena-hard-auto (Apache-2.0), Arena-Bench v1: 300 Chatbot Arena prompts, each answer graded 1-10 by
 * GPT-4 against a reference; strong = gpt-4-turbo, weak = Mixtral-8x7B-Instruct (RouteLLM's pair). They are
 * not in this repository: extract three files from that repository's history into a folder first (the
 * commits are in log.md, eighth round): data/arena-bench-v1/question.jsonl as question.jsonl, its
 * model_judgment/gpt-4-turbo.jsonl as strong.jsonl and model_judgment/Mixtral-8x7B-Instruct-v0.1.jsonl as
 * weak.jsonl; then `node research/routing/dev-arena-three-tier.ts DIR`. With `--cv`, it first prints the 5-fold
 * out-of-fold APGR on the Arena-Bench and MT-Bench rows for each row weight (a choice made without AlpacaEval).
 * Not part of the product; nothing derived from it ships.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { modelFromAsset } from '../../src/router/auto/asset.ts';
import { EMPTY_CONTEXT } from '../../src/router/auto/features.ts';
import { createScorer } from '../../src/router/auto/model.ts';
import { listPrice, loadAlpaca, tierOutcome } from './offline/alpaca.ts';
import { assignFolds, defaultDataDir, loadPairs, type PairRow } from './offline/dataset.ts';
import { evaluateScores } from './offline/routellm-metrics.ts';
import { costToReach, nonDecreasingHull, sweepThresholds, type TierOutcome } from './offline/three-tier.ts';
import { crossValidatedRaw, DEFAULT_ROUTER_TRAINING, matrixOf, trainRouter } from './offline/train-router.ts';
import { DEFAULT_WORD_PROBLEM } from './offline/train-word-problem.ts';
import { TRIOS } from './offline/trios.ts';

const dir = process.argv.slice(2).find((a) => !a.startsWith('--'));
if (!dir)
  throw new Error(
    'usage: node research/routing/dev-arena-three-tier.ts DIR (with question.jsonl, strong.jsonl, weak.jsonl)',
  );
const jsonl = (name: string) =>
  readFileSync(join(dir, name), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const grades = (name: string) =>
  new Map(
    jsonl(name)
      .filter((r) => typeof r.score === 'number' && r.score >= 1)
      .map((r) => [r.question_id as string, r.score as number]),
  );
const strong = grades('strong.jsonl');
const weak = grades('weak.jsonl');
// Labelled as MT-Bench rows (the same 1-10 grades), so they take its row weight and calibration group.
const arena: PairRow[] = jsonl('question.jsonl').flatMap((q) => {
  const id = q.question_id as string;
  const s = strong.get(id);
  const w = weak.get(id);
  if (s === undefined || w === undefined) return [];
  const prompt = (q.turns as string[])[0]!;
  return [
    { bench: 'mt_bench' as const, id: `arena/${id}`, prompt, category: 'arena', weak: w, strong: s, gain: (s - w) / 9 },
  ];
});
console.log(`${arena.length} Arena-Bench rows with both grades`);

const dataDir = defaultDataDir();
const rows = loadPairs(dataDir).rows;
const alpaca = loadAlpaca(dataDir);
const variants: [string, PairRow[], number][] = [
  ['v4 (RouteLLM rows only)', rows, 10],
  ['v4 + arena rows (weight 10, as MT-Bench)', [...rows, ...arena], 10],
  ['v4 + arena rows (MT-Bench and arena weight 30)', [...rows, ...arena], 30],
];
if (process.argv.includes('--cv')) {
  const all = [...rows, ...arena];
  const folds = assignFolds(all, 5, 3);
  const matrix = matrixOf(all, DEFAULT_ROUTER_TRAINING.train.hashBits);
  const pooled = (raw: ArrayLike<number>, keep: (r: PairRow) => boolean) => {
    const unit = all.map((_, i) => i).filter((i) => keep(all[i]!));
    return evaluateScores(
      unit.map((i) => raw[i]!),
      { weak: unit.map((i) => all[i]!.weak), strong: unit.map((i) => all[i]!.strong), scale: 1 },
    ).apgr;
  };
  for (const w of [10, 30, 100]) {
    const config = {
      ...DEFAULT_ROUTER_TRAINING,
      benchWeights: { ...DEFAULT_ROUTER_TRAINING.benchWeights, mt_bench: w },
    };
    const raw = crossValidatedRaw(matrix, all, folds, 5, config);
    const arenaApgr = pooled(raw, (r) => r.category === 'arena');
    const mtApgr = pooled(raw, (r) => r.bench === 'mt_bench' && r.category !== 'arena');
    console.log(
      `row weight ${w}: out-of-fold APGR, Arena-Bench ${arenaApgr.toFixed(3)}, MT-Bench ${mtApgr.toFixed(3)} (pooled)`,
    );
  }
}

for (const [name, training, w] of variants) {
  const config = {
    ...DEFAULT_ROUTER_TRAINING,
    benchWeights: { ...DEFAULT_ROUTER_TRAINING.benchWeights, mt_bench: w },
  };
  const asset = trainRouter(training, config, {}, () => {}, DEFAULT_WORD_PROBLEM).asset;
  const scorer = createScorer(modelFromAsset(asset));
  const scores = Float64Array.from(alpaca, (r) => scorer.score(r.instruction, EMPTY_CONTEXT));
  const cells: string[] = [];
  for (const trio of TRIOS) {
    const tiers = trio.models.map((m) => tierOutcome(alpaca, m, listPrice(m))) as [
      TierOutcome,
      TierOutcome,
      TierOutcome,
    ];
    const mean = (a: ArrayLike<number>) => Array.from(a).reduce((x, y) => x + y, 0) / a.length;
    const single = tiers.map((t) => ({ cost: mean(t.cost), quality: mean(t.quality) }));
    const deep = single[2]!;
    const hull = nonDecreasingHull([...sweepThresholds(scores, tiers), single[0]!]);
    cells.push(`${trio.name} ${((100 * costToReach(hull, 0.95 * deep.quality)) / deep.cost).toFixed(1)}%`);
  }
  console.log(`${name.padEnd(48)} ${cells.join('  ')}`);
}
