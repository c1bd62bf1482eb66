import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { hashString } from '../../../src/router/auto/hash.ts';

/**
 * The RouteLLM pairs (`routellm_pairs.jsonl`): one prompt per row with the judged outcome of a strong
 * (GPT-4) and a weak (Mixtral) model on MMLU, GSM8K and MT-Bench. See ../shared/data/routing/README.md.
 */

export const BENCHES = ['mmlu', 'gsm8k', 'mt_bench'] as const;
export type Bench = (typeof BENCHES)[number];

export interface PairRow {
  bench: Bench;
  id: string;
  prompt: string;
  category: string;
  /** Outcomes in the benchmark's own unit: 0/1 correct, or the MT-Bench 1-10 grade averaged over 2 turns. */
  weak: number;
  strong: number;
  /** strong - weak rescaled to [-1, 1] (MT-Bench grades span 9 points). */
  gain: number;
}

/** The repository's root folder (this file is research/routing/offline/dataset.ts). */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..');

/** The data folder: `MODRO_ROUTING_DATA`, else `../shared/data/routing` next to the repository root. */
export function defaultDataDir(): string {
  return process.env['MODRO_ROUTING_DATA'] ?? resolve(REPO_ROOT, '..', 'shared', 'data', 'routing');
}

interface RawPair {
  bench: string;
  id: string;
  prompt: string;
  category: string;
  weak_score: number;
  strong_score: number;
  contaminated: boolean;
}

export interface LoadedPairs {
  rows: PairRow[];
  /** Rows dropped because RouteLLM flags them as contaminated (overlap with its router training data). */
  dropped: number;
  sha256: string;
}

export function parsePairs(text: string): LoadedPairs {
  const rows: PairRow[] = [];
  let dropped = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const raw = JSON.parse(line) as RawPair;
    // Decontaminate as RouteLLM's benchmarks do before any evaluation.
    if (raw.contaminated) {
      dropped++;
      continue;
    }
    if (!(BENCHES as readonly string[]).includes(raw.bench)) throw new Error(`unknown bench ${raw.bench}`);
    const bench = raw.bench as Bench;
    const span = bench === 'mt_bench' ? 9 : 1;
    rows.push({
      bench,
      id: raw.id,
      prompt: raw.prompt,
      category: raw.category,
      weak: raw.weak_score,
      strong: raw.strong_score,
      gain: (raw.strong_score - raw.weak_score) / span,
    });
  }
  return { rows, dropped, sha256: createHash('sha256').update(text).digest('hex') };
}

export function loadPairs(dataDir: string): LoadedPairs {
  return parsePairs(readFileSync(join(dataDir, 'routellm_pairs.jsonl'), 'utf8'));
}

/** Whitespace-normalised prompt, the text that fold keys are cut from. */
function normalised(prompt: string): string {
  return prompt.replace(/\s+/g, ' ').trim();
}

/** Characters of a prompt that decide its fold: rows sharing them share a fold. */
export const FOLD_KEY_CHARS = 120;

/**
 * More rows than this sharing their first FOLD_KEY_CHARS characters are an instruction template, not a
 * shared passage: a reading passage is reused by a handful of MMLU questions (at most 15 in this data),
 * while MMLU's moral_scenarios puts the same 180-character instruction in front of all of its 895 questions.
 */
export const TEMPLATE_GROUP_MIN = 50;

/**
 * Fold of a row for k-fold cross-validation, fixed by its content: rows whose prompts share their first 120
 * characters (MMLU reading passages reused by several questions) land in the same fold, so a passage seen
 * in training never reappears in the held-out fold. This is the rule learned-v1 was evaluated with; it
 * also puts every row behind a shared instruction template in one fold (see `assignFolds`).
 */
export function foldOf(row: Pick<PairRow, 'prompt'>, folds: number, seed: number): number {
  const key = normalised(row.prompt).slice(0, FOLD_KEY_CHARS);
  return (hashString(`${seed}:${key}`) >>> 0) % folds;
}

function commonPrefixLength(texts: readonly string[]): number {
  let length = texts[0]!.length;
  for (const text of texts) {
    let i = 0;
    while (i < length && i < text.length && text.charCodeAt(i) === texts[0]!.charCodeAt(i)) i++;
    length = i;
  }
  return length;
}

/**
 * Folds for a whole data set. As `foldOf`, except for groups of more than TEMPLATE_GROUP_MIN rows sharing
 * their first 120 characters: those share an instruction template, so the template (the group's longest
 * common prefix) is skipped and the fold is keyed on the 120 characters after it. Without this, `foldOf`
 * holds out all 895 moral_scenarios questions (the MMLU subject where the strong model gains most) in one
 * fold, and that fold's model has never seen the subject: one subject would be evaluated as unseen and the
 * 56 others as seen. Passages shared by a few questions still stay together.
 */
export function assignFolds(rows: readonly Pick<PairRow, 'prompt'>[], folds: number, seed: number): number[] {
  const texts = rows.map((r) => normalised(r.prompt));
  const groups = new Map<string, number[]>();
  texts.forEach((text, i) => {
    const key = text.slice(0, FOLD_KEY_CHARS);
    const group = groups.get(key);
    if (group) group.push(i);
    else groups.set(key, [i]);
  });
  const out = new Array<number>(rows.length);
  for (const [key, members] of groups) {
    if (members.length <= TEMPLATE_GROUP_MIN) {
      const fold = (hashString(`${seed}:${key}`) >>> 0) % folds;
      for (const i of members) out[i] = fold;
      continue;
    }
    const skip = commonPrefixLength(members.map((i) => texts[i]!));
    for (const i of members) {
      const rest = texts[i]!.slice(skip, skip + FOLD_KEY_CHARS);
      out[i] = (hashString(`${seed}:${key}|${rest}`) >>> 0) % folds;
    }
  }
  return out;
}

/**
 * The lockbox: a fifth of the rows (by `assignFolds` with its own seed) that the v2 design was not tuned
 * on. Every v2 choice (features, regularisation, head, mix weight) was made by cross-validation on the other
 * four fifths; the lockbox was scored once the settings were frozen (research/routing/eval-router.ts, log.md).
 */
export const LOCKBOX = { folds: 5, seed: 101, fold: 0 } as const;

export function lockboxMask(rows: readonly Pick<PairRow, 'prompt'>[]): boolean[] {
  return assignFolds(rows, LOCKBOX.folds, LOCKBOX.seed).map((f) => f === LOCKBOX.fold);
}

/** The rows of fold `fold` (test) and of every other fold (train), by index. */
export function splitFold(folds: readonly number[], fold: number): { train: number[]; test: number[] } {
  const train: number[] = [];
  const test: number[] = [];
  folds.forEach((x, i) => {
    (x === fold ? test : train).push(i);
  });
  return { train, test };
}
