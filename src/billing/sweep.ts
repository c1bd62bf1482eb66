import { type Kysely, sql, type Transaction } from 'kysely';
import type { SqlDialect } from '../store/migrations/column-types.ts';
import type { Database } from '../store/schema.ts';
import { toSafeInt } from '../store/usage.ts';
import { blankEntry, type NewEntry } from './entries.ts';
import { addMonthSpend } from './month-spend.ts';

/**
 * The periodic stale-hold sweep (docs/billing.md, "Stale holds"). Every gateway process writes a heartbeat
 * (`ledger_node`) every `billing.sweepIntervalMs`; a process whose heartbeat is older than
 * `billing.nodeTimeoutMs` is dead, and its open holds are stale (it opened them while it was beating, so
 * they are at least that old). A live process's holds are never
 * stale, however long its requests run: it keeps beating. Stale holds are settled at the cost their request's
 * usage record shows (at most what was held) or released; a dead process's row goes once all its holds are
 * closed. (Holds of a process with no row at all, i.e. from before this sweep existed, are left to a start's
 * recovery.) A round where nothing died reads only the heartbeat table.
 *
 * Several processes on PostgreSQL: one sweeps at a time (a transaction-scoped advisory lock; the others skip
 * that round), and the sweep locks the account rows of the holds it closes (`for update`, in tenant order)
 * before checking again that each is still open, as the ledger's batched writer does before writing its
 * settlements: a close by the sweep and one by a late owner are serialised, and the second is dropped.
 */

/** The PostgreSQL advisory lock of the sweep ('modroswp' in ASCII). */
const SWEEP_LOCK = '7885631915392496752';
/** Most holds one round closes (the rest in the next rounds). */
const SWEEP_BATCH = 5_000;

/** This process is alive (an upsert of its row). */
export async function heartbeat(db: Kysely<Database>, node: string, now: number): Promise<void> {
  await db
    .insertInto('ledger_node')
    .values({ node, seen_at: now })
    .onConflict((oc) => oc.column('node').doUpdateSet({ seen_at: now }))
    .execute();
}

/** Processes with a heartbeat since `since`. */
export async function liveNodes(db: Kysely<Database>, since: number): Promise<string[]> {
  const rows = await db.selectFrom('ledger_node').select('node').where('seen_at', '>=', since).execute();
  return rows.map((r) => r.node);
}

/**
 * A process stopping: its row is marked as stopped (not deleted), so that any hold it could not close is
 * swept at the next round of another process, which then deletes the row.
 */
export async function markStopped(db: Kysely<Database>, node: string): Promise<void> {
  await db.updateTable('ledger_node').set({ seen_at: 0 }).where('node', '=', node).execute();
}

/**
 * Closes the stale holds of dead processes in one transaction and returns the entries written (with `node` =
 * the sweeping process), for the caller to apply to its memory. Empty when another process holds the sweep.
 */
export async function sweepStaleHolds(
  db: Kysely<Database>,
  dialect: SqlDialect,
  options: {
    node: string;
    now: number;
    nodeTimeoutMs: number;
    /** The node name each tenant's entries are written under (default `node`; the ledger's, decision 0043). */
    writer?: (tenantId: string) => string;
  },
): Promise<Array<NewEntry & { node: string }>> {
  const { node, now } = options;
  const cutoff = now - options.nodeTimeoutMs;
  // Cheap when nothing died (the usual case): one read of the small heartbeat table.
  const dead = (
    await db.selectFrom('ledger_node').select('node').where('seen_at', '<', cutoff).where('node', '!=', node).execute()
  ).map((r) => r.node);
  if (dead.length === 0) return [];
  return db.transaction().execute(async (tx) => {
    if (dialect === 'postgres') {
      const got = await sql<{ ok: boolean }>`select pg_try_advisory_xact_lock(${SWEEP_LOCK}::bigint) as ok`.execute(tx);
      if (!got.rows[0]?.ok) return [];
    }
    const candidates = await openStaleHolds(tx, dead, undefined);
    const tenants = [...new Set(candidates.map((h) => h.tenant_id))].sort();
    if (dialect === 'postgres') await lockAccounts(tx, tenants);
    // Again under the locks: an owner that came back may have closed some meanwhile.
    const open =
      candidates.length === 0
        ? []
        : await openStaleHolds(
            tx,
            dead,
            candidates.map((h) => h.hold_id!),
          );
    const entries: Array<NewEntry & { node: string }> = [];
    for (const row of open) {
      const holdId = row.hold_id!;
      const held = toSafeInt(row.held_nano);
      const usage = await tx
        .selectFrom('usage_record')
        .select('cost_nano_usd')
        .where('request_id', '=', holdId)
        .executeTakeFirst();
      const charge = Math.min(Math.max(0, usage ? toSafeInt(usage.cost_nano_usd) : 0), held);
      entries.push({
        ...blankEntry(row.tenant_id, now, charge > 0 ? 'settle' : 'release'),
        amount_nano: -charge,
        held_nano: -held,
        hold_id: holdId,
        key_id: row.key_id,
        request_id: holdId,
        reason: `swept: the process that held it (${row.node}) stopped beating`,
        node: options.writer?.(row.tenant_id) ?? node,
      });
    }
    if (entries.length > 0) {
      await tx.insertInto('ledger_entry').values(entries).execute();
      const deltas = new Map<string, { amount: number; held: number }>();
      for (const e of entries) {
        const d = deltas.get(e.tenant_id) ?? { amount: 0, held: 0 };
        d.amount += e.amount_nano;
        d.held += e.held_nano;
        deltas.set(e.tenant_id, d);
      }
      for (const [tenantId, d] of deltas) {
        await tx
          .updateTable('account')
          .set({
            balance_nano: sql<number>`balance_nano + ${d.amount}`,
            held_nano: sql<number>`held_nano + ${d.held}`,
          })
          .where('tenant_id', '=', tenantId)
          .execute();
      }
      // The months' spend of its settlements, after the account rows (decision 0046).
      await addMonthSpend(tx, entries);
    }
    // The dead processes are done with once all their holds are closed (else the next round goes on). A process
    // that was only slow writes its row again at its next beat.
    if (candidates.length < SWEEP_BATCH) {
      await tx.deleteFrom('ledger_node').where('node', 'in', dead).where('seen_at', '<', cutoff).execute();
    }
    return entries;
  });
}

/** Locks account rows in tenant order (every writer locks in this order: no deadlock). PostgreSQL. */
export async function lockAccounts(tx: Transaction<Database>, tenants: readonly string[]): Promise<void> {
  if (tenants.length === 0) return;
  await sql`select tenant_id from account where tenant_id in (${sql.join(tenants)}) order by tenant_id for update`.execute(
    tx,
  );
}

/**
 * The ledger's holds (`h`) that are still open: no settle or release of the same hold id. An execution's hold is
 * left out: it belongs to the execution queue, which outlives processes and closes it with the execution's
 * terminal state (docs/executions.md), so neither a sweep nor a start's recovery closes it.
 */
export function openHolds(db: Kysely<Database> | Transaction<Database>) {
  return db
    .selectFrom('ledger_entry as h')
    .where('h.kind', '=', 'hold')
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('execution as e').select('e.id').whereRef('e.id', '=', 'h.hold_id'))),
    )
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('ledger_entry as c')
            .select('c.id')
            .whereRef('c.hold_id', '=', 'h.hold_id')
            .where('c.kind', 'in', ['settle', 'release']),
        ),
      ),
    );
}

/**
 * Holds still open written by one of the `dead` processes (the partial index on node). Every one of them is
 * older than the process's last heartbeat plus an interval, so none can belong to a live request; their age is
 * not checked again (a hold opened after the last heartbeat must not keep its process's row, and so itself,
 * from ever being swept).
 */
async function openStaleHolds(
  db: Kysely<Database> | Transaction<Database>,
  dead: readonly string[],
  only: readonly string[] | undefined,
) {
  let query = openHolds(db)
    .select(['h.tenant_id', 'h.hold_id', 'h.held_nano', 'h.key_id', 'h.node'])
    .where('h.node', 'in', dead);
  if (only) query = query.where('h.hold_id', 'in', only);
  return query.orderBy('h.id').limit(SWEEP_BATCH).execute();
}

/**
 * Of the settlements and releases about to be written, those whose hold is already closed in the database
 * (by a sweep that took this process for dead, or by a start's recovery): dropped by the writer.
 */
export async function alreadyClosed(tx: Transaction<Database>, holdIds: readonly string[]): Promise<Set<string>> {
  const closed = new Set<string>();
  for (let i = 0; i < holdIds.length; i += 500) {
    const rows = await tx
      .selectFrom('ledger_entry')
      .select('hold_id')
      .where('hold_id', 'in', holdIds.slice(i, i + 500))
      .where('kind', 'in', ['settle', 'release'])
      .execute();
    for (const r of rows) if (r.hold_id) closed.add(r.hold_id);
  }
  return closed;
}
