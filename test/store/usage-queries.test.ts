import assert from 'node:assert/strict';
import { before, it } from 'node:test';
import type { Kysely } from 'kysely';
import type { Database } from '../../src/store/schema.ts';
import { type UsageRecord, writeUsageBatch } from '../../src/store/usage.ts';
import {
  queryBreakdown,
  queryLatencyPercentiles,
  queryRecentRequests,
  querySpendOverTime,
  queryTopTenants,
} from '../../src/store/usage-queries.ts';
import { emptyTotals, sumTotals } from '../../src/store/usage-totals.ts';
import { forEachDatabase } from '../helpers/databases.ts';
import { makeRecord } from './support.ts';

const MIN = 60_000;
const H0 = Date.UTC(2026, 2, 1, 10); // 2026-03-01 10:00Z
const H1 = Date.UTC(2026, 2, 1, 11);
const D2 = Date.UTC(2026, 2, 2, 9);
const DAY1 = Date.UTC(2026, 2, 1);
const DAY2 = Date.UTC(2026, 2, 2);
const ALL = { from: DAY1, to: Date.UTC(2026, 2, 3) };

const ok = (r: Partial<UsageRecord>): UsageRecord => makeRecord({ status: 200, errorCode: null, ...r });

// Known data: two tenants over three hours of two days.
const R = {
  a1: ok({
    tenantId: 'qa',
    at: H0 + 5 * MIN,
    modelId: 'm1',
    providerId: 'p1',
    tier: 'fast',
    costNanoUsd: 1000,
    inputTokens: 10,
    outputTokens: 5,
    latencyMs: 100,
  }),
  a2: ok({
    tenantId: 'qa',
    at: H0 + 10 * MIN,
    modelId: 'm1',
    providerId: 'p1',
    tier: 'fast',
    costNanoUsd: 2000,
    inputTokens: 20,
    outputTokens: 10,
    latencyMs: 300,
  }),
  a3: ok({
    tenantId: 'qa',
    at: H1 + 1 * MIN,
    modelId: 'm2',
    providerId: 'p2',
    tier: 'deep',
    costNanoUsd: 5000,
    inputTokens: 100,
    outputTokens: 50,
    latencyMs: 1000,
  }),
  a4: makeRecord({
    tenantId: 'qa',
    at: H1 + 2 * MIN,
    modelId: 'm2',
    providerId: 'p2',
    tier: 'deep',
    costNanoUsd: 0,
    inputTokens: 0,
    outputTokens: 0,
    latencyMs: 50,
    status: 502,
    errorCode: 'provider_unavailable',
  }),
  a5: ok({
    tenantId: 'qa',
    at: D2,
    modelId: 'm1',
    providerId: 'p1',
    tier: 'fast',
    costNanoUsd: 700,
    inputTokens: 7,
    outputTokens: 3,
    latencyMs: 150,
  }),
  b1: ok({
    tenantId: 'qb',
    at: H0 + 1,
    modelId: 'm2',
    providerId: 'p2',
    tier: 'deep',
    costNanoUsd: 9000,
    inputTokens: 90,
    outputTokens: 40,
    latencyMs: 2000,
  }),
  b2: makeRecord({
    tenantId: 'qb',
    at: H0 + 2,
    modelId: null,
    providerId: null,
    tier: null,
    costNanoUsd: 0,
    inputTokens: 0,
    outputTokens: 0,
    latencyMs: 3,
    status: 400,
    errorCode: 'invalid_request',
  }),
};

forEachDatabase('usage queries', (suite) => {
  let db: Kysely<Database>;

  before(async () => {
    db = (await suite.fresh()).store.db;
    await writeUsageBatch(db, Object.values(R));
  });

  it('spend over time per hour, for one tenant', async () => {
    const points = await querySpendOverTime(db, { ...ALL, tenantId: 'qa', bucket: 'hour' });
    assert.deepEqual(
      points.map((p) => [p.start, p.requests, p.errors, p.costNanoUsd, p.inputTokens, p.outputTokens]),
      [
        [H0, 2, 0, 3000, 30, 15],
        [H1, 2, 1, 5000, 100, 50],
        [D2, 1, 0, 700, 7, 3],
      ],
    );
    assert.equal(points[0]?.avgLatencyMs, 200);
  });

  it('spend over time per UTC day, all tenants', async () => {
    const points = await querySpendOverTime(db, { ...ALL, bucket: 'day' });
    assert.deepEqual(
      points.map((p) => [p.start, p.requests, p.errors, p.costNanoUsd]),
      [
        [DAY1, 6, 2, 17_000],
        [DAY2, 1, 0, 700],
      ],
    );
  });

  it('ranges are hour-aligned: from is floored to its hour, to is exclusive', async () => {
    const points = await querySpendOverTime(db, { from: H1 + 30 * MIN, to: D2, tenantId: 'qa', bucket: 'hour' });
    assert.deepEqual(
      points.map((p) => [p.start, p.requests]),
      [[H1, 2]],
    );
  });

  it('breakdown by model, provider and tier, most expensive first', async () => {
    const byModel = await queryBreakdown(db, { ...ALL, by: 'model' });
    assert.deepEqual(
      byModel.map((r) => [r.key, r.requests, r.errors, r.costNanoUsd]),
      [
        ['m2', 3, 1, 14_000],
        ['m1', 3, 0, 3700],
        [null, 1, 1, 0],
      ],
    );
    const byProvider = await queryBreakdown(db, { ...ALL, by: 'provider', tenantId: 'qa' });
    assert.deepEqual(
      byProvider.map((r) => [r.key, r.requests, r.costNanoUsd]),
      [
        ['p2', 2, 5000],
        ['p1', 3, 3700],
      ],
    );
    const byTier = await queryBreakdown(db, { ...ALL, by: 'tier' });
    assert.deepEqual(
      byTier.map((r) => [r.key, r.requests, r.costNanoUsd]),
      [
        ['deep', 3, 14_000],
        ['fast', 3, 3700],
        [null, 1, 0],
      ],
    );
  });

  it('top tenants by spend, with a limit', async () => {
    const top = await queryTopTenants(db, ALL);
    assert.deepEqual(
      top.map((t) => [t.tenantId, t.requests, t.errors, t.costNanoUsd]),
      [
        ['qb', 2, 1, 9000],
        ['qa', 5, 1, 8700],
      ],
    );
    assert.deepEqual(
      (await queryTopTenants(db, { ...ALL, limit: 1 })).map((t) => t.tenantId),
      ['qb'],
    );
  });

  it('latency percentiles from the rollup histograms', async () => {
    // qa's successes: 100, 150, 300, 1000 ms, in buckets (50,100], (100,200], (200,400], (800,1600].
    const qa = await queryLatencyPercentiles(db, { ...ALL, tenantId: 'qa', percentiles: [25, 50, 100] });
    assert.equal(qa.count, 4);
    assert.equal(qa.meanMs, 387.5);
    assert.deepEqual(qa.percentiles, [
      { p: 25, ms: 100 },
      { p: 50, ms: 200 },
      { p: 100, ms: 1600 },
    ]);
    assert.deepEqual(qa.buckets, [0, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0]);

    const withErrors = await queryLatencyPercentiles(db, { ...ALL, tenantId: 'qa', successOnly: false });
    assert.equal(withErrors.count, 5);
    const m1 = await queryLatencyPercentiles(db, { ...ALL, tenantId: 'qa', modelId: 'm1' });
    assert.equal(m1.count, 3);
  });

  it('recent requests of one tenant, newest first, from the raw rows', async () => {
    assert.deepEqual(await queryRecentRequests(db, { tenantId: 'qa', limit: 2 }), [R.a5, R.a4]);
    assert.deepEqual(await queryRecentRequests(db, { tenantId: 'qa', limit: 2, before: D2 }), [R.a4, R.a3]);
    assert.deepEqual(await queryRecentRequests(db, { tenantId: 'qb' }), [R.b2, R.b1]);
  });

  it('every counter of the records reaches the totals; sums of totals agree with the database', async () => {
    const day = Date.UTC(2026, 3, 1); // outside ALL: the other cases do not see these records
    const hour = 3_600_000;
    await writeUsageBatch(db, [
      ok({
        tenantId: 'qt',
        at: day + hour,
        attempts: 1,
        inputTokens: 11,
        cachedInputTokens: 3,
        cacheWriteTokens: 5,
        outputTokens: 7,
        reasoningTokens: 2,
        costNanoUsd: 1000,
        latencyMs: 100,
      }),
      makeRecord({
        tenantId: 'qt',
        at: day + 2 * hour,
        attempts: 3,
        inputTokens: 20,
        cachedInputTokens: 4,
        cacheWriteTokens: 6,
        outputTokens: 9,
        reasoningTokens: 1,
        costNanoUsd: 500,
        latencyMs: 300,
        status: 502,
        errorCode: 'provider_unavailable',
      }),
    ]);
    const expected = {
      requests: 2,
      errors: 1,
      attempts: 4,
      inputTokens: 31,
      cachedInputTokens: 7,
      cacheWriteTokens: 11,
      outputTokens: 16,
      reasoningTokens: 3,
      costNanoUsd: 1500,
      latencyMsSum: 400,
      avgLatencyMs: 200,
    };
    const range = { from: day, to: day + 24 * hour, tenantId: 'qt' };
    assert.deepEqual(await querySpendOverTime(db, { ...range, bucket: 'day' }), [{ start: day, ...expected }]);
    const hours = await querySpendOverTime(db, { ...range, bucket: 'hour' });
    assert.equal(hours.length, 2);
    assert.deepEqual(sumTotals(hours), expected, 'the hours add up to the day');
    assert.deepEqual(sumTotals([]), emptyTotals());
    assert.deepEqual(emptyTotals(), Object.fromEntries(Object.keys(expected).map((total) => [total, 0])));
  });

  it('an unknown tenant or model has no figures', async () => {
    assert.deepEqual(await querySpendOverTime(db, { ...ALL, tenantId: 'nobody', bucket: 'day' }), []);
    assert.deepEqual(await queryBreakdown(db, { ...ALL, tenantId: 'nobody', by: 'model' }), []);
    assert.deepEqual(await queryRecentRequests(db, { tenantId: 'nobody' }), []);
    const none = await queryLatencyPercentiles(db, { ...ALL, modelId: 'no-model', percentiles: [50] });
    assert.deepEqual(none, { count: 0, meanMs: null, percentiles: [{ p: 50, ms: null }], buckets: Array(14).fill(0) });
    assert.deepEqual(await queryTopTenants(db, { from: 0, to: DAY1 }), []);
  });
});
