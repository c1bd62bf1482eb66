import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { toSafeInt } from '../store/usage.ts';
import { monthStart } from './amounts.ts';
import { formatUsd } from './cost.ts';

/**
 * `modro ledger verify` (docs/billing.md): proves the ledger is the truth of every balance. Entries of each
 * account sum to its cached balance and amount held; no balance is negative at any point of its history; every hold is
 * settled or released exactly once (or still open: in flight), with its own amount, and a settlement charges
 * at most what was held; no entry belongs to a tenant without an account; each cached month's spend
 * (`ledger_month`, decision 0046) equals the charges of the tenant's settlements dated in that month.
 */
export interface Verification {
  ok: boolean;
  accounts: number;
  entries: number;
  /** Holds neither settled nor released yet: requests in flight (or a stopped gateway's, closed at its start). */
  openHolds: number;
  /** Cached month's spends checked (`ledger_month` rows). */
  months: number;
  problems: string[];
}

const PAGE = 5_000;

export async function verifyLedger(db: Kysely<Database>): Promise<Verification> {
  const problems: string[] = [];
  const accounts = await db.selectFrom('account').select(['tenant_id', 'balance_nano', 'held_nano']).execute();
  const cached = new Map(accounts.map((a) => [a.tenant_id, toSafeInt(a.balance_nano)]));
  const cachedHeld = new Map(accounts.map((a) => [a.tenant_id, toSafeInt(a.held_nano)]));
  const running = new Map<string, number>();
  const runningHeld = new Map<string, number>();
  const holds = new Map<string, { tenant: string; held: number; closes: number; closedHeld: number; charge: number }>();
  const closesWithoutHold: string[] = [];
  /** Charges of settlements per tenant and month (`tenant \0 month start`), as `ledger_month` caches them. */
  const spent = new Map<string, number>();
  let entries = 0;
  let lastId = 0;
  for (;;) {
    const rows = await db
      .selectFrom('ledger_entry')
      .select(['id', 'tenant_id', 'kind', 'amount_nano', 'held_nano', 'hold_id', 'at'])
      .where('id', '>', lastId)
      .orderBy('id')
      .limit(PAGE)
      .execute();
    for (const row of rows) {
      entries++;
      lastId = toSafeInt(row.id);
      const amount = toSafeInt(row.amount_nano);
      const heldChange = toSafeInt(row.held_nano);
      if (!cached.has(row.tenant_id)) {
        problems.push(`entry ${lastId} belongs to '${row.tenant_id}', which has no account`);
        continue;
      }
      const balance = (running.get(row.tenant_id) ?? 0) + amount;
      if (balance < 0) {
        problems.push(`balance of '${row.tenant_id}' is negative ($${formatUsd(balance)}) after entry ${lastId}`);
      }
      running.set(row.tenant_id, balance);
      runningHeld.set(row.tenant_id, (runningHeld.get(row.tenant_id) ?? 0) + heldChange);
      if (row.kind === 'hold') {
        if (heldChange <= 0 || amount !== 0 || row.hold_id === null) {
          problems.push(`hold entry ${lastId} holds $${formatUsd(heldChange)} and moves $${formatUsd(amount)}`);
        }
        if (row.hold_id !== null) {
          if (holds.has(row.hold_id)) problems.push(`hold '${row.hold_id}' is opened twice`);
          else holds.set(row.hold_id, { tenant: row.tenant_id, held: heldChange, closes: 0, closedHeld: 0, charge: 0 });
        }
      } else if (row.kind === 'settle' || row.kind === 'release') {
        if (row.kind === 'settle') {
          const key = `${row.tenant_id}\u0000${monthStart(toSafeInt(row.at))}`;
          spent.set(key, (spent.get(key) ?? 0) - amount);
        }
        const hold = row.hold_id === null ? undefined : holds.get(row.hold_id);
        if (!hold) {
          closesWithoutHold.push(String(lastId));
          continue;
        }
        hold.closes++;
        hold.closedHeld -= heldChange;
        hold.charge -= amount;
        if (row.kind === 'release' && amount !== 0) problems.push(`release entry ${lastId} moves the balance`);
      } else if (heldChange !== 0) {
        problems.push(`${row.kind} entry ${lastId} changes the amount held`);
      }
    }
    if (rows.length < PAGE) break;
  }
  for (const id of closesWithoutHold) problems.push(`entry ${id} settles or releases a hold that was never opened`);
  let openHolds = 0;
  for (const [id, hold] of holds) {
    if (hold.closes === 0) {
      openHolds++;
      continue;
    }
    if (hold.closes > 1) problems.push(`hold '${id}' is closed ${hold.closes} times`);
    if (hold.closedHeld !== hold.held) {
      problems.push(`hold '${id}' held $${formatUsd(hold.held)} but was closed for $${formatUsd(hold.closedHeld)}`);
    }
    if (hold.charge < 0 || hold.charge > hold.held) {
      problems.push(`hold '${id}' of $${formatUsd(hold.held)} settled at $${formatUsd(hold.charge)}`);
    }
  }
  for (const [tenant, balance] of cached) {
    const sum = running.get(tenant) ?? 0;
    if (sum !== balance) {
      problems.push(`account '${tenant}': entries sum to $${formatUsd(sum)}, cached balance is $${formatUsd(balance)}`);
    }
    const held = runningHeld.get(tenant) ?? 0;
    if (held !== cachedHeld.get(tenant)) {
      problems.push(
        `account '${tenant}': holds sum to $${formatUsd(held)}, cached amount held is $${formatUsd(cachedHeld.get(tenant) ?? 0)}`,
      );
    }
  }
  const months = await db.selectFrom('ledger_month').select(['tenant_id', 'month_start', 'spent_nano']).execute();
  const cachedSpent = new Map(
    months.map((m) => [`${m.tenant_id}\u0000${toSafeInt(m.month_start)}`, toSafeInt(m.spent_nano)]),
  );
  for (const key of new Set([...spent.keys(), ...cachedSpent.keys()])) {
    const sum = spent.get(key) ?? 0;
    const cachedSum = cachedSpent.get(key) ?? 0;
    if (sum === cachedSum) continue;
    const [tenant, month] = key.split('\u0000') as [string, string];
    problems.push(
      `account '${tenant}': settlements of ${new Date(Number(month)).toISOString().slice(0, 7)} sum to $${formatUsd(sum)}, cached month's spend is $${formatUsd(cachedSum)}`,
    );
  }
  return { ok: problems.length === 0, accounts: accounts.length, entries, openHolds, months: months.length, problems };
}
