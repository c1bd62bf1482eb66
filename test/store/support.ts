import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../../src/store/schema.ts';
import type { UsageRecord } from '../../src/store/usage.ts';

/** Shared by the storage tests (not a test file itself). */

let sequence = 0;

export function uniqueId(prefix: string): string {
  return `${prefix}-${process.pid}-${++sequence}-${Math.random().toString(36).slice(2, 8)}`;
}

export function makeRecord(overrides: Partial<UsageRecord> = {}): UsageRecord {
  return {
    requestId: uniqueId('req'),
    at: Date.UTC(2026, 0, 15, 10, 30, 0),
    tenantId: 'tenant-a',
    keyId: 'key-1',
    protocol: 'openai-chat',
    requestedModel: 'auto',
    tier: 'fast',
    preset: 'default',
    routerScore: 0.25,
    chooser: 'rules',
    modelId: 'gpt-4.1-mini',
    providerId: 'openai',
    providerKeyId: 'openai-key-1',
    attempts: 1,
    stream: false,
    inputTokens: 100,
    cachedInputTokens: 20,
    cacheWriteTokens: 0,
    outputTokens: 50,
    reasoningTokens: 0,
    costNanoUsd: 123_456,
    latencyMs: 420,
    ttfbMs: 180,
    status: 200,
    errorCode: null,
    ...overrides,
  };
}

/**
 * The usage record of a billed request that completed now (the billing tests' recovery and sweep cases): no key,
 * the `fast` tier on `up/m`, 10 + 10 tokens, charged `costNanoUsd`.
 */
export function chargedRecord(requestId: string, tenantId: string, costNanoUsd: number): UsageRecord {
  return makeRecord({
    requestId,
    at: Date.now(),
    tenantId,
    keyId: null,
    requestedModel: 'fast',
    preset: null,
    routerScore: null,
    chooser: null,
    modelId: 'up/m',
    providerId: 'up',
    providerKeyId: null,
    inputTokens: 10,
    cachedInputTokens: 0,
    outputTokens: 10,
    costNanoUsd,
    latencyMs: 5,
    ttfbMs: 2,
  });
}

/** Deterministic pseudo-random numbers (mulberry32), so a failing case can be replayed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Varied records over a few tenants, models, tiers, hours and outcomes. */
export function randomRecords(count: number, seed: number, tenants: readonly string[]): UsageRecord[] {
  const random = seeded(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const base = Date.UTC(2026, 1, 1, 0, 0, 0);
  return Array.from({ length: count }, () => {
    const status = pick([200, 200, 200, 200, 400, 429, 502, 504]);
    const failedEarly = status === 400;
    return makeRecord({
      at: base + Math.floor(random() * 3 * 24 * 3_600_000),
      tenantId: pick(tenants),
      keyId: pick(['k1', 'k2', null]),
      protocol: pick(['openai-chat', 'anthropic-messages'] as const),
      requestedModel: pick(['auto', 'fast', 'deep', 'gpt-4.1']),
      tier: pick(['utility', 'fast', 'deep', null]),
      preset: pick(['default', null]),
      routerScore: random() < 0.5 ? null : random(),
      chooser: pick(['rules', 'classifier', null]),
      modelId: failedEarly ? null : pick(['gpt-4.1', 'claude-sonnet-4', 'gemini-2.5-flash']),
      providerId: failedEarly ? null : pick(['openai', 'anthropic', 'gemini']),
      providerKeyId: failedEarly ? null : pick(['pk1', 'pk2']),
      attempts: 1 + Math.floor(random() * 3),
      stream: random() < 0.5,
      inputTokens: Math.floor(random() * 20_000),
      cachedInputTokens: Math.floor(random() * 1000),
      cacheWriteTokens: Math.floor(random() * 500),
      outputTokens: Math.floor(random() * 4000),
      reasoningTokens: Math.floor(random() * 1000),
      costNanoUsd: Math.floor(random() * 50_000_000),
      latencyMs: Math.floor(random() ** 3 * 150_000),
      ttfbMs: random() < 0.3 ? null : Math.floor(random() * 5000),
      status,
      errorCode: status === 200 ? null : pick(['rate_limited', 'provider_unavailable', 'timeout']),
    });
  });
}

export async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Count and exact cost of the raw rows (optionally of one tenant), straight from SQL. */
export async function rawTotals(db: Kysely<Database>, tenantId?: string): Promise<{ rows: number; cost: number }> {
  let query = db
    .selectFrom('usage_record')
    .select([
      sql<number>`count(*)`.as('rows'),
      sql<number | null>`cast(sum(${sql.ref('usage_record.cost_nano_usd')}) as bigint)`.as('cost'),
    ]);
  if (tenantId !== undefined) {
    query = query.where('tenant_id', 'in', (eb) =>
      eb.selectFrom('usage_dim').select('id').where('value', '=', tenantId),
    );
  }
  const row = await query.executeTakeFirstOrThrow();
  return { rows: Number(row.rows), cost: row.cost === null ? 0 : Number(row.cost) };
}

/** Total requests and cost in the rollups. */
export async function rollupTotals(db: Kysely<Database>): Promise<{ requests: number; cost: number }> {
  const row = await db
    .selectFrom('usage_hourly')
    .select([
      sql<number | null>`cast(sum(${sql.ref('requests')}) as bigint)`.as('requests'),
      sql<number | null>`cast(sum(${sql.ref('cost_nano_usd')}) as bigint)`.as('cost'),
    ])
    .executeTakeFirstOrThrow();
  return { requests: Number(row.requests ?? 0), cost: Number(row.cost ?? 0) };
}

export function sumCost(records: readonly UsageRecord[]): number {
  return records.reduce((total, r) => total + r.costNanoUsd, 0);
}

/** Makes writes of a table fail (as a broken database would) until restoreTable. */
export async function breakTable(db: Kysely<Database>, table: 'usage_record' | 'usage_hourly'): Promise<void> {
  await sql`alter table ${sql.table(table)} rename to ${sql.table(`${table}_broken`)}`.execute(db);
}

export async function restoreTable(db: Kysely<Database>, table: 'usage_record' | 'usage_hourly'): Promise<void> {
  await sql`alter table ${sql.table(`${table}_broken`)} rename to ${sql.table(table)}`.execute(db);
}

/** The lines of the usage journal's segments in a data folder (usage-journal.ts), segment by segment. */
export function journalLines(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((name) => name.startsWith('usage-journal-') && name.endsWith('.jsonl'))
    .sort()
    .flatMap((name) => readFileSync(join(dir, name), 'utf8').split('\n'))
    .filter((line) => line !== '');
}

/** The request ids of the records in the usage journal of a data folder. */
export function journaledRequestIds(dir: string): string[] {
  return journalLines(dir).map((line) => (JSON.parse(line) as { requestId: string }).requestId);
}
