import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { interp, qcutEdges, quantileLinear, seededRandom, trapz } from '../offline/numeric.ts';
import {
  evaluateScores,
  modelQuality,
  oracleCurve,
  randomCurve,
  routerCurve,
  routerMetrics,
} from '../offline/routellm-metrics.ts';
import { aiq, costToReach, nonDecreasingHull, routeThreeTiers, sweepThresholds } from '../offline/three-tier.ts';

const close = (actual: number, expected: number, eps = 1e-9) =>
  assert.ok(Math.abs(actual - expected) <= eps, `${actual} != ${expected}`);

describe('numpy/pandas primitives', () => {
  it('quantileLinear matches numpy.quantile (method "linear")', () => {
    close(quantileLinear([1, 2, 3, 4], 0.1), 1.3);
    close(quantileLinear([1, 2, 3, 4], 0.5), 2.5);
    close(quantileLinear([1, 2, 3, 4], 1), 4);
    close(quantileLinear([5], 0.7), 5);
  });

  it('qcutEdges gives q + 1 edges from min to max', () => {
    const edges = qcutEdges([0.9, 0.1, 0.6, 0.3], 10);
    assert.equal(edges.length, 11);
    close(edges[0]!, 0.1);
    close(edges[1]!, 0.16);
    close(edges[5]!, 0.45);
    close(edges[10]!, 0.9);
  });

  it('trapz matches numpy.trapz', () => {
    close(trapz([1, 2, 3], [0, 1, 2]), 4);
    close(trapz([1, 1, 5], [0, 0, 1]), 3);
  });

  it('interp matches numpy.interp, including outside the range and on unsorted xp', () => {
    close(interp(2.5, [1, 2, 3], [10, 20, 30]), 25);
    close(interp(0, [1, 2, 3], [10, 20, 30]), 10);
    close(interp(5, [1, 2, 3], [10, 20, 30]), 30);
    close(interp(3, [1, 2, 3], [10, 20, 30]), 30);
    // Unsorted xp: numpy first compares x with the last xp, then searches from the left.
    close(interp(1.5, [0, 2, 1], [0, 10, 20]), 20);
    close(interp(1.5, [0, 2, 1, 3], [0, 10, 20, 30]), 7.5);
    // Repeated xp values: numpy returns the fp of the last equal xp reached by its search.
    close(interp(50, [25, 50, 50, 50, 75, 75, 75, 75, 75, 75, 75], [0, 25, 25, 25, 50, 50, 50, 75, 75, 75, 100]), 25);
  });
});

describe("RouteLLM's APGR and CPT", () => {
  // Four prompts: the weak model solves #0, the strong one #0-#2; the router ranks #1 and #2 highest.
  const outcomes = { weak: [1, 0, 0, 0], strong: [1, 1, 1, 0], scale: 100 };
  const scores = [0.1, 0.9, 0.6, 0.3];

  it('builds the 11-point curve RouteLLM builds (>= edge, > on the last edge)', () => {
    const curve = routerCurve(scores, outcomes);
    assert.deepEqual(
      curve.map((p) => [p.strongPct, p.quality]),
      [
        [100, 75],
        [75, 75],
        [75, 75],
        [75, 75],
        [50, 75],
        [50, 75],
        [50, 75],
        [25, 50],
        [25, 50],
        [25, 50],
        [0, 25],
      ],
    );
  });

  it('computes the hand-worked APGR and CPT values', () => {
    // AUC = 0.25*(25+50)/2 + 0.25*(50+75)/2 + 0.25*75 + 0.25*75 = 62.5; weak AUC 25, strong AUC 75.
    const m = evaluateScores(scores, outcomes);
    close(m.auc, 62.5);
    close(m.apgr, (62.5 - 25) / (75 - 25));
    // CPT(50%): quality 50 is first reached at 25% strong calls; CPT(80%): quality 65 between 25% and 50%.
    close(m.cpt50, 25);
    close(m.cpt80, 40);
    close(m.cpt20, 10);
  });

  it('gives a perfect ranking a higher APGR than a reversed one', () => {
    const good = evaluateScores([0, 1, 1, 0], outcomes).apgr;
    const bad = evaluateScores([1, 0, 0, 1], outcomes).apgr;
    assert.ok(good > bad);
  });

  it('averages random routing to about 0.5 APGR', () => {
    const random = seededRandom(1);
    const n = 2000;
    const weak: number[] = Array.from({ length: n }, () => (random() < 0.6 ? 1 : 0));
    const strong: number[] = weak.map((w) => (w === 1 || random() < 0.5 ? 1 : 0));
    const data = { weak, strong, scale: 100 };
    const curve = randomCurve(data, 3);
    assert.equal(curve.length, 11);
    const m = routerMetrics(curve, modelQuality(weak, 100), modelQuality(strong, 100));
    assert.ok(Math.abs(m.apgr - 0.5) < 0.05, `random APGR ${m.apgr}`);
  });

  it('reproduces get_optimal_accuracy for 0/1 and graded benchmarks', () => {
    const binary = oracleCurve(outcomes, false);
    assert.equal(binary.length, 11);
    close(binary[0]!.quality, 25);
    close(binary[1]!.quality, ((1 + 0.4) / 4) * 100);
    close(binary[10]!.quality, 75);
    const graded = oracleCurve({ weak: [8, 9, 5, 10], strong: [10, 9, 9, 9], scale: 1 }, true);
    close(graded[1]!.quality, 8); // int(4 * 0.1) = 0 strong calls
    close(graded[3]!.quality, 9); // one call, on the +4 prompt
    close(graded[5]!.quality, 9.5); // two calls: +4 and +2
    close(graded[10]!.quality, 9.5); // never on the prompt where strong is worse
  });
});

describe('three-tier evaluation', () => {
  const tiers = [
    { quality: [0, 0, 1, 0], cost: [1, 1, 1, 1] },
    { quality: [0, 1, 1, 0], cost: [2, 2, 2, 2] },
    { quality: [1, 1, 1, 0], cost: [10, 10, 10, 10] },
  ] as const;

  it('routes by two thresholds and reports shares', () => {
    const p = routeThreeTiers([0.9, 0.5, 0.1, 0.2], tiers, 0.3, 0.8);
    assert.deepEqual(p.shares, [0.5, 0.25, 0.25]);
    close(p.cost, (10 + 2 + 1 + 1) / 4);
    close(p.quality, (1 + 1 + 1 + 0) / 4);
  });

  it('builds a non-decreasing upper hull and reads cost at a quality from it', () => {
    const hull = nonDecreasingHull([
      { cost: 1, quality: 0.25 },
      { cost: 2, quality: 0.5 },
      { cost: 3, quality: 0.4 },
      { cost: 10, quality: 0.75 },
      { cost: 5, quality: 0.55 },
    ]);
    assert.deepEqual(
      hull.map((p) => [p.cost, p.quality]),
      [
        [1, 0.25],
        [2, 0.5],
        [10, 0.75],
      ],
    );
    close(costToReach(hull, 0.5), 2);
    close(costToReach(hull, 0.625), 6);
    assert.ok(Number.isNaN(costToReach(hull, 0.8)));
    // AIQ over [1, 10]: area = 1*(0.25+0.5)/2 + 8*(0.5+0.75)/2 = 5.375, divided by 9.
    close(aiq(hull, 1, 10), 5.375 / 9, 1e-6);
  });

  it('sweeps threshold pairs including all-utility, all-fast and all-deep', () => {
    const points = sweepThresholds([0.9, 0.5, 0.1, 0.2], tiers, 4);
    const has = (u: number, f: number, d: number) =>
      points.some((p) => p.shares[0] === u && p.shares[1] === f && p.shares[2] === d);
    assert.ok(has(1, 0, 0) && has(0, 1, 0) && has(0, 0, 1));
  });
});
