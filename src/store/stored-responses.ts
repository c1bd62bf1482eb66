import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { yieldToEventLoop } from './yield.ts';

/**
 * Stored responses of the Responses API (docs/responses.md): written once when an answer completes, read by
 * id within one tenant, deleted by their tenant or when they expire. An expired row is never returned, even
 * before retention has pruned it.
 */
export interface StoredResponseRow {
  id: string;
  tenantId: string;
  /** JSON text of the internal messages. */
  messages: string;
  /** JSON text of the Response object. */
  response: string;
  createdAt: number;
  expiresAt: number;
}

export async function insertStoredResponse(db: Kysely<Database>, row: StoredResponseRow): Promise<void> {
  await db
    .insertInto('stored_response')
    .values({
      id: row.id,
      tenant_id: row.tenantId,
      messages: row.messages,
      response: row.response,
      created_at: row.createdAt,
      expires_at: row.expiresAt,
    })
    // A response id is written once; a retried write is not an error.
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
}

/** The tenant's stored response of this id, unless it has expired (at `now`, ms epoch). */
export async function selectStoredResponse(
  db: Kysely<Database>,
  tenantId: string,
  id: string,
  now: number,
): Promise<StoredResponseRow | undefined> {
  const row = await db
    .selectFrom('stored_response')
    .selectAll()
    .where('id', '=', id)
    .where('tenant_id', '=', tenantId)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    id: row.id,
    tenantId: row.tenant_id,
    messages: row.messages,
    response: row.response,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
  };
}

/** Deletes the tenant's stored response of this id; false when there was none (or it had expired). */
export async function deleteStoredResponse(
  db: Kysely<Database>,
  tenantId: string,
  id: string,
  now: number,
): Promise<boolean> {
  const result = await db
    .deleteFrom('stored_response')
    .where('id', '=', id)
    .where('tenant_id', '=', tenantId)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** Rows per DELETE, as in usage-prune.ts: each statement stays short. */
const ROWS_PER_DELETE = 500;

/** Retention: deletes rows that expired at or before `now` (ms epoch); returns how many. */
export async function pruneStoredResponses(db: Kysely<Database>, now: number): Promise<number> {
  let total = 0;
  for (;;) {
    await yieldToEventLoop();
    const result = await db
      .deleteFrom('stored_response')
      .where('id', 'in', (eb) =>
        eb.selectFrom('stored_response').select('id').where('expires_at', '<=', now).limit(ROWS_PER_DELETE),
      )
      .executeTakeFirst();
    const deleted = Number(result.numDeletedRows);
    total += deleted;
    if (deleted < ROWS_PER_DELETE) return total;
  }
}
