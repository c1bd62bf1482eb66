/**
 * `node research/routing/dev-short-prompts.ts`: the eleventh round's check on short prompts written by hand
 * (data/short-prompts-check.jsonl: 40 short hard asks and 40 short easy ones; see data/README.md). Evaluation
 * only, never trained or tuned on, written after the round's candidates had failed, so it selected nothing. For
 * the shipped chooser, prompt length and the rules: AUC hard vs easy with a bootstrap interval, and balanced tier
 * shares per group, plain and with `reasoning_effort: high` on the hard ones (the request prior). Rows that are
 * also in the easy training prompts are left out.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChatRequest } from '../../src/core/ir.ts';
import type { Tier } from '../../src/core/tiers.ts';
import { createLearnedTierChooser } from '../../src/router/auto/learned.ts';
import { RULE_THRESHOLDS, ruleScore } from '../../src/router/auto/rules.ts';
import { tierForScore } from '../../src/router/auto/thresholds.ts';
import { REPO_ROOT } from './offline/dataset.ts';
import { rankingMetrics } from './offline/difficulty.ts';

interface Row {
  id: string;
  level: number;
  prompt: string;
  inEasyTraining: boolean;
}
const rows = readFileSync(join(REPO_ROOT, 'research/routing/data/short-prompts-check.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as Row)
  .filter((r) => !r.inEasyTraining);
const request = (text: string, extra: Partial<ChatRequest> = {}): ChatRequest =>
  ({
    model: 'auto',
    messages: [{ role: 'user', content: [{ type: 'text', text }] }],
    stream: false,
    includeUsage: false,
    inbound: { protocol: 'openai-chat', body: {} },
    ...extra,
  }) as ChatRequest;
const learned = createLearnedTierChooser();
// Prompt length's balanced thresholds are eval-router's (v6's shares of the training mix); here only its AUC.
const choosers: Record<string, { score: (r: ChatRequest) => number; tier?: (r: ChatRequest) => Tier }> = {
  [learned.name]: {
    score: (r: ChatRequest) => learned.score(r),
    tier: (r: ChatRequest) => learned.choose(r, 'balanced').tier,
  },
  rules: {
    score: ruleScore,
    tier: (r: ChatRequest) => tierForScore(ruleScore(r), RULE_THRESHOLDS.balanced),
  },
  'prompt length': { score: (r: ChatRequest) => (r.messages[0]!.content[0] as { text: string }).text.length },
};
const f = (m: { value: number; low: number; high: number }) =>
  `${m.value.toFixed(3)} [${m.low.toFixed(3)}, ${m.high.toFixed(3)}]`;
const counts = [0, 1].map((l) => rows.filter((r) => r.level === l).length);
console.log(
  `${rows.length} prompts (${counts[0]} easy, ${counts[1]} hard; ${80 - rows.length} left out as trained on)`,
);
for (const [name, c] of Object.entries(choosers)) {
  const scores = rows.map((r) => c.score(request(r.prompt)));
  const m = rankingMetrics(
    scores,
    rows,
    (l) => l === 0,
    (l) => l === 1,
    1000,
    7,
  );
  let line = `  ${name.padEnd(14)} AUC hard vs easy ${f(m.auc)}`;
  const tierOf = c.tier;
  if (tierOf) {
    const share = (level: number, extra: Partial<ChatRequest>) => {
      const t: Record<Tier, number> = { utility: 0, fast: 0, deep: 0 };
      const group = rows.filter((r) => r.level === level);
      for (const r of group) t[tierOf(request(r.prompt, extra))]++;
      return [t.utility, t.fast, t.deep].map((n) => ((100 * n) / group.length).toFixed(0)).join('/');
    };
    line += `  balanced u/f/d %: easy ${share(0, {})}, hard ${share(1, {})}, hard with reasoning_effort high ${share(1, { reasoning: { effort: 'high' } })}`;
  }
  console.log(line);
}
