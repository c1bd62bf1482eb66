/**
 * `node research/routing/dev-prior.ts [--cache FILE] [--lockbox]`: the eleventh round's second study. A hand-set
 * prior on the kind of ask (ask-signals.ts), fixed before this run and not fitted: raw + 1·hard_ask + 1·build_ask
 * + 0.5·reasoning − 1·easy_ask − 1·greeting, on top of learned-v6's raw output. Scored on the held-out sources
 * (v6's leave-one-source-out outputs, cached by dev-stack.ts) and, with --lockbox, once on the lockbox with the
 * shipped v6. Never reads the independent sets.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { EMPTY_CONTEXT } from '../../src/router/auto/features.ts';
import { ruleScore } from '../../src/router/auto/rules.ts';
import { ASK_SIGNALS, askSignals } from './ask-signals.ts';
import { defaultDataDir, REPO_ROOT } from './offline/dataset.ts';
import { type DifficultyRow, inDifficultyLockbox, loadDifficultyRows, rankingMetrics } from './offline/difficulty.ts';
import { scorerOf } from './versions.ts';

const { values } = parseArgs({
  options: {
    cache: { type: 'string', default: '/tmp/modro-dev-stack.json' },
    lockbox: { type: 'boolean', default: false },
  },
});
export const PRIOR: Record<string, number> = { hard_ask: 1, build_ask: 1, reasoning: 0.5, easy_ask: -1, greeting: -1 };
const NAMES = [
  'log_chars',
  'hard_ask',
  'build_ask',
  'easy_ask',
  'greeting',
  'short_question',
  'code',
  'math',
  'reasoning',
  'log_requirements',
  'log_constraints',
  'long_output',
];
const buf = new Float64Array(ASK_SIGNALS);
const prior = (text: string) => {
  askSignals(text, buf);
  let z = 0;
  NAMES.forEach((n, k) => {
    z += (PRIOR[n] ?? 0) * buf[k]!;
  });
  return z;
};
const all = loadDifficultyRows(defaultDataDir(), REPO_ROOT);
const rows: DifficultyRow[] = all.filter((r) => !inDifficultyLockbox(r));
const cache = JSON.parse(readFileSync(values.cache, 'utf8')) as { rows: number; v6: number[] };
if (cache.rows !== rows.length) throw new Error('stale cache: run dev-stack.ts');
const rule = (text: string) =>
  ruleScore({
    model: 'auto',
    messages: [{ role: 'user', content: [{ type: 'text', text }] }],
    stream: false,
    includeUsage: false,
    inbound: { protocol: 'openai', body: {} },
  } as never);
const f = (m: { value: number; low: number; high: number }) =>
  `${m.value.toFixed(3)} [${m.low.toFixed(3)}, ${m.high.toFixed(3)}]`;
const report = (label: string, rs: readonly DifficultyRow[], scores: Record<string, ArrayLike<number>>) => {
  for (const source of ['followbench', 'mixeval', 'math']) {
    const idx = rs.flatMap((r, i) => (r.source === source ? [i] : []));
    const sub = idx.map((i) => rs[i]!);
    const lv = sub.map((r) => r.level);
    const lo = Math.min(...lv);
    const hi = Math.max(...lv);
    console.log(`\n${label}: ${source} (${sub.length} rows; AUC level ${hi} vs ${lo})`);
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
  console.log(`\n${label}: pooled, rank corr. with target; AUC target >= 0.8 vs <= 0.3`);
  for (const [name, s] of Object.entries(scores)) {
    const m = rankingMetrics(
      s,
      rs.map((r) => ({ level: r.target })),
      (l) => l <= 0.3,
      (l) => l >= 0.8,
      200,
      7,
    );
    console.log(`  ${name.padEnd(22)} rho ${f(m.spearman)}  AUC ${f(m.auc)}`);
  }
};
report('held-out sources', rows, {
  'v6 (source held out)': cache.v6,
  'v6 + prior': Float64Array.from(rows, (r, i) => cache.v6[i]! + prior(r.text)),
  'prompt length': Float64Array.from(rows, (r) => r.text.length),
  rules: Float64Array.from(rows, (r) => rule(r.text)),
});
if (values.lockbox) {
  const lock = all.filter((r) => inDifficultyLockbox(r));
  const v6 = scorerOf('v6');
  report('lockbox', lock, {
    'learned-v6': Float64Array.from(lock, (r) => v6.raw(r.text, EMPTY_CONTEXT)),
    'v6 + prior': Float64Array.from(lock, (r) => v6.raw(r.text, EMPTY_CONTEXT) + prior(r.text)),
    'prompt length': Float64Array.from(lock, (r) => r.text.length),
    rules: Float64Array.from(lock, (r) => rule(r.text)),
  });
}
