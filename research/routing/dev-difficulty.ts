/**
 * `node research/routing/dev-difficulty.ts [--l2 X] [--bits N]`: the development study of learned-v6 (issue 22) on
 * the training sources only: leave one source out, and report within each held-out source the rank correlation
 * and AUC (hardest vs easiest level) of the new model's raw output, of learned-v5, of prompt length and of the
 * rule chooser. Never reads the lockbox or the independent sets.
 */
import { parseArgs } from 'node:util';
import { EMPTY_CONTEXT } from '../../src/router/auto/features.ts';
import { ruleScore } from '../../src/router/auto/rules.ts';
import { defaultDataDir, REPO_ROOT } from './offline/dataset.ts';
import { inDifficultyLockbox, loadDifficultyRows, rankingMetrics } from './offline/difficulty.ts';
import {
  DEFAULT_DIFFICULTY_TRAINING,
  difficultyMatrix,
  leaveOneSourceOutPairwise,
  leaveOneSourceOutRaw,
} from './offline/train-difficulty.ts';
import { scorerOf } from './versions.ts';

const { values } = parseArgs({
  options: {
    l2: { type: 'string' },
    l2s: { type: 'string' },
    l2d: { type: 'string' },
    bits: { type: 'string' },
    pointwise: { type: 'boolean', default: false },
  },
});
const config = structuredClone(DEFAULT_DIFFICULTY_TRAINING);
if (values.l2) config.train.l2Sparse = config.train.l2Dense = Number(values.l2);
if (values.l2s) config.train.l2Sparse = Number(values.l2s);
if (values.l2d) config.train.l2Dense = Number(values.l2d);
if (values.bits) config.train.hashBits = Number(values.bits);
const rows = loadDifficultyRows(defaultDataDir(), REPO_ROOT).filter((r) => !inDifficultyLockbox(r));
console.log(`${rows.length} rows outside the lockbox; config ${JSON.stringify(config.train)}`);
const matrix = difficultyMatrix(rows, config.train.hashBits);
const sources = [...new Set(rows.map((r) => r.source))];
const t0 = performance.now();
const loso = values.pointwise
  ? leaveOneSourceOutRaw(matrix, rows, config, sources, (s) =>
      console.log(`  held out ${s} (${((performance.now() - t0) / 1000).toFixed(0)} s)`),
    )
  : leaveOneSourceOutPairwise(matrix, rows, config, sources, (s) =>
      console.log(`  held out ${s} (${((performance.now() - t0) / 1000).toFixed(0)} s)`),
    );
const v5 = scorerOf('v5');
// A heavier weight on log length, tried on the held-out sources (added to the raw output, as a change of the
// log_chars dense weight would).
const blends = Object.fromEntries(
  [0.25, 0.5, 1].map((alpha) => [
    `v6 + ${alpha} log length`,
    Float64Array.from(rows, (r, i) => loso[i]! + alpha * Math.log1p(r.text.length)),
  ]),
);
const scores: Record<string, Float64Array> = {
  'v6 (source held out)': loso,
  ...blends,
  'learned-v5': Float64Array.from(rows, (r) => v5.raw(r.text, EMPTY_CONTEXT)),
  'prompt length': Float64Array.from(rows, (r) => r.text.length),
  rules: Float64Array.from(rows, (r) =>
    ruleScore({
      model: 'auto',
      messages: [{ role: 'user', content: [{ type: 'text', text: r.text }] }],
      stream: false,
      includeUsage: false,
      inbound: { protocol: 'openai', body: {} },
    } as never),
  ),
};
const f = (m: { value: number; low: number; high: number }) =>
  `${m.value.toFixed(3)} [${m.low.toFixed(3)}, ${m.high.toFixed(3)}]`;
for (const source of ['followbench', 'mixeval', 'math']) {
  const idx = rows.flatMap((r, i) => (r.source === source ? [i] : []));
  const sub = idx.map((i) => rows[i]!);
  const lv = sub.map((r) => r.level);
  const lo = Math.min(...lv);
  const hi = Math.max(...lv);
  console.log(`\n${source} held out (${sub.length} rows; AUC level ${hi} vs ${lo})`);
  for (const [name, s] of Object.entries(scores)) {
    const m = rankingMetrics(
      idx.map((i) => s[i]!),
      sub,
      (l) => l === lo,
      (l) => l === hi,
      200,
      7,
    );
    console.log(`  ${name.padEnd(22)} rho ${f(m.spearman)}  AUC ${f(m.auc)}`);
  }
}
// Pooled over all held-out sources: ranks against the shared target scale (easy prompts vs Arena-Hard included).
const all = rows.map((_, i) => i);
console.log(
  '\npooled, each row from the model without its source: rank corr. with target; AUC target >= 0.8 vs <= 0.3',
);
for (const [name, s] of Object.entries(scores)) {
  const m = rankingMetrics(
    all.map((i) => s[i]!),
    rows.map((r) => ({ level: r.target })),
    (l) => l <= 0.3,
    (l) => l >= 0.8,
    100,
    7,
  );
  console.log(`  ${name.padEnd(22)} rho ${f(m.spearman)}  AUC ${f(m.auc)}`);
}
