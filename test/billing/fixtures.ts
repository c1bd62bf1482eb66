import { sql } from 'kysely';
import type { Store } from '../../src/store/db.ts';

/** Tenants with an empty account each, written straight to the tables (as another process would have). */
export async function openAccounts(store: Store, ids: readonly string[]): Promise<void> {
  for (const id of ids) {
    await store.db
      .insertInto('tenant')
      .values({ id, name: id, links_valid_after: 0, created_at: 0, updated_at: 0 })
      .execute();
    await store.db
      .insertInto('account')
      .values({ tenant_id: id, plan_id: null, balance_nano: 0, held_nano: 0, created_at: 0 })
      .execute();
  }
}

/** The balance and amount held as the ledger's entries sum them (what `ledger verify` checks the cache against). */
export async function entrySums(store: Store, tenantId: string): Promise<{ balance: number; held: number }> {
  const row = await store.db
    .selectFrom('ledger_entry')
    .select([sql<string>`coalesce(sum(amount_nano), 0)`.as('b'), sql<string>`coalesce(sum(held_nano), 0)`.as('h')])
    .where('tenant_id', '=', tenantId)
    .executeTakeFirstOrThrow();
  return { balance: Number(row.b), held: Number(row.h) };
}
