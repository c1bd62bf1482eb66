import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../src/store/schema.ts';
import { sha256Hex } from '../../src/tenancy/auth.ts';
import { MANAGED_KEY_PREFIX } from '../../src/tenancy/managed-keys.ts';

/**
 * Many managed keys, fast: multi-row inserts inside one transaction, straight into the tables (no settings
 * version bump per key). Keys are derived from their index, so a bench or test can use key `i` without
 * keeping a million secrets around: `seededKey(i)`. Tenants are `seed-t<j>`, keys spread round-robin.
 */
export function seededKey(i: number): string {
  return `${MANAGED_KEY_PREFIX}${createHash('sha256').update(`modro-seeded-key:${i}`).digest('base64url')}`;
}

export function seededKeyId(i: number): string {
  return `key_seed_${i}`;
}

export function seededTenantOf(i: number, tenants: number): string {
  return `seed-t${i % tenants}`;
}

/** Rows per INSERT: 6 parameters a key, well under SQLite's and PostgreSQL's parameter limits. */
const BATCH = 2_000;

export async function seedManagedKeys(
  db: Kysely<Database>,
  options: { keys: number; tenants: number; start?: number; onProgress?: (done: number) => void },
): Promise<void> {
  const start = options.start ?? 0;
  const now = Date.now();
  await db.transaction().execute(async (trx) => {
    for (let j = 0; j < options.tenants; j += BATCH) {
      const rows = [];
      for (let t = j; t < Math.min(options.tenants, j + BATCH); t++) {
        rows.push({ id: `seed-t${t}`, name: `Seed ${t}`, links_valid_after: 0, created_at: now, updated_at: now });
      }
      await trx
        .insertInto('tenant')
        .values(rows)
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
    }
    for (let i = start; i < start + options.keys; i += BATCH) {
      const rows = [];
      for (let k = i; k < Math.min(start + options.keys, i + BATCH); k++) {
        const key = seededKey(k);
        rows.push({
          id: seededKeyId(k),
          tenant_id: seededTenantOf(k, options.tenants),
          name: `seed ${k}`,
          prefix: key.slice(0, 13),
          hash: sha256Hex(key),
          created_at: now,
        });
      }
      await trx.insertInto('api_key').values(rows).execute();
      options.onProgress?.(Math.min(options.keys, i + BATCH - start));
    }
  });
}
