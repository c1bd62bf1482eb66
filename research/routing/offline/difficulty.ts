import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashString } from '../../../src/router/auto/hash.ts';
import { seededRandom } from './numeric.ts';

/**
 * Difficulty-labelled prompts (issue 22): the training sources in ../shared/data/routing/difficulty/ plus the
 * easy prompts written here (research/routing/data/easy-prompts.jsonl), and the two independent evaluation sets
 * (FLASK, WizardLM's test set), read from their git snapshots and never trained or tuned on.
 *
 * Every row has a `level` within its source (higher = harder) and a `target` in [0, 1] on one shared scale,
 * so that sources mix within each level: an easy prompt written here 0.05, FollowBench level L 0.2 + 0.06 L,
 * MixEval 0.3 and MixEval-Hard 0.55, MATH level L 0.3 + 0.1 L, Arena-Hard 0.9.
 */

export interface DifficultyRow {
  source: string;
  text: string;
  /** Level within the source; higher is harder. */
  level: number;
  /** Target on the shared scale, in [0, 1]. */
  target: number;
}

export const TRAINING_SOURCES = [
  'easy',
  'followbench',
  'mixeval',
  'math',
  'arena-hard-v0.1',
  'arena-hard-v2.0',
] as const;

const jsonl = (path: string): Record<string, unknown>[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

function mixevalText(item: Record<string, unknown>): string {
  const context = typeof item.context === 'string' && item.context !== '' ? `${item.context}\n` : '';
  const options = Array.isArray(item.options)
    ? `\n${(item.options as string[]).map((o, i) => `${String.fromCharCode(65 + i)}. ${o}`).join('\n')}`
    : '';
  return `${context}${String(item.prompt)}${options}`;
}

/** The training sources (`dataDir` is ../shared/data/routing). */
export function loadDifficultyRows(dataDir: string, repoRoot: string): DifficultyRow[] {
  const dir = join(dataDir, 'difficulty');
  const rows: DifficultyRow[] = [];
  for (const r of jsonl(join(repoRoot, 'research/routing/data/easy-prompts.jsonl'))) {
    rows.push({ source: 'easy', text: String(r.prompt), level: 0, target: 0.05 });
  }
  for (const file of ['content', 'example', 'format', 'mixed', 'situation', 'style']) {
    const items = JSON.parse(readFileSync(join(dir, 'followbench', `${file}_constraints.json`), 'utf8')) as {
      level: number;
      instruction: string;
    }[];
    for (const it of items) {
      rows.push({ source: 'followbench', text: it.instruction, level: it.level, target: 0.2 + 0.06 * it.level });
    }
  }
  for (const [sub, level] of [
    ['mixeval', 0],
    ['mixeval-hard', 1],
  ] as const) {
    for (const file of ['free-form', 'multiple-choice']) {
      const items = JSON.parse(readFileSync(join(dir, 'mixeval', sub, `${file}.json`), 'utf8')) as Record<
        string,
        Record<string, unknown>
      >;
      for (const item of Object.values(items)) {
        rows.push({ source: 'mixeval', text: mixevalText(item), level, target: level === 0 ? 0.3 : 0.55 });
      }
    }
  }
  for (const r of jsonl(join(dir, 'math', 'test.jsonl'))) {
    const level = Number(String(r.level).replace('Level ', ''));
    if (!Number.isFinite(level)) continue;
    rows.push({ source: 'math', text: String(r.problem), level, target: 0.3 + 0.1 * level });
  }
  for (const v of ['v0.1', 'v2.0']) {
    for (const r of jsonl(join(dir, 'arena-hard', v, 'question.jsonl'))) {
      const text = typeof r.prompt === 'string' ? r.prompt : String((r.turns as { content: string }[])[0]?.content);
      rows.push({ source: `arena-hard-${v}`, text, level: 1, target: 0.9 });
    }
  }
  return rows;
}

/** The lockbox: a content-hashed 15% of every training source, never trained or tuned on. */
export function inDifficultyLockbox(row: Pick<DifficultyRow, 'text'>): boolean {
  return (hashString(`lockbox:${row.text.slice(0, 200)}`) >>> 0) % 100 < 15;
}

/** Content-hashed fold of a row (for the calibration curve). */
export function difficultyFold(row: Pick<DifficultyRow, 'text'>, folds: number): number {
  return (hashString(`fold:${row.text.slice(0, 200)}`) >>> 0) % folds;
}

export interface IndependentSet {
  name: string;
  rows: DifficultyRow[];
  /** Levels counted as easiest and hardest for the AUC. */
  easiest: (level: number) => boolean;
  hardest: (level: number) => boolean;
  provenance: string;
}

const FLASK_LEVELS: Record<string, number> = {
  'simple lifestyle knowledge': 1,
  'advanced lifestyle knowledge': 2,
  'formal education knowledge': 3,
  'major level knowledge': 4,
  'expert level knowledge': 5,
};

function gitShow(repo: string, path: string): string | undefined {
  if (!existsSync(repo)) return undefined;
  try {
    return execFileSync('git', ['--git-dir', repo, 'show', `HEAD:${path}`], { encoding: 'utf8', maxBuffer: 1 << 26 });
  } catch {
    return undefined;
  }
}

/**
 * FLASK (kaistAI/FLASK @ 3b4e22b, evaluation_set/flask_evaluation.jsonl: 1,740 prompts, five annotated
 * difficulty levels) and WizardLM's test set (nlpxucan/WizardLM @ cd4b4cc, WizardLM/data/WizardLM_testset.jsonl:
 * 218 prompts, difficulty 1-10), read from their snapshots under `mirrorDir` (the search tool's fetch). Evaluation
 * only. Absent snapshots are skipped.
 */
export function loadIndependentSets(mirrorDir: string): IndependentSet[] {
  const sets: IndependentSet[] = [];
  const flask = gitShow(join(mirrorDir, 'kaistAI+FLASK', 'repo'), 'evaluation_set/flask_evaluation.jsonl');
  if (flask) {
    const rows: DifficultyRow[] = [];
    for (const line of flask.split('\n')) {
      if (line.trim() === '') continue;
      const r = JSON.parse(line) as { instruction: string; difficulty: string | number };
      const level = FLASK_LEVELS[String(r.difficulty)];
      if (level !== undefined) rows.push({ source: 'flask', text: r.instruction, level, target: Number.NaN });
    }
    sets.push({
      name: 'FLASK',
      rows,
      easiest: (l) => l === 1,
      hardest: (l) => l === 5,
      provenance: 'kaistAI/FLASK@3b4e22bc evaluation_set/flask_evaluation.jsonl',
    });
  }
  const wizard = gitShow(join(mirrorDir, 'nlpxucan+WizardLM', 'repo'), 'WizardLM/data/WizardLM_testset.jsonl');
  if (wizard) {
    const rows: DifficultyRow[] = [];
    for (const line of wizard.split('\n')) {
      if (line.trim() === '') continue;
      const r = JSON.parse(line) as { Instruction: string; Difficulty: number };
      rows.push({ source: 'wizardlm', text: r.Instruction, level: r.Difficulty, target: Number.NaN });
    }
    sets.push({
      name: 'WizardLM test',
      rows,
      easiest: (l) => l <= 2,
      hardest: (l) => l >= 9,
      provenance: 'nlpxucan/WizardLM@cd4b4cc0 WizardLM/data/WizardLM_testset.jsonl',
    });
  }
  return sets;
}

// ---------------------------------------------------------------- metrics

function ranks(values: ArrayLike<number>, index: ArrayLike<number>): Float64Array {
  const n = index.length;
  const order = Array.from({ length: n }, (_, k) => k).sort((a, b) => values[index[a]!]! - values[index[b]!]!);
  const out = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && values[index[order[j + 1]!]!] === values[index[order[i]!]!]) j++;
    const rank = (i + j) / 2;
    for (let k = i; k <= j; k++) out[order[k]!] = rank;
    i = j + 1;
  }
  return out;
}

/** Spearman's rank correlation of score and level over the rows in `index` (ties get mid-ranks). */
export function spearman(score: ArrayLike<number>, level: ArrayLike<number>, index: ArrayLike<number>): number {
  const a = ranks(score, index);
  const b = ranks(level, index);
  const n = index.length;
  let ma = 0;
  let mb = 0;
  for (let k = 0; k < n; k++) {
    ma += a[k]!;
    mb += b[k]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let k = 0; k < n; k++) {
    const da = a[k]! - ma;
    const db = b[k]! - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : Number.NaN;
}

/** AUC of score separating `positive` rows from `negative` rows (ties count half). */
export function auc(score: ArrayLike<number>, positive: readonly number[], negative: readonly number[]): number {
  if (positive.length === 0 || negative.length === 0) return Number.NaN;
  const all = [...positive.map((i) => [score[i]!, 1] as const), ...negative.map((i) => [score[i]!, 0] as const)].sort(
    (x, y) => x[0] - y[0],
  );
  let rankSum = 0;
  let i = 0;
  while (i < all.length) {
    let j = i;
    while (j + 1 < all.length && all[j + 1]![0] === all[i]![0]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (all[k]![1] === 1) rankSum += rank;
    i = j + 1;
  }
  const p = positive.length;
  return (rankSum - (p * (p + 1)) / 2) / (p * negative.length);
}

export interface WithInterval {
  value: number;
  low: number;
  high: number;
}

function interval(value: number, samples: number[]): WithInterval {
  const s = samples.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return { value, low: Number.NaN, high: Number.NaN };
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))))]!;
  return { value, low: at(0.025), high: at(0.975) };
}

/**
 * Spearman over all levels, AUC of the hardest vs the easiest levels, and Spearman on the rows of those two
 * groups only (issue 22's "rank correlation on the hardest-vs-easiest levels"), with percentile-bootstrap 95%
 * intervals (rows resampled with replacement; for the two-group figures, within each group).
 */
export function rankingMetrics(
  score: ArrayLike<number>,
  rows: readonly Pick<DifficultyRow, 'level'>[],
  easiest: (level: number) => boolean,
  hardest: (level: number) => boolean,
  samples: number,
  seed: number,
): { spearman: WithInterval; auc: WithInterval; extremeSpearman: WithInterval } {
  const level = rows.map((r) => r.level);
  const all = rows.map((_, i) => i);
  const neg = all.filter((i) => easiest(level[i]!));
  const pos = all.filter((i) => hardest(level[i]!));
  const random = seededRandom(seed);
  const rho: number[] = [];
  const a: number[] = [];
  const extreme: number[] = [];
  const idx = new Int32Array(all.length);
  for (let s = 0; s < samples; s++) {
    for (let k = 0; k < idx.length; k++) idx[k] = Math.floor(random() * idx.length);
    rho.push(spearman(score, level, idx));
    const p = pos.map(() => pos[Math.floor(random() * pos.length)]!);
    const q = neg.map(() => neg[Math.floor(random() * neg.length)]!);
    a.push(auc(score, p, q));
    extreme.push(spearman(score, level, [...p, ...q]));
  }
  return {
    spearman: interval(spearman(score, level, all), rho),
    auc: interval(auc(score, pos, neg), a),
    extremeSpearman: interval(spearman(score, level, [...pos, ...neg]), extreme),
  };
}
