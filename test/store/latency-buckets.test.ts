import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  estimatePercentile,
  LATENCY_BUCKET_BOUNDS_MS,
  LATENCY_BUCKET_COLUMNS,
  LATENCY_BUCKET_COUNT,
  latencyBucketIndex,
} from '../../src/store/latency-buckets.ts';

describe('latency buckets', () => {
  it('puts a latency in the first bucket whose bound it does not exceed', () => {
    assert.equal(latencyBucketIndex(0), 0);
    assert.equal(latencyBucketIndex(25), 0);
    assert.equal(latencyBucketIndex(26), 1);
    assert.equal(latencyBucketIndex(102_400), LATENCY_BUCKET_BOUNDS_MS.length - 1);
    assert.equal(latencyBucketIndex(102_401), LATENCY_BUCKET_BOUNDS_MS.length);
    assert.equal(LATENCY_BUCKET_COLUMNS.length, LATENCY_BUCKET_COUNT);
  });

  it('estimates percentiles by interpolating inside the bucket', () => {
    const counts = Array(LATENCY_BUCKET_COUNT).fill(0);
    counts[4] = 100; // (200, 400]
    assert.equal(estimatePercentile(counts, 50), 300);
    assert.equal(estimatePercentile(counts, 0), 200);
    assert.equal(estimatePercentile(counts, 100), 400);
    counts[0] = 100; // (0, 25]
    assert.equal(estimatePercentile(counts, 25), 13);
    assert.equal(estimatePercentile(counts, 75), 300);
  });

  it('reports the last bound for latencies above it, and null without samples', () => {
    const counts = Array(LATENCY_BUCKET_COUNT).fill(0);
    assert.equal(estimatePercentile(counts, 50), null);
    counts[LATENCY_BUCKET_COUNT - 1] = 3;
    assert.equal(estimatePercentile(counts, 99), 102_400);
  });
});
