import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeSparse } from '../../../src/router/auto/asset.ts';
import { PRESET_SHARES, tierForScore } from '../../../src/router/auto/thresholds.ts';
import { encodeSparse, thresholdsFromShares } from '../offline/asset-writer.ts';

describe('what the trainers write into an asset', () => {
  it('round-trips hashed weights through int16 within one quantisation step', () => {
    const weights = Float32Array.from({ length: 1 << 8 }, (_, i) => Math.sin(i) * (i % 7));
    const encoded = encodeSparse(weights);
    const decoded = decodeSparse(encoded, 8);
    for (let i = 0; i < weights.length; i++) assert.ok(Math.abs(decoded[i]! - weights[i]!) <= encoded.scale);
  });

  it('derive preset defaults from the documented shares, cheapest sending fewest up', () => {
    const t = thresholdsFromShares(PRESET_SHARES);
    assert.ok(t.cheapest.deep > t.balanced.deep && t.balanced.deep > t.quality.deep);
    assert.ok(t.cheapest.utility > t.balanced.utility && t.balanced.utility > t.quality.utility);
    // On uniformly spread scores (what the calibrated score is on reference prompts) the shares come out as documented.
    const uniform = Array.from({ length: 10_001 }, (_, i) => i / 10_000);
    for (const preset of ['cheapest', 'balanced', 'quality'] as const) {
      const count = { utility: 0, fast: 0, deep: 0 };
      for (const score of uniform) count[tierForScore(score, t[preset])]++;
      const s = { utility: count.utility / uniform.length, deep: count.deep / uniform.length };
      assert.ok(Math.abs(s.deep - PRESET_SHARES[preset].deepShare) < 0.001, `${preset} deep ${s.deep}`);
      assert.ok(Math.abs(s.utility - PRESET_SHARES[preset].utilityShare) < 0.001, `${preset} utility ${s.utility}`);
    }
  });
});
