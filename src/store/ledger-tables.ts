import type { Generated } from 'kysely';

/** Money tables (migration 0005_ledger; src/billing/ledger.ts, docs/billing.md). Amounts: integer nano-dollars. */

export interface PlanTable {
  id: string;
  name: string;
  /** Spending cap per UTC calendar month; null: none. */
  monthly_cap_nano: number | null;
  /** JSON list of the model ids the plan gives access to; null: every model. */
  models: string | null;
  /** 1: users may choose it themselves (migration 0009); 0: assigned by an admin only. */
  public: Generated<number>;
  created_at: number;
}

/** A billed tenant: its plan and its cached balance (always the sum of its ledger entries' amounts). */
export interface AccountTable {
  tenant_id: string;
  plan_id: string | null;
  balance_nano: number;
  /** The sum of its entries' held_nano: what open holds reserve (checked in SQL by shared billing). */
  held_nano: number;
  created_at: number;
}

export type LedgerKind = 'deposit' | 'deposit_fee' | 'hold' | 'settle' | 'release' | 'refund' | 'adjustment';

export interface LedgerEntryTable {
  id: Generated<number>;
  tenant_id: string;
  at: number;
  kind: LedgerKind;
  /** Change of the balance (negative: a charge). */
  amount_nano: number;
  /** Change of the amount held (a hold adds, its settle or release takes the same amount back). */
  held_nano: number;
  /** The hold an entry opens or closes (the request id). */
  hold_id: string | null;
  key_id: string | null;
  request_id: string | null;
  payment_id: string | null;
  /** Who made a manual entry, and why. */
  admin: string | null;
  reason: string | null;
  /** The process that wrote the entry (a gateway applies other writers' entries to its memory). */
  node: string;
}

/**
 * A tenant's spend in one UTC calendar month (migration 0017, decision 0046): the sum of its `settle` entries'
 * charges (`-amount_nano`) whose `at` falls in the month, moved in the transaction of those entries. A month
 * without a row: nothing settled.
 */
export interface LedgerMonthTable {
  tenant_id: string;
  /** The month's first millisecond, UTC (`monthStart` of the entries' `at`). */
  month_start: number;
  spent_nano: number;
}

/** Stripe webhook events handled, by event id (migration 0009): a replayed event changes nothing. */
export interface StripeEventTable {
  id: string;
  type: string;
  /** The event's own creation time (ms). */
  created_at: number;
  received_at: number;
  /** What it did: deposit, refund, duplicate or ignored. */
  outcome: string;
}

/** A gateway process's heartbeat (migration 0009): holds of a process whose heartbeat stopped are swept. */
export interface LedgerNodeTable {
  node: string;
  seen_at: number;
}
