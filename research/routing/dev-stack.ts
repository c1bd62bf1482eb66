/**
 * `node research/routing/dev-stack.ts [--cache FILE]`: the eleventh round's development study (learned-v7's
 * stacking layer) on the training sources only, never the lockbox nor the independent sets. Nested leave one
 * source out: for each held-out source S, the text model is trained without S (its outputs on S), and the stacker
 * is fitted on the other sources' outputs from text models trained without S and without their own source (inner
 * leave one source out), so no weight ever saw S. Reports, as dev-difficulty.ts, pooled and within-source rank
 * correlation and AUC of several stacker inputs against v6 (source held out), prompt length and the rules.
 * The text models' outputs are cached in FILE (default /tmp/modro-dev-stack.json): about 25 fits.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ruleScore } from '../../src/router/auto/rules.ts';
import { ASK_SIGNAL_NAMES } from './ask-signals.ts';
import { defaultDataDir, REPO_ROOT } from './offline/dataset.ts';
import { type DifficultyRow, inDifficultyLockbox, loadDifficultyRows, rankingMetrics } from './offline/difficulty.ts';
import { applyStack, fitStack, stackInputs } from './offline/stack.ts';
import { predictRaw, selectRows } from './offline/train.ts';
import {
  DEFAULT_DIFFICULTY_TRAINING,
  DEFAULT_PAIRS,
  difficultyMatrix,
  fitDifficultyPairwise,
  leaveOneSourceOutPairwise,
} from './offline/train-difficulty.ts';

const { values } = parseArgs({
  options: { cache: { type: 'string', default: '/tmp/modro-dev-stack.json' }, l2: { type: 'string' } },
});
const group = (s: string) => (s.startsWith('arena-hard') ? 'arena-hard' : s);
const rows: DifficultyRow[] = loadDifficultyRows(defaultDataDir(), REPO_ROOT).filter((r) => !inDifficultyLockbox(r));
const groups = [...new Set(rows.map((r) => group(r.source)))];
const base = { ...structuredClone(DEFAULT_DIFFICULTY_TRAINING), lengthWeight: 0 };
console.log(`${rows.length} rows outside the lockbox; groups ${groups.join(', ')}`);

interface Cache {
  v6: number[];
  outer: number[];
  inner: Record<string, number[]>;
}
let cache: Cache;
if (existsSync(values.cache) && JSON.parse(readFileSync(values.cache, 'utf8')).rows === rows.length) {
  cache = JSON.parse(readFileSync(values.cache, 'utf8')) as Cache;
} else {
  const t0 = performance.now();
  const log = (s: string) => console.log(`  ${s} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  const matrix = difficultyMatrix(rows, base.train.hashBits);
  const sources = [...new Set(rows.map((r) => r.source))];
  const v6 = leaveOneSourceOutPairwise(matrix, rows, DEFAULT_DIFFICULTY_TRAINING, sources, (s) => log(`v6 w/o ${s}`));
  const outer = leaveOneSourceOutPairwise(matrix, rows, base, sources, (s) => log(`text w/o ${s}`));
  const inner: Record<string, number[]> = {};
  for (const s of groups) {
    // Text outputs of every row outside s, from a model trained without s and without the row's own group.
    const raw = new Float64Array(rows.length).fill(Number.NaN);
    for (const t of groups) {
      if (t === s) continue;
      const train = rows.flatMap((r, i) => (group(r.source) !== s && group(r.source) !== t ? [i] : []));
      const test = rows.flatMap((r, i) => (group(r.source) === t ? [i] : []));
      const w = fitDifficultyPairwise(matrix, rows, train, base);
      const p = predictRaw(w, selectRows(matrix, test));
      test.forEach((i, k) => {
        raw[i] = p[k]!;
      });
      log(`inner: w/o ${s}, ${t}`);
    }
    inner[s] = Array.from(raw);
  }
  cache = { v6: Array.from(v6), outer: Array.from(outer), inner };
  writeFileSync(values.cache, JSON.stringify({ rows: rows.length, ...cache }));
}

const l2 = values.l2 ? Number(values.l2) : 1e-3;
const N = ASK_SIGNAL_NAMES.length + 1;
const useOf = (names: readonly string[]) =>
  Array.from({ length: N }, (_, k) => (k === 0 ? names.includes('text') : names.includes(ASK_SIGNAL_NAMES[k - 1]!)));
const variants: Record<string, boolean[]> = {
  'fixed text + log length, within': useOf(['text', 'log_chars']),
  'fixed text + signals, within': useOf(['text', ...ASK_SIGNAL_NAMES]),
  'fixed text + signals': useOf(['text', ...ASK_SIGNAL_NAMES]),
  'fixed text + log length': useOf(['text', 'log_chars']),
};
const scores: Record<string, Float64Array> = {
  'v6 (source held out)': Float64Array.from(cache.v6),
  'text model alone': Float64Array.from(cache.outer),
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
const xOuter = stackInputs(rows, cache.outer);
for (const [name, use] of Object.entries(variants)) {
  const out = new Float64Array(rows.length);
  for (const s of groups) {
    const xInner = stackInputs(rows, cache.inner[s]!);
    const train = rows.flatMap((r, i) => (group(r.source) !== s ? [i] : []));
    const fixed = name.includes('fixed');
    const w = fitStack(
      rows,
      fixed ? xOuter : xInner,
      train,
      use,
      l2,
      name.includes('within') ? { ...DEFAULT_PAIRS, crossSource: 0 } : DEFAULT_PAIRS,
      fixed ? 1 : undefined,
    );
    if (process.env.SHOW)
      console.log(`  ${name} w/o ${s}: text ${w.text.toFixed(3)} ${w.signals.map((v) => v.toFixed(2)).join(' ')}`);
    rows.forEach((r, i) => {
      if (group(r.source) === s) out[i] = applyStack(w, xOuter[i]!);
    });
  }
  scores[name] = out;
  // The weights fitted on every source (inner = outer outputs), for the record.
  const wAll = fitStack(
    rows,
    xOuter,
    rows.map((_, i) => i),
    use,
    l2,
  );
  console.log(
    `${name}: text ${wAll.text.toFixed(3)}; ${ASK_SIGNAL_NAMES.map((n, k) =>
      use[k + 1] ? `${n} ${wAll.signals[k]!.toFixed(3)}` : '',
    )
      .filter(Boolean)
      .join(', ')}`,
  );
}
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
console.log('\npooled, each row scored without its source: rank corr. with target; AUC target >= 0.8 vs <= 0.3');
for (const [name, s] of Object.entries(scores)) {
  const m = rankingMetrics(
    s,
    rows.map((r) => ({ level: r.target })),
    (l) => l <= 0.3,
    (l) => l >= 0.8,
    200,
    7,
  );
  console.log(`  ${name.padEnd(22)} rho ${f(m.spearman)}  AUC ${f(m.auc)}`);
}
