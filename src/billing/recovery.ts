import { type Kysely, sql } from 'kysely';
import type { Database } from '../store/schema.ts';
import { toSafeInt } from '../store/usage.ts';
import { blankEntry, type NewEntry } from './entries.ts';
import { openHolds } from './sweep.ts';

/**
 * What a killed gateway leaves in the ledger, and the entries that repair it at the next start (decision 0025).
 * Up to one flush interval of entries dies with the process; the usage journal keeps every record (ADR 0018),
 * so the records say what was served and at what cost.
 */

/**
 * How far before an account's last ledger entry a restart looks for charged requests the ledger never heard
 * of (a killed process loses the entries of its last flush interval; requests can run for minutes).
 */
const RECOVERY_WINDOW_MS = 15 * 60_000;

/**
 * Holds opened before `olderThan` and never closed: settled at the cost their request's usage record shows
 * (at most the amount held), released when it has no record with a cost.
 */
export async function staleHoldCloses(
  db: Kysely<Database>,
  olderThan: number,
  at: number,
  /** Processes known alive (a fresh heartbeat, sweep.ts): their holds are left open, however old. */
  liveNodes: readonly string[] = [],
): Promise<NewEntry[]> {
  // Only accounts holding something (`held_nano`, moved in the transaction of every hold and close, is the sum
  // of their open holds): the accounts' table is read, not every hold the ledger ever had (ADR 0043). Read
  // first, on its own, so the holds' query reads the entries of those accounts only (by the tenant index).
  const holding = (await db.selectFrom('account').select('tenant_id').where('held_nano', '>', 0).execute()).map(
    (r) => r.tenant_id,
  );
  const open: Array<{ tenant_id: string; hold_id: string | null; held_nano: number; key_id: string | null }> = [];
  for (let i = 0; i < holding.length; i += 500) {
    const tenants = holding.slice(i, i + 500);
    let query = openHolds(db)
      .select(['h.tenant_id', 'h.hold_id', 'h.held_nano', 'h.key_id'])
      .where('h.at', '<', olderThan)
      .where('h.tenant_id', 'in', tenants);
    if (liveNodes.length > 0) query = query.where('h.node', 'not in', liveNodes);
    const found = await query.execute();
    open.push(...found);
  }
  const entries: NewEntry[] = [];
  for (const row of open) {
    const holdId = row.hold_id!;
    const held = toSafeInt(row.held_nano);
    const usage = await db
      .selectFrom('usage_record')
      .select('cost_nano_usd')
      .where('request_id', '=', holdId)
      .executeTakeFirst();
    const cost = usage ? toSafeInt(usage.cost_nano_usd) : 0;
    const charge = Math.min(Math.max(0, cost), held);
    entries.push({
      ...blankEntry(row.tenant_id, at, charge > 0 ? 'settle' : 'release'),
      amount_nano: -charge,
      held_nano: -held,
      hold_id: holdId,
      key_id: row.key_id,
      request_id: holdId,
      reason: 'closed at start: the gateway that held it had stopped',
    });
  }
  return entries;
}

/**
 * Requests a killed process served and recorded but whose hold and settlement never reached the ledger:
 * a hold and its settlement each, at most what the account has available (`available`, which may load the
 * account; undefined: not billed). Reads the billed tenants' charged records since shortly before the
 * ledger's last entry (one query, whatever the number of accounts), then, per tenant found, keeps those from
 * shortly before that account's own last entry.
 */
export async function lostCharges(
  db: Kysely<Database>,
  available: (tenantId: string) => number | undefined | Promise<number | undefined>,
  at: number,
  onShort: (requestId: string, charged: number, cost: number) => void,
): Promise<NewEntry[]> {
  const entries: NewEntry[] = [];
  // The newest entry by id (the primary key), not max(at), which would read the whole ledger.
  const last = await db.selectFrom('ledger_entry').select('at').orderBy('id', 'desc').limit(1).executeTakeFirst();
  // A lost request's entries died within the last flush interval of the run, so its record is no older than
  // the ledger's last entry less the window (the window is kept for requests that ran long).
  const since = last?.at == null ? 0 : toSafeInt(last.at) - RECOVERY_WINDOW_MS;
  const found = await db
    .selectFrom('usage_record as u')
    .innerJoin('usage_dim as d', 'd.id', 'u.tenant_id')
    .innerJoin('account as a', 'a.tenant_id', 'd.value')
    .select(['a.tenant_id', 'a.created_at', 'u.request_id', 'u.cost_nano_usd', 'u.at'])
    .where('u.at', '>=', since)
    .where('u.cost_nano_usd', '>', 0)
    // Runs of executions (request id `exec_…-N`) are charged by their execution's settlement, not per record.
    .where(sql<boolean>`substr(u.request_id, 1, 5) <> 'exec_'`)
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('ledger_entry as l').select('l.id').whereRef('l.hold_id', '=', 'u.request_id'))),
    )
    .orderBy('u.id')
    .execute();
  const byTenant = new Map<string, typeof found>();
  for (const row of found) {
    const list = byTenant.get(row.tenant_id);
    if (list) list.push(row);
    else byTenant.set(row.tenant_id, [row]);
  }
  for (const [tenantId, records] of byTenant) {
    let left = await available(tenantId);
    if (left === undefined) continue;
    const lastOwn = await db
      .selectFrom('ledger_entry')
      .select(sql<number | null>`max(at)`.as('at'))
      .where('tenant_id', '=', tenantId)
      .executeTakeFirst();
    const createdAt = toSafeInt(records[0]!.created_at);
    const from = Math.max(createdAt, (lastOwn?.at == null ? createdAt : toSafeInt(lastOwn.at)) - RECOVERY_WINDOW_MS);
    for (const record of records) {
      if (toSafeInt(record.at) < from) continue;
      const cost = toSafeInt(record.cost_nano_usd);
      const charge = Math.max(0, Math.min(cost, left));
      if (charge < cost) onShort(record.request_id, charge, cost);
      if (charge === 0) continue;
      left -= charge;
      const base = {
        ...blankEntry(tenantId, at, 'hold'),
        hold_id: record.request_id,
        request_id: record.request_id,
        reason: 'recovered at start: served and recorded, its ledger entries were lost with the process',
      };
      entries.push({ ...base, held_nano: charge });
      entries.push({ ...base, kind: 'settle', amount_nano: -charge, held_nano: -charge });
    }
  }
  return entries;
}
