import type { Kysely } from 'kysely';
import type { Database, StoredFileTable } from './schema.ts';
import { yieldToEventLoop } from './yield.ts';

/**
 * Rows of tenants' files (src/files/, docs/files.md). Every read is scoped to one tenant and skips expired
 * files, so another tenant's id, an unknown id and an expired one look the same.
 */
export interface FileRow {
  id: string;
  tenantId: string;
  bytes: number;
  contentType: string;
  purpose: string;
  filename: string | null;
  /** ms epoch. */
  createdAt: number;
  /** ms epoch; null: kept until deleted. */
  expiresAt: number | null;
  sha256: string;
}

export async function insertFile(db: Kysely<Database>, row: FileRow): Promise<void> {
  await db
    .insertInto('stored_file')
    .values({
      id: row.id,
      tenant_id: row.tenantId,
      purpose: row.purpose,
      filename: row.filename,
      content_type: row.contentType,
      bytes: row.bytes,
      sha256: row.sha256,
      created_at: row.createdAt,
      expires_at: row.expiresAt,
    })
    .execute();
}

export async function selectFile(
  db: Kysely<Database>,
  tenantId: string,
  id: string,
  now: number,
): Promise<FileRow | undefined> {
  const row = await db
    .selectFrom('stored_file')
    .selectAll()
    .where('id', '=', id)
    .where('tenant_id', '=', tenantId)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
    .executeTakeFirst();
  return row ? fromRow(row) : undefined;
}

/** A tenant's files, newest first (or oldest first), after a cursor (a file id of the same list). */
export async function listFiles(
  db: Kysely<Database>,
  query: { tenantId: string; now: number; limit: number; order: 'asc' | 'desc'; after?: string; purpose?: string },
): Promise<FileRow[]> {
  let q = db
    .selectFrom('stored_file')
    .selectAll()
    .where('tenant_id', '=', query.tenantId)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', query.now)]));
  if (query.purpose !== undefined) q = q.where('purpose', '=', query.purpose);
  if (query.after !== undefined) {
    const cursor = await db
      .selectFrom('stored_file')
      .select(['created_at', 'id'])
      .where('id', '=', query.after)
      .where('tenant_id', '=', query.tenantId)
      .executeTakeFirst();
    if (!cursor) return [];
    const at = Number(cursor.created_at);
    const op = query.order === 'desc' ? '<' : '>';
    q = q.where((eb) =>
      eb.or([eb('created_at', op, at), eb.and([eb('created_at', '=', at), eb('id', op, cursor.id)])]),
    );
  }
  const rows = await q.orderBy('created_at', query.order).orderBy('id', query.order).limit(query.limit).execute();
  return rows.map(fromRow);
}

/** Bytes a tenant stores (expired files not yet swept included: they are still on disk). */
export async function tenantFileBytes(db: Kysely<Database>, tenantId: string): Promise<number> {
  const row = await db
    .selectFrom('stored_file')
    .select((eb) => eb.fn.sum<number | string | null>('bytes').as('total'))
    .where('tenant_id', '=', tenantId)
    .executeTakeFirst();
  return Number(row?.total ?? 0);
}

/** Deletes a tenant's file row; false when it had none (or it had expired). */
export async function deleteFile(db: Kysely<Database>, tenantId: string, id: string, now: number): Promise<boolean> {
  const result = await db
    .deleteFrom('stored_file')
    .where('id', '=', id)
    .where('tenant_id', '=', tenantId)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

const ROWS_PER_BATCH = 500;

/**
 * Deletes rows of files that expired at or before `now`, in short statements; `removed` is called with each
 * batch's ids after their rows are gone (the bytes are deleted then). Returns how many.
 */
export async function pruneExpiredFiles(
  db: Kysely<Database>,
  now: number,
  removed: (ids: string[]) => Promise<void>,
): Promise<number> {
  let total = 0;
  for (;;) {
    await yieldToEventLoop();
    const ids = (
      await db
        .selectFrom('stored_file')
        .select('id')
        .where('expires_at', 'is not', null)
        .where('expires_at', '<=', now)
        .limit(ROWS_PER_BATCH)
        .execute()
    ).map((r) => r.id);
    if (ids.length === 0) return total;
    await db.deleteFrom('stored_file').where('id', 'in', ids).execute();
    await removed(ids);
    total += ids.length;
    if (ids.length < ROWS_PER_BATCH) return total;
  }
}

/** Which of these ids have a row (any tenant, expired or not). */
export async function existingFileIds(db: Kysely<Database>, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.selectFrom('stored_file').select('id').where('id', 'in', ids).execute();
  return new Set(rows.map((r) => r.id));
}

function fromRow(row: StoredFileTable): FileRow {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    purpose: row.purpose,
    filename: row.filename,
    contentType: row.content_type,
    bytes: Number(row.bytes),
    sha256: row.sha256,
    createdAt: Number(row.created_at),
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
  };
}
