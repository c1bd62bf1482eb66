import { type Kysely, sql } from 'kysely';
import { findDimId } from '../store/interning.ts';
import type { Database } from '../store/schema.ts';
import { toSafeInt } from '../store/usage.ts';

/**
 * A key's metered spend since `since` (ms), in nano-dollars, from the stored usage records (index
 * usage_record_key_at). Records pruned by usage.retentionDays are no longer counted: a `total` quota older
 * than the retention counts only what is kept.
 */
export async function storedSpendSince(db: Kysely<Database>, keyId: string, since: number): Promise<number> {
  const dim = await findDimId(db, keyId);
  if (dim === undefined) return 0;
  const row = await db
    .selectFrom('usage_record')
    .select(sql<number | string | null>`sum(cost_nano_usd)`.as('spent'))
    .where('key_id', '=', dim)
    .where('at', '>=', since)
    .executeTakeFirst();
  return row?.spent == null ? 0 : toSafeInt(row.spent);
}
