import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Tier } from '../../src/core/tiers.ts';
import { calibrateThresholds, NEVER_DEEP, PRESET_SHARES, tierForScore } from '../../src/router/auto/thresholds.ts';
import { seeded } from '../store/support.ts';

const RANK: Record<Tier, number> = { utility: 0, fast: 1, deep: 2 };

function shares(scores: readonly number[], t: { utility: number; deep: number }) {
  const count = { utility: 0, fast: 0, deep: 0 };
  for (const s of scores) count[tierForScore(s, t)]++;
  return { utility: count.utility / scores.length, fast: count.fast / scores.length, deep: count.deep / scores.length };
}

describe('tier thresholds', () => {
  it('map scores to tiers monotonically: utility below, deep at or above', () => {
    const t = { utility: 0.3, deep: 0.7 };
    assert.equal(tierForScore(0.29, t), 'utility');
    assert.equal(tierForScore(0.3, t), 'fast');
    assert.equal(tierForScore(0.69, t), 'fast');
    assert.equal(tierForScore(0.7, t), 'deep');
    let previous = -1;
    for (let s = 0; s <= 1.0001; s += 0.001) {
      const rank = RANK[tierForScore(s, t)];
      assert.ok(rank >= previous);
      previous = rank;
    }
  });
});

describe('calibrateThresholds', () => {
  const random = seeded(42);
  // A skewed sample, unlike the reference distribution: most traffic scores low.
  const sample = Array.from({ length: 5000 }, () => random() ** 3);

  it('hits the target deep and utility shares on the sample', () => {
    for (const target of [
      { deepShare: 0.1, utilityShare: 0.5 },
      { deepShare: 0.25, utilityShare: 0.3 },
      { deepShare: 0.5, utilityShare: 0 },
      { deepShare: 0.05, utilityShare: 0.9 },
    ]) {
      const t = calibrateThresholds(sample, target);
      const s = shares(sample, t);
      assert.ok(Math.abs(s.deep - target.deepShare) <= 0.001, `deep ${s.deep} for ${JSON.stringify(target)}`);
      assert.ok(
        Math.abs(s.utility - target.utilityShare) <= 0.001,
        `utility ${s.utility} for ${JSON.stringify(target)}`,
      );
      assert.ok(t.utility <= t.deep);
    }
  });

  it('defaults the utility share to the balanced preset, shrunk to fit', () => {
    const t = calibrateThresholds(sample, { deepShare: 0.2 });
    assert.ok(Math.abs(shares(sample, t).utility - PRESET_SHARES.balanced.utilityShare) <= 0.001);
    const t2 = calibrateThresholds(sample, { deepShare: 0.9 });
    const s2 = shares(sample, t2);
    assert.ok(Math.abs(s2.deep - 0.9) <= 0.001 && Math.abs(s2.utility - 0.1) <= 0.001);
  });

  it('sends nothing to deep for a zero share, and everything for a full one', () => {
    const none = calibrateThresholds(sample, { deepShare: 0, utilityShare: 0 });
    assert.equal(none.deep, NEVER_DEEP);
    assert.equal(shares(sample, none).deep, 0);
    assert.equal(shares(sample, none).utility, 0);
    const all = calibrateThresholds(sample, { deepShare: 1, utilityShare: 0 });
    assert.equal(shares(sample, all).deep, 1);
  });

  it('uses the same quantile as RouteLLM (pandas linear interpolation)', () => {
    // pandas: Series([0.1, 0.2, 0.4, 0.8]).quantile(1 - 0.5) == 0.30000000000000004
    const t = calibrateThresholds([0.8, 0.1, 0.4, 0.2], { deepShare: 0.5, utilityShare: 0.25 });
    assert.ok(Math.abs(t.deep - 0.3) < 1e-12);
    // quantile(0.25): virtual index 0.75 between 0.1 and 0.2
    assert.ok(Math.abs(t.utility - 0.175) < 1e-12);
  });

  it('rejects impossible targets and empty samples', () => {
    assert.throws(() => calibrateThresholds([], { deepShare: 0.2 }), RangeError);
    assert.throws(() => calibrateThresholds(sample, { deepShare: 1.2 }), RangeError);
    assert.throws(() => calibrateThresholds(sample, { deepShare: 0.6, utilityShare: 0.6 }), RangeError);
    assert.throws(() => calibrateThresholds(sample, { deepShare: Number.NaN }), RangeError);
  });

  it('does not modify the caller array', () => {
    const scores = [0.9, 0.1, 0.5];
    calibrateThresholds(scores, { deepShare: 0.3 });
    assert.deepEqual(scores, [0.9, 0.1, 0.5]);
  });
});
