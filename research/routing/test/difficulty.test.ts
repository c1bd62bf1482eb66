import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { auc, type DifficultyRow, inDifficultyLockbox, rankingMetrics, spearman } from '../offline/difficulty.ts';
import { predictRaw } from '../offline/train.ts';
import {
  DEFAULT_DIFFICULTY_TRAINING,
  difficultyMatrix,
  difficultyPairs,
  fitDifficultyPairwise,
  pairMatrix,
} from '../offline/train-difficulty.ts';

const all = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('difficulty metrics', () => {
  it('Spearman: 1 for the same order, -1 reversed, mid-ranks for ties', () => {
    const level = [1, 2, 3, 4, 5];
    assert.equal(spearman([10, 20, 30, 40, 50], level, all(5)), 1);
    assert.equal(spearman([5, 4, 3, 2, 1], level, all(5)), -1);
    // Ties in the score: scipy.stats.spearmanr([1, 1, 2, 3], [1, 2, 3, 4]) = 0.9486832980505138
    assert.ok(Math.abs(spearman([1, 1, 2, 3], [1, 2, 3, 4], all(4)) - 0.9486832980505138) < 1e-12);
    assert.ok(Number.isNaN(spearman([1, 1, 1], [1, 2, 3], all(3))));
  });

  it('AUC: share of (hard, easy) pairs ordered right, ties half', () => {
    assert.equal(auc([0.9, 0.8, 0.1, 0.2], [0, 1], [2, 3]), 1);
    assert.equal(auc([0.1, 0.2, 0.9, 0.8], [0, 1], [2, 3]), 0);
    assert.equal(auc([0.5, 0.5], [0], [1]), 0.5);
    assert.equal(auc([0.9, 0.1, 0.5], [0, 1], [2]), 0.5);
  });

  it('bootstrap intervals hold the point estimate and are reproducible', () => {
    const rows = all(200).map((i) => ({ level: i % 5 }));
    const score = rows.map((r, i) => r.level + ((i * 7919) % 13) / 4);
    const a = rankingMetrics(
      score,
      rows,
      (l) => l === 0,
      (l) => l === 4,
      200,
      3,
    );
    const b = rankingMetrics(
      score,
      rows,
      (l) => l === 0,
      (l) => l === 4,
      200,
      3,
    );
    assert.deepEqual(a, b);
    for (const m of [a.spearman, a.auc]) assert.ok(m.low <= m.value && m.value <= m.high, JSON.stringify(m));
  });
});

describe('pairwise difficulty training', () => {
  const rows: DifficultyRow[] = [];
  for (let i = 0; i < 60; i++) {
    const level = i % 3;
    // Harder rows mention "prove"; sources differ in style words that say nothing of difficulty.
    const source = i % 2 === 0 ? 'alpha' : 'beta';
    const text = `${source === 'alpha' ? 'kindly' : 'please'} ${level === 2 ? 'prove that the' : level === 1 ? 'explain the' : 'name the'} item ${i}`;
    rows.push({ source, text, level, target: 0.2 + 0.3 * level });
  }
  rows.push(
    ...all(20).map((i) => ({ source: 'easy', text: `hi ${i}`, level: 0, target: 0.05 })),
    ...all(20).map((i) => ({
      source: 'arena-hard-v0.1',
      text: `design and prove a system ${i}`,
      level: 1,
      target: 0.9,
    })),
  );

  it('pairs rows of different levels within a source, and across sources only where the order is sure', () => {
    const { a, b, weight } = difficultyPairs(rows, all(rows.length), { perSource: 50, crossSource: 40, seed: 1 });
    assert.equal(a.length, b.length);
    assert.equal(a.length, weight.length);
    for (let p = 0; p < a.length; p++) {
      const x = rows[a[p]!]!;
      const y = rows[b[p]!]!;
      if (x.source === y.source) assert.notEqual(x.level, y.level);
      else assert.ok([x.source, y.source].includes('easy') || [x.source, y.source].includes('arena-hard-v0.1'));
    }
    // Deterministic.
    assert.deepEqual(difficultyPairs(rows, all(rows.length), { perSource: 50, crossSource: 40, seed: 1 }).a, a);
  });

  it('a pair row is the difference of the two rows', () => {
    const m = difficultyMatrix(rows.slice(0, 2), 12);
    const d = pairMatrix(m, [0], [1]);
    const D = m.dense.length / 2;
    for (let k = 0; k < D; k++) assert.equal(d.dense[k], m.dense[k]! - m.dense[D + k]!);
    assert.equal(d.rowStart[1], m.rowStart[2]);
  });

  it('learns to rank harder rows above easier ones', () => {
    const config = { ...DEFAULT_DIFFICULTY_TRAINING, train: { ...DEFAULT_DIFFICULTY_TRAINING.train, hashBits: 12 } };
    const m = difficultyMatrix(rows, 12);
    const w = fitDifficultyPairwise(m, rows, all(rows.length), config, { perSource: 300, crossSource: 200, seed: 2 });
    const raw = predictRaw(w, m);
    const hard = all(60).filter((i) => rows[i]!.level === 2);
    const easy = all(60).filter((i) => rows[i]!.level === 0);
    assert.ok(auc(raw, hard, easy) > 0.95);
  });

  it('keeps about 15% of rows in the lockbox, by content', () => {
    const texts = all(2000).map((i) => ({ text: `prompt number ${i}` }));
    const share = texts.filter(inDifficultyLockbox).length / texts.length;
    assert.ok(share > 0.12 && share < 0.18, `${share}`);
    assert.equal(inDifficultyLockbox(texts[5]!), inDifficultyLockbox({ text: 'prompt number 5' }));
  });
});
