import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { yieldToEventLoop } from './yield.ts';

/** Rows per DELETE: each statement stays short, so SQLite never blocks the event loop for long. */
const ROWS_PER_DELETE = 2000;

/**
 * Retention: deletes raw usage rows with `at` before `olderThanMs` (ms epoch). The hourly rollups and
 * interned strings are kept, so dashboards keep their history. Returns the number of rows deleted.
 */
export async function pruneUsage(db: Kysely<Database>, olderThanMs: number): Promise<number> {
  let total = 0;
  for (;;) {
    await yieldToEventLoop();
    const result = await db
      .deleteFrom('usage_record')
      .where('id', 'in', (eb) =>
        eb.selectFrom('usage_record').select('id').where('at', '<', olderThanMs).limit(ROWS_PER_DELETE),
      )
      .executeTakeFirst();
    const deleted = Number(result.numDeletedRows);
    total += deleted;
    if (deleted < ROWS_PER_DELETE) return total;
  }
}
