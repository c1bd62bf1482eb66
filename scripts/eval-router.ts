/**
 * `npm run eval:router [-- --data DIR] [-- --folds 10] [-- --bootstrap 1000] [-- --json FILE] [-- --skip-latency]`
 *
 * 1. RouteLLM pairs (MMLU, GSM8K, MT-Bench; contaminated rows dropped): k-fold cross-validation by content-
 *    hashed folds, RouteLLM's APGR / CPT(50%) / CPT(80%) with bootstrap 95% intervals, beside the random,
 *    prompt-length, per-subject-prior and oracle baselines on the same rows.
 * 2. Three tiers on AlpacaEval (evaluation only, never trained on): the shipped asset scores each prompt,
 *    two thresholds are swept, and the cost-quality curve, its AIQ and the cost of reaching 95% of the deep
 *    tier's quality are compared with single tiers, a random mix, a prompt-length rule and the oracle.
 * 3. The chooser's cost per prompt at about 100, 1k, 4k and 8k tokens.
 */
import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchRouter, timerJitter } from '../bench/router-bench.ts';
import { defaultRouterModel } from '../src/router/auto/asset.ts';
import { EMPTY_CONTEXT } from '../src/router/auto/features.ts';
import { createScorer } from '../src/router/auto/model.ts';
import {
  type AlpacaRow,
  listPrice,
  loadAlpaca,
  type PricedModel,
  tierOutcome,
} from '../src/router/auto/offline/alpaca.ts';
import { BENCHES, type Bench, defaultDataDir, foldOf, loadPairs } from '../src/router/auto/offline/dataset.ts';
import {
  evaluateMethod,
  type Method,
  type MethodEvaluation,
  oracleMethod,
  outcomesOf,
  randomMethod,
  scoredMethod,
  subjectPriorScores,
} from '../src/router/auto/offline/evaluate-pairs.ts';
import { modelQuality, routerCurve } from '../src/router/auto/offline/routellm-metrics.ts';
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
} from '../src/router/auto/offline/three-tier.ts';
import { crossValidatedRaw, DEFAULT_ROUTER_TRAINING, matrixOf } from '../src/router/auto/offline/train-router.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    folds: { type: 'string', default: '10' },
    seed: { type: 'string', default: '7' },
    bootstrap: { type: 'string', default: '1000' },
    json: { type: 'string' },
    'skip-latency': { type: 'boolean', default: false },
  },
});
const dataDir = values.data ?? defaultDataDir(repoRoot);
const foldCount = Number(values.folds);
const seed = Number(values.seed);
const bootstrapSamples = Number(values.bootstrap);
const started = performance.now();
const results: Record<string, unknown> = { foldCount, seed, bootstrapSamples };

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const pad = (s: string, n: number) => s.padEnd(n);

// ---------------------------------------------------------------- 1. RouteLLM pairs
const pairs = loadPairs(dataDir);
const rows = pairs.rows;
console.log(`RouteLLM pairs: ${rows.length} rows (${pairs.dropped} contaminated rows dropped), ${foldCount}-fold CV`);
const config = DEFAULT_ROUTER_TRAINING;
const matrix = matrixOf(rows, config.train.hashBits);
const folds = rows.map((r) => foldOf(r, foldCount, seed));
const oof = crossValidatedRaw(matrix, rows, folds, foldCount, config, (f) =>
  process.stdout.write(`  fold ${f + 1}/${foldCount} trained\r`),
);
console.log(`  ${foldCount} fold models trained in ${((performance.now() - started) / 1000).toFixed(0)} s`);
const prior = subjectPriorScores(rows, folds, foldCount);
const length = Float64Array.from(rows, (r) => r.prompt.length);

const METHODS: [string, Method][] = [
  ['learned-v1 (ours)', scoredMethod(oof)],
  ['per-subject prior', scoredMethod(prior)],
  ['prompt length', scoredMethod(length)],
  ['random (RouteLLM)', randomMethod(seed)],
  ['oracle', oracleMethod(false)],
];

const pairResults: Record<string, unknown> = {};
for (const bench of BENCHES) {
  const graded = bench === 'mt_bench';
  const index = rows.map((r, i) => (r.bench === bench ? i : -1)).filter((i) => i >= 0);
  const pooled = bench === 'mt_bench';
  const units = pooled
    ? [index]
    : Array.from({ length: foldCount }, (_, f) => index.filter((i) => folds[i] === f)).filter((u) => u.length > 0);
  const outcomes = outcomesOf(rows, index, graded);
  const weak = modelQuality(outcomes.weak, outcomes.scale);
  const strong = modelQuality(outcomes.strong, outcomes.scale);
  const unit = graded ? '' : '%';
  console.log(
    `\n${bench} — ${index.length} prompts; weak (Mixtral) ${f1(weak)}${unit}, strong (GPT-4) ${f1(strong)}${unit}; ` +
      (pooled ? 'pooled out-of-fold scores' : `metrics per held-out fold, averaged over ${units.length} folds`),
  );
  console.log(`${pad('method', 20)}${pad('APGR [95% CI]', 24)}${pad('CPT(50%) [95% CI]', 24)}CPT(80%) [95% CI]`);
  const benchResults: Record<string, MethodEvaluation> = {};
  for (const [name, method] of METHODS) {
    const methodFor = name === 'oracle' ? oracleMethod(graded) : method;
    const e = evaluateMethod(methodFor, rows, units, graded, { samples: bootstrapSamples, seed: seed + 1 });
    benchResults[name] = e;
    console.log(
      pad(name, 20) +
        pad(`${f3(e.metrics.apgr)} [${f3(e.ci.apgr.low)}, ${f3(e.ci.apgr.high)}]`, 24) +
        pad(`${f1(e.metrics.cpt50)}% [${f1(e.ci.cpt50.low)}, ${f1(e.ci.cpt50.high)}]`, 24) +
        `${f1(e.metrics.cpt80)}% [${f1(e.ci.cpt80.low)}, ${f1(e.ci.cpt80.high)}]`,
    );
  }
  // The quality-vs-share curve of the learned router on all rows of the benchmark (pooled out-of-fold scores).
  const curve = routerCurve(
    index.map((i) => oof[i]!),
    outcomes,
  ).sort((a, b) => a.strongPct - b.strongPct);
  const pooledLearned = evaluateMethod(scoredMethod(oof), rows, [index], graded, { samples: 0, seed });
  console.log(
    `learned-v1 curve (pooled out-of-fold, APGR ${f3(pooledLearned.metrics.apgr)}): ` +
      curve.map((p) => `${p.strongPct.toFixed(0)}%→${graded ? p.quality.toFixed(2) : p.quality.toFixed(1)}`).join('  '),
  );
  pairResults[bench satisfies Bench] = {
    prompts: index.length,
    weak,
    strong,
    protocol: pooled ? 'pooled' : 'per-fold',
    methods: benchResults,
    pooledLearnedApgr: pooledLearned.metrics.apgr,
    learnedCurve: curve.map((p) => ({ strongPct: p.strongPct, quality: p.quality })),
  };
}
results['routellm'] = pairResults;

// ---------------------------------------------------------------- 2. three tiers on AlpacaEval
const TRIOS: { name: string; models: [PricedModel, PricedModel, PricedModel] }[] = [
  {
    name: 'A',
    models: [
      { tier: 'utility', alpacaName: 'gemma-7b-it', priceModel: 'gemma-7b-it', priceProvider: 'groq' },
      {
        tier: 'fast',
        alpacaName: 'Mixtral-8x7B-Instruct-v0.1_concise',
        priceModel: 'mixtral-8x7b-32768',
        priceProvider: 'groq',
        note: 'AlpacaEval ran Mixtral-8x7B-Instruct with a "be concise" prompt',
      },
      { tier: 'deep', alpacaName: 'claude-2.1', priceModel: 'claude-2.1', priceProvider: 'anthropic' },
    ],
  },
  {
    name: 'B',
    models: [
      { tier: 'utility', alpacaName: 'gemma-7b-it', priceModel: 'gemma-7b-it', priceProvider: 'groq' },
      { tier: 'fast', alpacaName: 'gpt-3.5-turbo-1106', priceModel: 'gpt-3.5-turbo-1106', priceProvider: 'openai' },
      { tier: 'deep', alpacaName: 'claude-2.1', priceModel: 'claude-2.1', priceProvider: 'anthropic' },
    ],
  },
];

const alpaca: AlpacaRow[] = loadAlpaca(dataDir);
const { model: shipped } = defaultRouterModel();
const scorer = createScorer(shipped);
const learnedScores = Float64Array.from(alpaca, (r) => scorer.score(r.instruction, EMPTY_CONTEXT));
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
  console.log(`\ntrio ${trio.name}:`);
  trio.models.forEach((m, k) => {
    console.log(
      `  ${pad(m.tier, 8)}${pad(m.alpacaName, 38)}$${prices[k]!.inputPerMillion}/$${prices[k]!.outputPerMillion} per M tokens ` +
        `(${m.priceProvider}); quality ${f3(single[k]!.quality)}; $${perThousand(single[k]!.cost)} per 1k prompts`,
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
  const learnedSweep = sweepThresholds(learnedScores, tiers);
  const lengthSweep = sweepThresholds(lengthScores, tiers);
  const lambdas = Array.from({ length: 400 }, (_, k) => 10 ** (-2 + (k / 399) * 8));
  const rowsOut = [
    summarize('learned-v1 (ours)', learnedSweep, learnedSweep),
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
    models: trio.models.map((m, k) => ({ ...m, price: prices[k], quality: single[k]!.quality, cost: single[k]!.cost })),
    target,
    routers: rowsOut.map(({ hull, ...rest }) => ({ ...rest, hull })),
  };
}
results['threeTier'] = threeTier;

// ---------------------------------------------------------------- 3. cost of the chooser
if (!values['skip-latency']) {
  const latency = await benchRouter();
  const jitter = timerJitter();
  console.log('\nRouter cost: choose() per prompt (median of 5 rounds x 2000 calls)');
  console.log('tokens    p50 (µs)   p99 (µs)');
  for (const r of latency) {
    console.log(
      `${String(r.lengthTokens).padStart(6)}  ${r.p50us.toFixed(2).padStart(9)}  ${r.p99us.toFixed(2).padStart(9)}`,
    );
  }
  console.log(`machine noise: a 20 µs busy wait measures p50 ${jitter.p50us} µs, p99 ${jitter.p99us} µs`);
  results['latency'] = { rows: latency, jitter };
}

console.log(`\ndone in ${((performance.now() - started) / 1000).toFixed(0)} s`);
if (values.json) writeFileSync(values.json, `${JSON.stringify(results, null, 2)}\n`);
