import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { yieldToEventLoop } from './yield.ts';

/**
 * Rows of idempotency keys (src/idempotency/, decision 0035). Every statement touches one row by its primary
 * key (tenant, key), so each is a point read or write; the primary key is what makes a key taken once across
 * processes.
 */
export interface IdempotencyRow {
  fingerprint: string;
  owner: string;
  status: number | null;
  headers: string | null;
  body: string | null;
  lockedUntil: number | null;
  expiresAt: number;
}

/** Takes the key if nobody holds it: true when this call inserted the row. */
export async function insertIdempotencyKey(
  db: Kysely<Database>,
  row: {
    tenantId: string;
    key: string;
    fingerprint: string;
    owner: string;
    now: number;
    lockMs: number;
    ttlMs: number;
  },
): Promise<boolean> {
  const inserted = await db
    .insertInto('idempotency_key')
    .values({
      tenant_id: row.tenantId,
      key: row.key,
      fingerprint: row.fingerprint,
      owner: row.owner,
      status: null,
      headers: null,
      body: null,
      locked_until: row.now + row.lockMs,
      created_at: row.now,
      expires_at: row.now + row.ttlMs,
    })
    .onConflict((oc) => oc.columns(['tenant_id', 'key']).doNothing())
    .returning('owner')
    .executeTakeFirst();
  return inserted !== undefined;
}

export async function selectIdempotencyKey(
  db: Kysely<Database>,
  tenantId: string,
  key: string,
): Promise<IdempotencyRow | undefined> {
  const row = await db
    .selectFrom('idempotency_key')
    .select(['fingerprint', 'owner', 'status', 'headers', 'body', 'locked_until', 'expires_at'])
    .where('tenant_id', '=', tenantId)
    .where('key', '=', key)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    fingerprint: row.fingerprint,
    owner: row.owner,
    status: row.status === null ? null : Number(row.status),
    headers: row.headers,
    body: row.body,
    lockedUntil: row.locked_until === null ? null : Number(row.locked_until),
    expiresAt: Number(row.expires_at),
  };
}

/**
 * Takes over a key whose row is dead: expired, or in progress past its lock (the process that took it died).
 * Conditional on the row still being what the caller read (its owner), so two takers cannot both win.
 */
export async function takeOverIdempotencyKey(
  db: Kysely<Database>,
  row: {
    tenantId: string;
    key: string;
    previousOwner: string;
    fingerprint: string;
    owner: string;
    now: number;
    lockMs: number;
    ttlMs: number;
  },
): Promise<boolean> {
  const result = await db
    .updateTable('idempotency_key')
    .set({
      fingerprint: row.fingerprint,
      owner: row.owner,
      status: null,
      headers: null,
      body: null,
      locked_until: row.now + row.lockMs,
      created_at: row.now,
      expires_at: row.now + row.ttlMs,
    })
    .where('tenant_id', '=', row.tenantId)
    .where('key', '=', row.key)
    .where('owner', '=', row.previousOwner)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Stores the final response of the request holding the key; false when it no longer holds it. */
export async function completeIdempotencyKey(
  db: Kysely<Database>,
  row: { tenantId: string; key: string; owner: string; status: number; headers: string; body: string },
): Promise<boolean> {
  const result = await db
    .updateTable('idempotency_key')
    .set({ status: row.status, headers: row.headers, body: row.body, locked_until: null })
    .where('tenant_id', '=', row.tenantId)
    .where('key', '=', row.key)
    .where('owner', '=', row.owner)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Gives the key up (the request failed in a way a retry may fix): the next request with it runs anew. */
export async function releaseIdempotencyKey(
  db: Kysely<Database>,
  row: { tenantId: string; key: string; owner: string },
): Promise<void> {
  await db
    .deleteFrom('idempotency_key')
    .where('tenant_id', '=', row.tenantId)
    .where('key', '=', row.key)
    .where('owner', '=', row.owner)
    .execute();
}

const ROWS_PER_DELETE = 500;

/** Retention: deletes keys that expired at or before `now` (ms epoch), 500 per statement; returns how many. */
export async function pruneIdempotencyKeys(db: Kysely<Database>, now: number): Promise<number> {
  let total = 0;
  for (;;) {
    await yieldToEventLoop();
    const result = await db
      .deleteFrom('idempotency_key')
      .where((eb) =>
        eb(
          eb.refTuple('tenant_id', 'key'),
          'in',
          eb
            .selectFrom('idempotency_key')
            .select(['tenant_id', 'key'])
            .where('expires_at', '<=', now)
            .limit(ROWS_PER_DELETE)
            .$asTuple('tenant_id', 'key'),
        ),
      )
      .executeTakeFirst();
    const deleted = Number(result.numDeletedRows);
    total += deleted;
    if (deleted < ROWS_PER_DELETE) return total;
  }
}
