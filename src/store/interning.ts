import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

/**
 * Repeated strings (tenant, key, model, provider, tier, error code, ...) are stored once in `usage_dim`
 * and referenced by small integer ids, so a usage row carries no repeated text. Ids are cached in memory
 * per database handle: dim rows are never updated or deleted, so a cached id never goes stale.
 *
 * Concurrency-safe on PostgreSQL without a transaction: `insert ... on conflict do nothing` either inserts
 * or waits for the concurrent inserter of the same value to commit, and the select that follows (a new
 * snapshot per statement under READ COMMITTED) then sees the committed row. Values are inserted in sorted
 * order so two writers never lock the same pair of values in opposite orders.
 */

/** Bounded so a flood of distinct values (e.g. many keys) cannot grow memory forever; refilled on demand. */
const MAX_CACHED = 100_000;
const CHUNK = 500;

interface DimCache {
  byValue: Map<string, number>;
  byId: Map<number, string>;
}

const caches = new WeakMap<Kysely<Database>, DimCache>();

function cacheOf(db: Kysely<Database>): DimCache {
  let cache = caches.get(db);
  if (!cache) {
    cache = { byValue: new Map(), byId: new Map() };
    caches.set(db, cache);
  }
  return cache;
}

function remember(cache: DimCache, value: string, id: number): void {
  if (cache.byValue.size >= MAX_CACHED) {
    cache.byValue.clear();
    cache.byId.clear();
  }
  cache.byValue.set(value, id);
  cache.byId.set(id, value);
}

/** Returns the id of every value, creating the missing ones. */
export async function internStrings(db: Kysely<Database>, values: Iterable<string>): Promise<Map<string, number>> {
  const cache = cacheOf(db);
  const out = new Map<string, number>();
  const missing = new Set<string>();
  for (const value of values) {
    const id = cache.byValue.get(value);
    if (id !== undefined) out.set(value, id);
    else missing.add(value);
  }
  const sorted = [...missing].sort();
  for (let i = 0; i < sorted.length; i += CHUNK) {
    const chunk = sorted.slice(i, i + CHUNK);
    await db
      .insertInto('usage_dim')
      .values(chunk.map((value) => ({ value })))
      .onConflict((oc) => oc.column('value').doNothing())
      .execute();
    const rows = await db.selectFrom('usage_dim').select(['id', 'value']).where('value', 'in', chunk).execute();
    for (const row of rows) {
      remember(cache, row.value, row.id);
      out.set(row.value, row.id);
    }
  }
  for (const value of missing) {
    if (!out.has(value)) throw new Error('usage_dim: an interned value was not found after insert');
  }
  return out;
}

/** The id of a value without creating it; undefined when the value was never recorded. */
export async function findDimId(db: Kysely<Database>, value: string): Promise<number | undefined> {
  const cache = cacheOf(db);
  const cached = cache.byValue.get(value);
  if (cached !== undefined) return cached;
  const row = await db.selectFrom('usage_dim').select('id').where('value', '=', value).executeTakeFirst();
  if (row) remember(cache, value, row.id);
  return row?.id;
}

/** The strings behind ids (0 and unknown ids are left out). */
export async function resolveDimIds(db: Kysely<Database>, ids: Iterable<number>): Promise<Map<number, string>> {
  const cache = cacheOf(db);
  const out = new Map<number, string>();
  const missing = new Set<number>();
  for (const id of ids) {
    if (id === 0) continue;
    const value = cache.byId.get(id);
    if (value !== undefined) out.set(id, value);
    else missing.add(id);
  }
  const list = [...missing];
  for (let i = 0; i < list.length; i += CHUNK) {
    const chunk = list.slice(i, i + CHUNK);
    const rows = await db.selectFrom('usage_dim').select(['id', 'value']).where('id', 'in', chunk).execute();
    for (const row of rows) {
      remember(cache, row.value, row.id);
      out.set(row.id, row.value);
    }
  }
  return out;
}
