/**
 * `npm run eval:router [-- --data DIR] [-- --mirror DIR] [-- --difficulty-only] [-- --folds 10] [-- --bootstrap 1000] [-- --json FILE] [-- --skip-latency]
 *  [-- --skip-legacy] [-- --workers N]`
 *
 * 0. Difficulty (issue 22, the primary figures; offline/difficulty-eval.ts): rank correlation and AUC of each
 *    chooser's score against labelled difficulty on held-out sources, on the lockbox and on the independent sets
 *    (FLASK, WizardLM's test set, read from git snapshots under --mirror, else $MODRO_EVAL_MIRROR, else ../.mirror
 *    beside the repository), with bootstrap 95% intervals, and tier
 *    shares per level for each preset. `--difficulty-only` stops after it.
 * 1. RouteLLM pairs (a secondary check since issue 22) (MMLU, GSM8K, MT-Bench; contaminated rows dropped): k-fold cross-validation by content-
 *    hashed folds (`assignFolds`), RouteLLM's APGR / CPT(50%) / CPT(80%) with bootstrap 95% intervals, for
 *    learned-v5, learned-v4, learned-v3, learned-v2 and learned-v1 beside the random, prompt-length, per-subject-prior and
 *    oracle baselines on the same rows; v1 and the prior also under the fold rule v1 was first reported with (`foldOf`).
 * 2. The lockbox: the routers fitted on the 80% of rows the v2 and v3 designs were tuned on, scored on the other 20%.
 * 3. Three tiers on AlpacaEval (evaluation only, never trained on): the assets of versions.ts score each prompt, two
 *    thresholds are swept, and the cost-quality curve, its AIQ and the cost of reaching 95% of the deep tier's
 *    quality are compared with single tiers, a random mix, a prompt-length rule and the oracle, for several
 *    tier trios.
 * 4. The choosers' cost per prompt at about 100, 1k, 4k and 8k tokens.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { benchRouter, printBenchRows, timerJitter } from '../../bench/router-bench.ts';
import { EMPTY_CONTEXT } from '../../src/router/auto/features.ts';
import { subjectHeadFromAsset } from '../../src/router/auto/subject-head.ts';
import { type AlpacaRow, listPrice, loadAlpaca, tierOutcome } from './offline/alpaca.ts';
import {
  assignFolds,
  BENCHES,
  type Bench,
  defaultDataDir,
  foldOf,
  loadPairs,
  lockboxMask,
  REPO_ROOT,
} from './offline/dataset.ts';
import { evaluateDifficulty } from './offline/difficulty-eval.ts';
import {
  evaluateMethod,
  type Method,
  type MethodEvaluation,
  oracleMethod,
  outcomesOf,
  randomMethod,
  scoredMethod,
  subjectPriorScores,
} from './offline/evaluate-pairs.ts';
import { crossValidatedPartsParallel } from './offline/parallel-folds.ts';
import { modelQuality, routerCurve } from './offline/routellm-metrics.ts';
import {
  aiq,
  type CostQuality,
  costToReach,
  hullQualityAt,
  nonDecreasingHull,
  oracleFrontier,
  type SweepPoint,
  sweepThresholds,
  type TierOutcome,
} from './offline/three-tier.ts';
import { predictRaw, selectRows } from './offline/train.ts';
import { crossValidatedRaw, DEFAULT_ROUTER_TRAINING, matrixOf, trainOnRows } from './offline/train-router.ts';
import { categoriesOf, countMatrixOf, DEFAULT_V2_TRAINING, routedRaw } from './offline/train-router-v2.ts';
import {
  crossValidatedSubjectOffsets,
  DEFAULT_SUBJECT_HEAD,
  fitSubjectHead,
  subjectHeadData,
  subjectHeadOffsets,
} from './offline/train-subject-head.ts';
import { combined, fitV2, predictParts } from './offline/train-v2.ts';
import {
  crossValidatedOffsets,
  DEFAULT_WORD_PROBLEM,
  fitWordProblemHead,
  wordProblemFeatures,
  wordProblemOffsets,
} from './offline/train-word-problem.ts';
import { TRIOS } from './offline/trios.ts';
import { chooserOf, scorerOf, VERSIONS } from './versions.ts';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    folds: { type: 'string', default: '10' },
    seed: { type: 'string', default: '7' },
    bootstrap: { type: 'string', default: '1000' },
    json: { type: 'string' },
    workers: { type: 'string' },
    'skip-latency': { type: 'boolean', default: false },
    'skip-legacy': { type: 'boolean', default: false },
    'difficulty-only': { type: 'boolean', default: false },
    mirror: { type: 'string' },
  },
});
const dataDir = values.data ?? defaultDataDir();
const foldCount = Number(values.folds);
const seed = Number(values.seed);
const bootstrapSamples = Number(values.bootstrap);
const workers = Number(values.workers ?? availableParallelism());
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;
const results: Record<string, unknown> = { foldCount, seed, bootstrapSamples };

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const pad = (s: string, n: number) => s.padEnd(n);

// ---------------------------------------------------------------- 0. difficulty
results['difficulty'] = evaluateDifficulty({
  dataDir,
  // Snapshots as the search tool's fetch lays them out (<owner>+<name>/repo, a bare git directory).
  mirrorDir: values.mirror ?? process.env.MODRO_EVAL_MIRROR ?? resolve(REPO_ROOT, '..', '.mirror'),
  bootstrap: bootstrapSamples,
  seed,
  log: (line) => console.log(line),
});
console.log(`(${elapsed()})`);
if (values['difficulty-only']) {
  if (values.json) writeFileSync(values.json, `${JSON.stringify(results, null, 2)}\n`);
  process.exit(0);
}

// ---------------------------------------------------------------- 1. RouteLLM pairs, k-fold
const pairs = loadPairs(dataDir);
const rows = pairs.rows;
console.log(`RouteLLM pairs: ${rows.length} rows (${pairs.dropped} contaminated rows dropped), ${foldCount}-fold CV`);
const v1Config = DEFAULT_ROUTER_TRAINING;
const v2Config = DEFAULT_V2_TRAINING;
const v1Matrix = matrixOf(rows, v1Config.train.hashBits);
const folds = assignFolds(rows, foldCount, seed);
const v1Oof = crossValidatedRaw(v1Matrix, rows, folds, foldCount, v1Config, (f) =>
  process.stdout.write(`  v1 fold ${f + 1}/${foldCount} trained\r`),
);
console.log(`  learned-v1: ${foldCount} fold models trained (${elapsed()})`);
const classes = categoriesOf(rows, v2Config.features);
let v2Done = 0;
const v2Parts = await crossValidatedPartsParallel(rows, folds, foldCount, classes, v2Config, {
  workers,
  onFold: () => process.stdout.write(`  v2 fold ${++v2Done}/${foldCount} fitted\r`),
});
// learned-v2 reads quizzes with its tf-idf model and head, open prompts with a v1-style model trained like v1
// (same settings, so v1's out-of-fold outputs are that model's).
const v2QuizModelOof = combined(v2Parts, v2Config.mixWeight);
const v2Oof = routedRaw(rows, v2QuizModelOof, v1Oof);
console.log(`  learned-v2: ${foldCount} fold models fitted on ${workers} threads (${elapsed()})`);
// learned-v3 is learned-v2 plus the word-problem head on open prompts (fitted per fold on GSM8K rows only).
const wpFeatures = wordProblemFeatures(rows);
const wpOffsets = crossValidatedOffsets(rows, wpFeatures, folds, foldCount, DEFAULT_WORD_PROBLEM);
const v3Oof = routedRaw(
  rows,
  v2QuizModelOof,
  v1Oof.map((v, i) => v + wpOffsets[i]!),
);
// learned-v4 is learned-v1 plus the same word-problem head (its open path is v3's, its quizzes v1's).
const v4Oof = v1Oof.map((v, i) => v + wpOffsets[i]!);
// learned-v5 is learned-v4 plus the subject head on quizzes (fitted per fold, int8 as shipped).
const subjectData = subjectHeadData(rows, DEFAULT_SUBJECT_HEAD);
const subjectOffsets = crossValidatedSubjectOffsets(rows, subjectData, folds, foldCount, DEFAULT_SUBJECT_HEAD, (f) =>
  process.stdout.write(`  v5 subject head fold ${f + 1}/${foldCount} trained\r`),
);
const v5Oof = v4Oof.map((v, i) => v + subjectOffsets[i]!);
console.log(`  learned-v5: ${foldCount} subject heads trained (${elapsed()})`);
const prior = subjectPriorScores(rows, folds, foldCount);
const length = Float64Array.from(rows, (r) => r.prompt.length);

interface NamedMethod {
  name: string;
  method: (graded: boolean) => Method;
  folds: readonly number[];
}
// learned-v6 (the shipped chooser since issue 22) never saw these rows: its shipped asset scores them all.
const v6Shipped = scorerOf('v6');
const v6OnPairs = Float64Array.from(rows, (r) => v6Shipped.raw(r.prompt, EMPTY_CONTEXT));
const METHODS: NamedMethod[] = [
  { name: 'learned-v6 (shipped)', method: () => scoredMethod(v6OnPairs), folds },
  { name: 'learned-v5', method: () => scoredMethod(v5Oof), folds },
  { name: 'learned-v4', method: () => scoredMethod(v4Oof), folds },
  { name: 'learned-v3', method: () => scoredMethod(v3Oof), folds },
  { name: 'learned-v2', method: () => scoredMethod(v2Oof), folds },
  { name: 'learned-v1', method: () => scoredMethod(v1Oof), folds },
  { name: 'v2 tf-idf on all', method: () => scoredMethod(v2QuizModelOof), folds },
  { name: 'per-subject prior', method: () => scoredMethod(prior), folds },
  { name: 'prompt length', method: () => scoredMethod(length), folds },
  { name: 'random (RouteLLM)', method: () => randomMethod(seed), folds },
  { name: 'oracle', method: (graded) => oracleMethod(graded), folds },
];
if (!values['skip-legacy']) {
  // The fold rule learned-v1 was first reported with: every row behind one instruction template (all of
  // MMLU's moral_scenarios) in one fold; see assignFolds.
  const legacyFolds = rows.map((r) => foldOf(r, foldCount, seed));
  const legacyV1 = crossValidatedRaw(v1Matrix, rows, legacyFolds, foldCount, v1Config);
  const legacyPrior = subjectPriorScores(rows, legacyFolds, foldCount);
  console.log(`  learned-v1 under the legacy fold rule trained (${elapsed()})`);
  METHODS.push(
    { name: 'v1, legacy folds', method: () => scoredMethod(legacyV1), folds: legacyFolds },
    { name: 'prior, legacy folds', method: () => scoredMethod(legacyPrior), folds: legacyFolds },
  );
}

const header = () =>
  console.log(`${pad('method', 22)}${pad('APGR [95% CI]', 24)}${pad('CPT(50%) [95% CI]', 24)}CPT(80%) [95% CI]`);
const line = (name: string, e: MethodEvaluation) =>
  console.log(
    pad(name, 22) +
      pad(`${f3(e.metrics.apgr)} [${f3(e.ci.apgr.low)}, ${f3(e.ci.apgr.high)}]`, 24) +
      pad(`${f1(e.metrics.cpt50)}% [${f1(e.ci.cpt50.low)}, ${f1(e.ci.cpt50.high)}]`, 24) +
      `${f1(e.metrics.cpt80)}% [${f1(e.ci.cpt80.low)}, ${f1(e.ci.cpt80.high)}]`,
  );

const pairResults: Record<string, unknown> = {};
for (const bench of BENCHES) {
  const graded = bench === 'mt_bench';
  const index = rows.map((r, i) => (r.bench === bench ? i : -1)).filter((i) => i >= 0);
  const pooled = bench === 'mt_bench';
  const unitsFor = (f: readonly number[]) =>
    pooled
      ? [index]
      : Array.from({ length: foldCount }, (_, k) => index.filter((i) => f[i] === k)).filter((u) => u.length > 0);
  const outcomes = outcomesOf(rows, index, graded);
  const weak = modelQuality(outcomes.weak, outcomes.scale);
  const strong = modelQuality(outcomes.strong, outcomes.scale);
  const unit = graded ? '' : '%';
  console.log(
    `\n${bench} — ${index.length} prompts; weak (Mixtral) ${f1(weak)}${unit}, strong (GPT-4) ${f1(strong)}${unit}; ` +
      (pooled ? 'pooled out-of-fold scores' : `metrics per held-out fold, averaged over ${foldCount} folds`),
  );
  header();
  const benchResults: Record<string, MethodEvaluation> = {};
  for (const m of METHODS) {
    const e = evaluateMethod(m.method(graded), rows, unitsFor(m.folds), graded, {
      samples: bootstrapSamples,
      seed: seed + 1,
    });
    benchResults[m.name] = e;
    line(m.name, e);
  }
  // Quality-vs-share curves of the learned routers on all rows of the benchmark (pooled out-of-fold scores).
  const curves: Record<string, unknown> = {};
  for (const [name, oof] of [
    ['learned-v5', v5Oof],
    ['learned-v4', v4Oof],
    ['learned-v3', v3Oof],
    ['learned-v2', v2Oof],
    ['learned-v1', v1Oof],
  ] as const) {
    const curve = routerCurve(
      index.map((i) => oof[i]!),
      outcomes,
    ).sort((a, b) => a.strongPct - b.strongPct);
    const pooledApgr = evaluateMethod(scoredMethod(oof), rows, [index], graded, { samples: 0, seed }).metrics.apgr;
    console.log(
      `${name} curve (pooled out-of-fold, APGR ${f3(pooledApgr)}): ` +
        curve
          .map((p) => `${p.strongPct.toFixed(0)}%→${graded ? p.quality.toFixed(2) : p.quality.toFixed(1)}`)
          .join('  '),
    );
    curves[name] = { pooledApgr, curve: curve.map((p) => ({ strongPct: p.strongPct, quality: p.quality })) };
  }
  pairResults[bench satisfies Bench] = {
    prompts: index.length,
    weak,
    strong,
    protocol: pooled ? 'pooled' : 'per-fold',
    methods: benchResults,
    curves,
  };
}
results['routellm'] = pairResults;

// ---------------------------------------------------------------- 2. the lockbox
const inLockbox = lockboxMask(rows);
const devRows = rows.map((_, i) => i).filter((i) => !inLockbox[i]);
const boxRows = rows.map((_, i) => i).filter((i) => inLockbox[i]);
console.log(
  `\nLockbox: fitted on the ${devRows.length} development rows (where the v2 settings were chosen), ` +
    `scored on the ${boxRows.length} lockbox rows; pooled over the lockbox, bootstrap ${bootstrapSamples}`,
);
const boxV1 = new Float64Array(rows.length);
predictRaw(trainOnRows(v1Matrix, rows, devRows, v1Config), selectRows(v1Matrix, boxRows)).forEach((v, k) => {
  boxV1[boxRows[k]!] = v;
});
const v2Matrix = countMatrixOf(rows, v2Config);
const boxParts = predictParts(fitV2(v2Matrix, rows, devRows, classes, v2Config), v2Matrix, boxRows);
const boxQuiz = new Float64Array(rows.length);
combined(boxParts, v2Config.mixWeight).forEach((v, k) => {
  boxQuiz[boxRows[k]!] = v;
});
const boxV2 = routedRaw(rows, boxQuiz, boxV1);
const boxHead = fitWordProblemHead(rows, wpFeatures, devRows, DEFAULT_WORD_PROBLEM);
const boxOffsets = new Float64Array(rows.length);
wordProblemOffsets(boxHead, wpFeatures, boxRows).forEach((v, k) => {
  boxOffsets[boxRows[k]!] = v;
});
const boxV3 = routedRaw(
  rows,
  boxQuiz,
  boxV1.map((v, i) => v + boxOffsets[i]!),
);
const boxV4 = boxV1.map((v, i) => v + boxOffsets[i]!);
const boxSubject = new Float64Array(rows.length);
subjectHeadOffsets(
  subjectHeadFromAsset(fitSubjectHead(rows, subjectData, devRows, DEFAULT_SUBJECT_HEAD)),
  subjectData,
  boxRows,
).forEach((v, k) => {
  boxSubject[boxRows[k]!] = v;
});
const boxV5 = boxV4.map((v, i) => v + boxSubject[i]!);
const boxFolds = rows.map((_, i) => (inLockbox[i] ? 1 : 0));
const boxPrior = subjectPriorScores(rows, boxFolds, 2);
const lockboxResults: Record<string, unknown> = {};
for (const bench of BENCHES) {
  const graded = bench === 'mt_bench';
  const index = boxRows.filter((i) => rows[i]!.bench === bench);
  console.log(`\n${bench} lockbox — ${index.length} prompts`);
  header();
  const benchResults: Record<string, MethodEvaluation> = {};
  for (const [name, method] of [
    ['learned-v5', scoredMethod(boxV5)],
    ['learned-v4', scoredMethod(boxV4)],
    ['learned-v3', scoredMethod(boxV3)],
    ['learned-v2', scoredMethod(boxV2)],
    ['learned-v1', scoredMethod(boxV1)],
    ['v2 tf-idf on all', scoredMethod(boxQuiz)],
    ['per-subject prior', scoredMethod(boxPrior)],
    ['prompt length', scoredMethod(length)],
    ['random (RouteLLM)', randomMethod(seed)],
    ['oracle', oracleMethod(graded)],
  ] as const) {
    const e = evaluateMethod(method, rows, [index], graded, { samples: bootstrapSamples, seed: seed + 2 });
    benchResults[name] = e;
    line(name, e);
  }
  lockboxResults[bench] = { prompts: index.length, methods: benchResults };
}
results['lockbox'] = lockboxResults;
console.log(`(${elapsed()})`);

// ---------------------------------------------------------------- 3. three tiers on AlpacaEval
const alpaca: AlpacaRow[] = loadAlpaca(dataDir);
const v1Scorer = scorerOf('v1');
const v2Scorer = scorerOf('v2');
const v3Scorer = scorerOf('v3');
const v4Scorer = scorerOf('v4');
const v5Scorer = scorerOf('v5');
const v6Scorer = scorerOf('v6');
const v6Scores = Float64Array.from(alpaca, (r) => v6Scorer.score(r.instruction, EMPTY_CONTEXT));
const v1Scores = Float64Array.from(alpaca, (r) => v1Scorer.score(r.instruction, EMPTY_CONTEXT));
const v2Scores = Float64Array.from(alpaca, (r) => v2Scorer.score(r.instruction, EMPTY_CONTEXT));
const v3Scores = Float64Array.from(alpaca, (r) => v3Scorer.score(r.instruction, EMPTY_CONTEXT));
const v4Scores = Float64Array.from(alpaca, (r) => v4Scorer.score(r.instruction, EMPTY_CONTEXT));
const v5Scores = Float64Array.from(alpaca, (r) => v5Scorer.score(r.instruction, EMPTY_CONTEXT));
const lengthScores = Float64Array.from(alpaca, (r) => r.instruction.length);
console.log(`\nThree tiers on AlpacaEval 2.0 (${alpaca.length} prompts; quality = P(answer beats GPT-4-Turbo))`);
console.log('cost = list price x tokens, tokens = characters / 4 (prompt and answer); USD per 1,000 prompts');

const perThousand = (c: number) => (c * 1000).toFixed(3);
const threeTier: Record<string, unknown> = {};
for (const trio of TRIOS) {
  const prices = trio.models.map(listPrice);
  const tiers = trio.models.map((m, k) => tierOutcome(alpaca, m, prices[k]!)) as [
    TierOutcome,
    TierOutcome,
    TierOutcome,
  ];
  const single: CostQuality[] = tiers.map((t) => ({
    cost: t.cost.length ? Array.from(t.cost).reduce((a, b) => a + b, 0) / t.cost.length : 0,
    quality: Array.from(t.quality).reduce((a, b) => a + b, 0) / t.quality.length,
  }));
  const [utility, , deep] = single as [CostQuality, CostQuality, CostQuality];
  const target = 0.95 * deep.quality;
  console.log(`\ntrio ${trio.name} (${trio.note}):`);
  trio.models.forEach((m, k) => {
    console.log(
      `  ${pad(m.tier, 8)}${pad(m.alpacaName, 38)}$${prices[k]!.inputPerMillion}/$${prices[k]!.outputPerMillion} per M tokens ` +
        `(${m.priceProvider} ${m.priceModel}); quality ${f3(single[k]!.quality)}; $${perThousand(single[k]!.cost)} per 1k prompts`,
    );
  });
  const lo = utility.cost;
  const hi = deep.cost;
  const summarize = (name: string, points: readonly CostQuality[], sweep?: readonly SweepPoint[]) => {
    const hull = nonDecreasingHull([...points, utility]);
    const cost95 = costToReach(hull, target);
    const direct = sweep?.filter((p) => p.quality >= target).sort((a, b) => a.cost - b.cost)[0];
    return {
      name,
      aiq: aiq(hull, lo, hi),
      cost95,
      cost95Ratio: cost95 / deep.cost,
      qualityAtHalfDeepCost: hullQualityAt(hull, deep.cost / 2),
      direct: direct
        ? { cost: direct.cost, ratio: direct.cost / deep.cost, quality: direct.quality, shares: direct.shares }
        : undefined,
      hull,
    };
  };
  const v6Sweep = sweepThresholds(v6Scores, tiers);
  const v5Sweep = sweepThresholds(v5Scores, tiers);
  const v4Sweep = sweepThresholds(v4Scores, tiers);
  const v3Sweep = sweepThresholds(v3Scores, tiers);
  const v2Sweep = sweepThresholds(v2Scores, tiers);
  const v1Sweep = sweepThresholds(v1Scores, tiers);
  const lengthSweep = sweepThresholds(lengthScores, tiers);
  const lambdas = Array.from({ length: 400 }, (_, k) => 10 ** (-2 + (k / 399) * 8));
  const rowsOut = [
    summarize('learned-v6', v6Sweep, v6Sweep),
    summarize('learned-v5', v5Sweep, v5Sweep),
    summarize('learned-v4', v4Sweep, v4Sweep),
    summarize('learned-v3', v3Sweep, v3Sweep),
    summarize('learned-v2', v2Sweep, v2Sweep),
    summarize('learned-v1', v1Sweep, v1Sweep),
    summarize('prompt length', lengthSweep, lengthSweep),
    summarize('random mix of tiers', single),
    summarize('oracle', [...oracleFrontier(tiers, lambdas), ...single]),
  ];
  console.log(
    `  ${pad('router', 22)}${pad('AIQ', 8)}${pad('cost @95% deep (curve)', 30)}${pad('quality @ half deep cost', 26)}cheapest swept threshold pair >= 95%`,
  );
  for (const r of rowsOut) {
    const direct = r.direct
      ? `$${perThousand(r.direct.cost)} (${(r.direct.ratio * 100).toFixed(0)}% of deep; shares u/f/d ${r.direct.shares.map((s) => (s * 100).toFixed(0)).join('/')}%)`
      : 'n/a';
    console.log(
      `  ${pad(r.name, 22)}${pad(f3(r.aiq), 8)}${pad(`$${perThousand(r.cost95)} (${f1(r.cost95Ratio * 100)}% of deep)`, 30)}${pad(f3(r.qualityAtHalfDeepCost), 26)}${direct}`,
    );
  }
  threeTier[trio.name] = {
    note: trio.note,
    models: trio.models.map((m, k) => ({ ...m, price: prices[k], quality: single[k]!.quality, cost: single[k]!.cost })),
    target,
    routers: rowsOut,
  };
}
results['threeTier'] = threeTier;

// ---------------------------------------------------------------- 4. cost of the choosers
if (!values['skip-latency']) {
  const latency: Record<string, unknown> = {};
  for (const version of VERSIONS) {
    const rowsOut = await benchRouter({ chooser: chooserOf(version) });
    console.log('');
    printBenchRows(`Router cost, learned-${version}`, rowsOut);
    latency[version] = rowsOut;
  }
  const jitter = timerJitter();
  console.log(`machine noise: a 20 µs busy wait measures p50 ${jitter.p50us} µs, p99 ${jitter.p99us} µs`);
  results['latency'] = { ...latency, jitter };
}

console.log(`\ndone in ${elapsed()}`);
if (values.json) writeFileSync(values.json, `${JSON.stringify(results, null, 2)}\n`);
