import assert from 'node:assert/strict';
import { it } from 'node:test';
import { sql } from 'kysely';
import { LATENCY_BUCKET_BOUNDS_MS, LATENCY_BUCKET_COLUMNS } from '../../src/store/latency-buckets.ts';
import { USAGE_HOURLY_KEY_COLUMNS, USAGE_HOURLY_SUM_COLUMNS } from '../../src/store/schema.ts';
import { type UsageRecord, writeUsageBatch } from '../../src/store/usage.ts';
import { findUsageRecord, queryRecentRequests } from '../../src/store/usage-queries.ts';
import { forEachDatabase } from '../helpers/databases.ts';
import {
  breakTable,
  makeRecord,
  randomRecords,
  rawTotals,
  restoreTable,
  rollupTotals,
  sumCost,
  uniqueId,
} from './support.ts';

forEachDatabase('usage batch writes', (suite) => {
  it('stores every field and reads it back exactly', async () => {
    const { db } = suite.getStore();
    const tenantId = uniqueId('tenant');
    const full = makeRecord({
      tenantId,
      protocol: 'anthropic-messages',
      routerScore: 0.123456789012345,
      stream: true,
      inputTokens: 2_000_000_000,
      cachedInputTokens: 1_500_000_000,
      cacheWriteTokens: 7,
      outputTokens: 65_536,
      reasoningTokens: 4096,
      // ~$9M in nano-dollars: near the top of the exact range, must not drift.
      costNanoUsd: 9_007_199_254_740_991,
      latencyMs: 123_456,
      ttfbMs: 789,
      status: 200,
      attempts: 3,
    });
    const sparse = makeRecord({
      tenantId,
      at: full.at + 1,
      keyId: null,
      tier: null,
      preset: null,
      routerScore: null,
      chooser: null,
      modelId: null,
      providerId: null,
      providerKeyId: null,
      attempts: 0,
      inputTokens: 0,
      cachedInputTokens: 0,
      outputTokens: 0,
      costNanoUsd: 0,
      latencyMs: 1,
      ttfbMs: null,
      status: 401,
      errorCode: 'authentication_failed',
    });
    assert.deepEqual(await writeUsageBatch(db, [full, sparse]), { inserted: 2, duplicates: 0 });
    assert.deepEqual(await findUsageRecord(db, full.requestId), full);
    assert.deepEqual(await findUsageRecord(db, sparse.requestId), sparse);
    assert.deepEqual(await queryRecentRequests(db, { tenantId }), [sparse, full]);
  });

  it('interns repeated strings once and references them by id', async () => {
    const { store } = await suite.fresh();
    const records = Array.from({ length: 300 }, (_, i) =>
      makeRecord({ tenantId: `tenant-${i % 3}`, modelId: i % 2 ? 'model-x' : 'model-y' }),
    );
    await writeUsageBatch(store.db, records.slice(0, 150));
    await writeUsageBatch(store.db, records.slice(150));
    const expected = new Set<string>();
    for (const r of records) {
      for (const v of [
        r.tenantId,
        r.keyId,
        r.protocol,
        r.requestedModel,
        r.tier,
        r.preset,
        r.chooser,
        r.modelId,
        r.providerId,
        r.providerKeyId,
        r.errorCode,
      ]) {
        if (v !== null) expected.add(v);
      }
    }
    const dims = await store.db.selectFrom('usage_dim').select('value').execute();
    assert.deepEqual(dims.map((d) => d.value).sort(), [...expected].sort());
    // The raw row holds integers only: every string column of usage_record is an id.
    const row = await store.db.selectFrom('usage_record').selectAll().executeTakeFirstOrThrow();
    for (const [column, value] of Object.entries(row)) {
      if (column !== 'request_id') assert.notEqual(typeof value, 'string', column);
    }
  });

  it('interning is safe when two connections add the same new strings at once', async (t) => {
    if (suite.kind !== 'postgres') return t.skip('one SQLite connection per process');
    const database = await suite.fresh();
    const other = await database.reopen();
    const tenants = Array.from({ length: 50 }, (_, i) => `race-tenant-${i}`);
    const a = randomRecords(400, 1, tenants);
    const b = randomRecords(400, 2, [...tenants].reverse());
    await Promise.all([writeUsageBatch(database.store.db, a), writeUsageBatch(other.db, b)]);
    const dims = await database.store.db.selectFrom('usage_dim').select('value').execute();
    assert.equal(new Set(dims.map((d) => d.value)).size, dims.length);
    assert.deepEqual(await rawTotals(database.store.db), { rows: 800, cost: sumCost([...a, ...b]) });
    assert.deepEqual(await rollupTotals(database.store.db), { requests: 800, cost: sumCost([...a, ...b]) });
  });

  it('skips a record already stored and does not count it twice in the rollups', async () => {
    const { store } = await suite.fresh();
    const records = randomRecords(50, 7, ['t1', 't2']);
    assert.deepEqual(await writeUsageBatch(store.db, records), { inserted: 50, duplicates: 0 });
    const again = [...records.slice(0, 20), makeRecord({ requestId: records[0]?.requestId })];
    assert.deepEqual(await writeUsageBatch(store.db, again), { inserted: 0, duplicates: 21 });
    const extra = makeRecord();
    assert.deepEqual(await writeUsageBatch(store.db, [extra, extra]), { inserted: 1, duplicates: 1 });
    const all = [...records, extra];
    assert.deepEqual(await rawTotals(store.db), { rows: 51, cost: sumCost(all) });
    assert.deepEqual(await rollupTotals(store.db), { requests: 51, cost: sumCost(all) });
  });

  it('rollups equal the sums of the raw rows, column by column', async () => {
    const { store } = await suite.fresh();
    const records = randomRecords(2500, 42, ['t1', 't2', 't3']);
    for (let i = 0; i < records.length; i += 700) await writeUsageBatch(store.db, records.slice(i, i + 700));

    const raw = await store.db.selectFrom('usage_record').selectAll().execute();
    assert.equal(raw.length, records.length);
    const expected = new Map<string, Record<string, number>>();
    for (const r of raw) {
      const key = {
        hour_start: Math.floor(Number(r.at) / 3_600_000) * 3_600_000,
        tenant_id: r.tenant_id,
        model_id: r.model_id ?? 0,
        provider_id: r.provider_id ?? 0,
        tier_id: r.tier_id ?? 0,
        status_class: Math.floor(r.status / 100),
        error_code_id: r.error_code_id ?? 0,
      };
      const k = JSON.stringify(USAGE_HOURLY_KEY_COLUMNS.map((c) => key[c]));
      const sums = expected.get(k) ?? { ...key, ...zeroSums() };
      sums.requests = (sums.requests ?? 0) + 1;
      add(sums, 'attempts', r.attempts);
      add(sums, 'input_tokens', r.input_tokens);
      add(sums, 'cached_input_tokens', r.cached_input_tokens);
      add(sums, 'cache_write_tokens', r.cache_write_tokens);
      add(sums, 'output_tokens', r.output_tokens);
      add(sums, 'reasoning_tokens', r.reasoning_tokens);
      add(sums, 'cost_nano_usd', Number(r.cost_nano_usd));
      add(sums, 'latency_ms_sum', r.latency_ms);
      if (r.ttfb_ms !== null) {
        add(sums, 'ttfb_ms_sum', r.ttfb_ms);
        add(sums, 'ttfb_count', 1);
      }
      const bucket = LATENCY_BUCKET_BOUNDS_MS.findIndex((bound) => r.latency_ms <= bound);
      add(sums, `lat_b${bucket === -1 ? LATENCY_BUCKET_BOUNDS_MS.length : bucket}`, 1);
      expected.set(k, sums);
    }

    const rollups = await store.db.selectFrom('usage_hourly').selectAll().execute();
    const actual = new Map(
      rollups.map((row) => [
        JSON.stringify(USAGE_HOURLY_KEY_COLUMNS.map((c) => Number(row[c]))),
        Object.fromEntries(Object.entries(row).map(([c, v]) => [c, Number(v)])),
      ]),
    );
    assert.equal(actual.size, expected.size);
    assert.deepEqual(actual, expected);
  });

  it('writes raw rows and rollups in one transaction: a failing rollup leaves no raw row', async () => {
    const { store } = await suite.fresh();
    await breakTable(store.db, 'usage_hourly');
    await assert.rejects(writeUsageBatch(store.db, randomRecords(30, 3, ['t1'])));
    await restoreTable(store.db, 'usage_hourly');
    assert.deepEqual(await rawTotals(store.db), { rows: 0, cost: 0 });
    assert.deepEqual(await rollupTotals(store.db), { requests: 0, cost: 0 });
  });

  it('stores malformed records instead of failing their whole batch', async () => {
    const { store } = await suite.fresh();
    const good = makeRecord();
    const bad = {
      ...makeRecord({ tenantId: 'nul\u0000tenant', requestedModel: 'm'.repeat(5000) }),
      inputTokens: Number.NaN,
      outputTokens: 1.6,
      costNanoUsd: 10.4,
      latencyMs: -5,
      attempts: 1e9,
      ttfbMs: undefined,
    } as unknown as UsageRecord;
    assert.deepEqual(await writeUsageBatch(store.db, [good, bad]), { inserted: 2, duplicates: 0 });
    const stored = await findUsageRecord(store.db, bad.requestId);
    assert.ok(stored);
    assert.equal(stored.tenantId, 'nultenant');
    assert.equal(stored.requestedModel.length, 200);
    assert.equal(stored.inputTokens, 0);
    assert.equal(stored.outputTokens, 2);
    assert.equal(stored.costNanoUsd, 10);
    assert.equal(stored.latencyMs, 0);
    assert.equal(stored.attempts, 32_767);
    assert.equal(stored.ttfbMs, null);
    assert.deepEqual(await findUsageRecord(store.db, good.requestId), good);
  });

  it('writes batches larger than one statement', async () => {
    const { store } = await suite.fresh();
    const records = randomRecords(1234, 9, ['t1', 't2']);
    assert.deepEqual(await writeUsageBatch(store.db, records), { inserted: 1234, duplicates: 0 });
    assert.deepEqual(await rawTotals(store.db), { rows: 1234, cost: sumCost(records) });
    const n = await sql<{ n: number }>`select count(*) as n from usage_record`.execute(store.db);
    assert.equal(Number(n.rows[0]?.n), 1234);
  });
});

function zeroSums(): Record<string, number> {
  return Object.fromEntries([...USAGE_HOURLY_SUM_COLUMNS, ...LATENCY_BUCKET_COLUMNS].map((c) => [c, 0]));
}

function add(sums: Record<string, number>, column: string, value: number): void {
  sums[column] = (sums[column] ?? 0) + value;
}
