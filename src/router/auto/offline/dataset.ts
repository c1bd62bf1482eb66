import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { hashString } from '../hash.ts';

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

/** The data folder: `MODRO_ROUTING_DATA`, else `../shared/data/routing` next to the repository root. */
export function defaultDataDir(repoRoot: string): string {
  return process.env['MODRO_ROUTING_DATA'] ?? resolve(repoRoot, '..', 'shared', 'data', 'routing');
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

/**
 * Fold of a row for k-fold cross-validation, fixed by its content: rows whose prompts share their first 120
 * characters (MMLU reading passages reused by several questions) land in the same fold, so a passage seen
 * in training never reappears in the held-out fold.
 */
export function foldOf(row: Pick<PairRow, 'prompt'>, folds: number, seed: number): number {
  const key = row.prompt.replace(/\s+/g, ' ').trim().slice(0, 120);
  return (hashString(`${seed}:${key}`) >>> 0) % folds;
}
