import { type Kysely, sql } from 'kysely';
import type { Database } from '../store/schema.ts';

/**
 * The billed accounts an admin searches (docs/billing.md, "Admin pages"): `account` joined to its tenant,
 * matched case-insensitively on the tenant's id and name. The searched columns are one list, so a column of a
 * table joined later (an account's email, once self-service accounts land) is one more entry in SEARCHED and
 * one more join in `base`.
 */
export interface AccountRow {
  tenantId: string;
  name: string;
  planId: string | null;
  suspendedAt: number | null;
  createdAt: number;
}

const SEARCHED = ['t.id', 't.name'] as const;

export async function searchAccounts(
  db: Kysely<Database>,
  options: { q?: string | undefined; limit: number; offset: number },
): Promise<{ rows: AccountRow[]; more: boolean }> {
  let query = db
    .selectFrom('account as a')
    .innerJoin('tenant as t', 't.id', 'a.tenant_id')
    .select(['a.tenant_id', 't.name', 'a.plan_id', 't.suspended_at', 'a.created_at']);
  const q = options.q?.trim().toLowerCase().slice(0, 100);
  if (q) {
    // LIKE with the wildcards of the search text escaped: a search for "a_b" finds "a_b", not "axb".
    const pattern = `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    query = query.where((eb) =>
      eb.or(SEARCHED.map((column) => eb(sql`lower(${sql.ref(column)})`, 'like', sql`${pattern} escape '\\'`))),
    );
  }
  const rows = await query
    .orderBy('a.tenant_id')
    .limit(options.limit + 1)
    .offset(options.offset)
    .execute();
  return {
    rows: rows.slice(0, options.limit).map((r) => ({
      tenantId: r.tenant_id,
      name: r.name,
      planId: r.plan_id,
      suspendedAt: r.suspended_at == null ? null : Number(r.suspended_at),
      createdAt: Number(r.created_at),
    })),
    more: rows.length > options.limit,
  };
}

export interface StatementRow {
  id: number;
  at: number;
  kind: string;
  amountNano: number;
  heldNano: number;
  requestId: string | null;
  paymentId: string | null;
  admin: string | null;
  reason: string | null;
}

/** A page of an account's ledger statement, newest first (`before`: entries with a smaller id). */
export async function statement(
  db: Kysely<Database>,
  tenantId: string,
  options: { before?: number | undefined; limit: number },
): Promise<StatementRow[]> {
  let query = db
    .selectFrom('ledger_entry')
    .select(['id', 'at', 'kind', 'amount_nano', 'held_nano', 'request_id', 'payment_id', 'admin', 'reason'])
    .where('tenant_id', '=', tenantId);
  if (options.before !== undefined) query = query.where('id', '<', options.before);
  const rows = await query.orderBy('id', 'desc').limit(options.limit).execute();
  return rows.map((r) => ({
    id: Number(r.id),
    at: Number(r.at),
    kind: r.kind,
    amountNano: Number(r.amount_nano),
    heldNano: Number(r.held_nano),
    requestId: r.request_id,
    paymentId: r.payment_id,
    admin: r.admin,
    reason: r.reason,
  }));
}

/** One CSV field (RFC 4180), with formula-leading characters neutralised for spreadsheets. */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text) && !/^-?\d+(\.\d+)?$/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
