import { randomBytes } from 'node:crypto';
import { CompiledQuery, type Kysely, sql } from 'kysely';
import { GatewayError } from '../core/errors.ts';
import type { SqlDialect } from '../store/migrations/column-types.ts';
import { multiRowInsertSql, placeholderStyle } from '../store/raw-insert.ts';
import type { Database } from '../store/schema.ts';
import { toSafeInt } from '../store/usage.ts';
import { depositFee, MAX_MANUAL_NANO, monthStart } from './amounts.ts';
import { formatUsd } from './cost.ts';
import { blankEntry, type NewEntry } from './entries.ts';
import { type Plan, planFromRow, validatePlan } from './plans.ts';
import { lostCharges, staleHoldCloses } from './recovery.ts';
import { alreadyClosed, heartbeat, liveNodes, lockAccounts, markStopped, sweepStaleHolds } from './sweep.ts';

/**
 * Balances, holds and plans of the billed accounts of one gateway, in memory and exact, with the ledger
 * (table `ledger_entry`) as the truth (decision 0025, docs/billing.md). `hold` checks every limit and reserves
 * the amount in one synchronous step, so requests arriving together can never overdraw; holds and their
 * settlements reach the database in batches (no database round trip on the request path); manual entries
 * (credits, debits, deposits) are written before they answer. At start the holds an earlier run left open are
 * closed (settled at the recorded cost of their request, else released).
 *
 * Accounts are in memory while in use (decision 0043): `use(tenant)` answers at once for an account in memory
 * (or a tenant known to have none) and otherwise loads it with one query (its plan, cached balance and amount
 * held, the month's spend, and which of the other processes' entries the poll may still read it counted); an
 * account unused for `accountIdleMs` with nothing of this process open on it is dropped. The poll applies the
 * other processes' entries to the accounts in memory only, skipping those their load counted, so an entry is
 * counted once, even one committed out of id order (`#fetchAccount`). This process's own entries are applied
 * when made; one it writes for an account not in memory (an execution's close, a sweep) is written under
 * `#foreign`, a node name the poll treats as another process's.
 */

export type { LedgerKind } from '../store/ledger-tables.ts';
export type { Plan } from './plans.ts';

export interface AccountView {
  tenantId: string;
  planId: string | null;
  balanceNano: number;
  heldNano: number;
  availableNano: number;
  monthSpendNano: number;
}

/** An open hold: settled or released exactly once. */
export interface Hold {
  readonly id: string;
  readonly tenantId: string;
  readonly amountNano: number;
  /** Settles at the request's cost (at most the amount held); returns what was charged. */
  settle(costNano: number): number;
  release(): void;
}

/** An execution's hold, reserved in memory, to be written in the caller's transaction (`prepareDurableHold`). */
export interface PreparedHold {
  ok: true;
  /** Writes the hold entry (and moves the account's amount held) in `trx`; false: the balance no longer covers it. */
  write(trx: unknown): Promise<boolean>;
  /** The transaction committed. */
  committed(): void;
  /** The transaction did not commit, or `write` answered false: the reservation is undone. */
  forget(): void;
  /** The refusal when `write` answered false. */
  refusal(): GatewayError;
}

export type HoldResult = { ok: true; hold: Hold } | { ok: false; error: GatewayError };

export interface HoldRequest {
  tenantId: string;
  keyId: string | null;
  requestId: string;
  amountNano: number;
  /** The key's own quota and what it spent this period (from the key limiter). */
  keyQuota?: { nanoUsd: number; spentNano: number } | undefined;
}

interface AccountState {
  planId: string | null;
  balance: number;
  held: number;
  monthStart: number;
  monthSpend: number;
  /** When a request, page or entry last used it (`now()`), for the idle eviction. */
  lastUsed: number;
  /** This process's holds on it that are still open in memory only (a loaded account is kept while any is). */
  holds: number;
  /**
   * Ids of other processes' entries its load counted that the poll may still read (above the poll's cursor, or
   * ids it waited for, when the load began): the poll skips each once. Undefined when none is left.
   */
  seen: Set<number> | undefined;
}

/** What the ledger keeps in memory (tests, `modro_ledger_accounts`). */
export interface LedgerCacheStats {
  /** Billed accounts in memory. */
  accounts: number;
  /** Tenants known to have no account (not billed), remembered so their requests cost no query. */
  unbilled: number;
  /** Cold loads: one query each for an account (or a tenant without one) not in memory. */
  loads: number;
  /** Accounts and unbilled tenants dropped after `accountIdleMs` without use. */
  evictions: number;
}

export interface LedgerOptions {
  db: Kysely<Database>;
  /**
   * Several processes share the database (PostgreSQL): a hold is a conditional update of the account row
   * (`reserve` is asynchronous), so no process can hold what another already holds (decision 0025).
   */
  shared?: boolean;
  /** Shared: at start, only holds older than this are closed (younger ones may be other processes' requests). */
  staleHoldMs?: number;
  flushIntervalMs?: number;
  pollMs?: number;
  /** postgres: the writer and the sweep lock account rows (several processes); default sqlite. */
  dialect?: SqlDialect;
  /**
   * The periodic stale-hold sweep (sweep.ts): a heartbeat this often and a sweep of dead processes' holds.
   * Unset or 0: none (the CLI; holds are then closed at a gateway's start only).
   */
  sweepIntervalMs?: number;
  /** A process without a heartbeat for this long is dead (default 120 s). */
  nodeTimeoutMs?: number;
  /** A sweep round closed holds of stopped processes (settled and released counts). */
  onSwept?: (closed: { settled: number; released: number }) => void;
  /**
   * An account (or a tenant known to have none) unused for this long, with no hold of this process open and
   * no entry waiting to be written, is dropped from memory; its next use loads it again. Default 10 minutes.
   */
  accountIdleMs?: number;
  now?: () => number;
  onError?: (err: unknown, during: string) => void;
}

export class Ledger {
  readonly node = `n_${randomBytes(6).toString('hex')}`;
  readonly #db: Kysely<Database>;
  readonly #now: () => number;
  readonly #o: LedgerOptions;
  /** The billed accounts in use (loaded on first use, dropped when idle): never every account. */
  readonly #accounts = new Map<string, AccountState>();
  /** Tenants in use known to have no account: tenant → when last used. */
  readonly #unbilled = new Map<string, number>();
  /** Cold loads in flight, shared by concurrent callers. */
  readonly #loading = new Map<string, Promise<void>>();
  /** Entries queued or being written, per tenant: an account with any is not dropped. */
  readonly #pending = new Map<string, number>();
  #loads = 0;
  #evictions = 0;
  #evictor: NodeJS.Timeout | undefined;
  readonly #plans = new Map<string, Plan>();
  readonly #heldByKey = new Map<string, number>();
  /** Execution holds this process opened and has not seen closed (their key, for the key-quota check). */
  readonly #durable = new Map<string, { keyId: string | null; amountNano: number }>();
  #queue: NewEntry[] = [];
  #lastSeenId = 0;
  /**
   * Ids below `#lastSeenId` the poll has not seen, with when it noticed them: on PostgreSQL a transaction can take
   * its ids before another's and commit after it, so the poll, which reads ids above the last it saw, re-reads
   * these each round until they appear or `GAP_WAIT_MS` passes (a rolled-back insert leaves an id never filled).
   */
  readonly #gaps = new Map<number, number>();
  /** Tenants being loaded: the other processes' entries the poll read for them meanwhile, for the load to add. */
  readonly #passing = new Map<string, PolledEntry[]>();
  /** Accounts in memory whose `seen` is not empty, tidied by each poll. */
  readonly #unsettled = new Set<AccountState>();
  #flushing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #poller: NodeJS.Timeout | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  #open = 0;
  #polling = false;
  #sweeping: Promise<number> | undefined;

  constructor(options: LedgerOptions) {
    this.#o = options;
    this.#db = options.db;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Loads plans and accounts (balances summed from the ledger). `recover`: close the holds an earlier run
   * left open (a gateway at start; never the CLI, which runs beside a live gateway).
   */
  async start({ recover }: { recover: boolean }): Promise<{ settled: number; released: number }> {
    await this.#loadPlans();
    const closed = recover ? await this.#recover() : { settled: 0, released: 0 };
    const pollMs = this.#o.pollMs;
    if (pollMs) {
      this.#poller = setInterval(() => {
        // One poll at a time: two reading the same entries would apply them twice.
        if (this.#polling) return;
        this.#polling = true;
        this.#poll()
          .catch((err: unknown) => this.#o.onError?.(err, 'ledger poll'))
          .finally(() => {
            this.#polling = false;
          });
      }, pollMs);
      this.#poller.unref();
    }
    const idleMs = this.#idleMs();
    this.#evictor = setInterval(() => this.evictIdle(), Math.max(1_000, Math.min(60_000, Math.floor(idleMs / 2))));
    this.#evictor.unref();
    const sweepMs = this.#o.sweepIntervalMs;
    if (sweepMs) {
      await heartbeat(this.#db, this.node, this.#now());
      this.#sweeper = setInterval(() => {
        this.sweep().catch((err: unknown) => this.#o.onError?.(err, 'stale-hold sweep'));
      }, sweepMs);
      this.#sweeper.unref();
    }
    return closed;
  }

  /**
   * One round of the periodic sweep: this process's heartbeat, then the holds of dead processes closed
   * (sweep.ts). Resolves to the number of holds closed by this process in this round.
   */
  sweep(): Promise<number> {
    if (this.#sweeping) return this.#sweeping;
    const run = (async () => {
      const now = this.#now();
      await heartbeat(this.#db, this.node, now);
      const entries = await sweepStaleHolds(this.#db, this.#o.dialect ?? 'sqlite', {
        node: this.node,
        now,
        nodeTimeoutMs: this.#o.nodeTimeoutMs ?? 120_000,
        writer: (tenantId) => this.#writerFor(tenantId),
      });
      // Those written under this process's node (accounts in memory) are applied here, the poll skips them;
      // those of accounts not in memory were written under #foreign, for a later load or the poll to count.
      for (const entry of entries) if (entry.node === this.node) this.#applyToMemory(entry);
      if (entries.length > 0) {
        const settled = entries.filter((e) => e.kind === 'settle').length;
        this.#o.onSwept?.({ settled, released: entries.length - settled });
      }
      return entries.length;
    })();
    this.#sweeping = run.finally(() => {
      this.#sweeping = undefined;
    });
    return this.#sweeping;
  }

  async close(): Promise<void> {
    if (this.#sweeper) {
      clearInterval(this.#sweeper);
      await this.#sweeping?.catch(() => {});
    }
    if (this.#poller) clearInterval(this.#poller);
    if (this.#evictor) clearInterval(this.#evictor);
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.flush();
    if (this.#sweeper) await markStopped(this.#db, this.node).catch(() => {});
  }

  /**
   * Brings the tenant's billing state into memory: nothing to wait for when its account is in memory or it is
   * known to have none (the warm path, synchronous), else a promise of the one query that loads it. Called
   * for every caller at authentication (`Pipeline.authenticate`), so `billed`, `planOf` and `hold` answer
   * from memory afterwards.
   */
  use(tenantId: string): Promise<void> | undefined {
    const a = this.#accounts.get(tenantId);
    if (a) {
      a.lastUsed = this.#now();
      return undefined;
    }
    if (this.#unbilled.has(tenantId)) {
      this.#unbilled.set(tenantId, this.#now());
      return undefined;
    }
    return this.#loadAccount(tenantId);
  }

  /** The account as this process sees it, loaded first if it is not in memory (pages, the admin API, the CLI). */
  async view(tenantId: string): Promise<AccountView | undefined> {
    await this.use(tenantId);
    return this.account(tenantId);
  }

  /** What is in memory (tests, metrics). */
  get cacheStats(): LedgerCacheStats {
    return {
      accounts: this.#accounts.size,
      unbilled: this.#unbilled.size,
      loads: this.#loads,
      evictions: this.#evictions,
    };
  }

  /**
   * A tenant with an account is billed (bring-your-own-key callers never are: the pipeline skips them).
   * Answers from memory: `use` must have been awaited for this tenant (authentication does it).
   */
  billed(tenantId: string): boolean {
    return this.#accounts.has(tenantId);
  }

  planOf(tenantId: string): Plan | undefined {
    const planId = this.#accounts.get(tenantId)?.planId;
    return planId ? this.#plans.get(planId) : undefined;
  }

  plans(): Plan[] {
    return [...this.#plans.values()];
  }

  /** Holds not yet settled or released (tests, metrics). */
  get openHolds(): number {
    return this.#open;
  }

  account(tenantId: string): AccountView | undefined {
    const a = this.#accounts.get(tenantId);
    if (!a) return undefined;
    this.#rollMonth(a);
    return {
      tenantId,
      planId: a.planId,
      balanceNano: a.balance,
      heldNano: a.held,
      availableNano: a.balance - a.held,
      monthSpendNano: a.monthSpend,
    };
  }

  /**
   * Reserves the most a request can cost, or refuses it naming the limit that ran out first: the balance
   * less open holds, the plan's monthly cap less the month's spend and holds, the key's quota less its spend
   * and holds. Synchronous: check and reserve cannot interleave with another request.
   */
  hold(req: HoldRequest): HoldResult {
    const a = this.#accounts.get(req.tenantId);
    if (!a) return { ok: false, error: new GatewayError('internal_error', 'Internal error') };
    const refused = this.#check(a, req, true);
    if (refused) return { ok: false, error: refused };
    const hold = this.#reserveLocally(a, req);
    this.#enqueue({
      ...blankEntry(req.tenantId, this.#now(), 'hold'),
      held_nano: req.amountNano,
      hold_id: req.requestId,
      key_id: req.keyId,
      request_id: req.requestId,
    });
    return { ok: true, hold };
  }

  /**
   * A hold the way this ledger runs: in memory and synchronous (one process per database), or, shared,
   * reserved by a conditional update of the account row so that processes sharing PostgreSQL never overdraw.
   */
  reserve(req: HoldRequest): HoldResult | Promise<HoldResult> {
    // Not in memory (dropped between authentication and the hold, or a caller that did not `use` it): loaded
    // first; a tenant without an account is then refused as before.
    const cold = this.#accounts.has(req.tenantId) ? undefined : this.use(req.tenantId);
    if (cold) return cold.then(() => this.reserve(req));
    return this.#o.shared ? this.#holdShared(req) : this.hold(req);
  }

  /**
   * Shared: the plan cap and the key quota are checked in memory (this process's view, refreshed by the
   * poll), the balance in the database: `update account … where balance − held ≥ amount` and the hold entry
   * in one statement. Reserved locally first, so this process's own requests never race each other.
   */
  async #holdShared(req: HoldRequest): Promise<HoldResult> {
    const a = this.#accounts.get(req.tenantId);
    if (!a) return { ok: false, error: new GatewayError('internal_error', 'Internal error') };
    const refused = this.#check(a, req, false);
    if (refused) return { ok: false, error: refused };
    const hold = this.#reserveLocally(a, req);
    const need = req.amountNano;
    try {
      const held = await sql<{ id: number }>`
        with h as (
          update account set held_nano = held_nano + ${need}
          where tenant_id = ${req.tenantId} and balance_nano - held_nano >= ${need}
          returning tenant_id
        )
        insert into ledger_entry
          (tenant_id, at, kind, amount_nano, held_nano, hold_id, key_id, request_id, node)
        select tenant_id, ${this.#now()}, 'hold', 0, ${need}, ${req.requestId}, ${req.keyId}, ${req.requestId}, ${this.node}
        from h
        returning id`.execute(this.#db);
      if (held.rows.length === 1) return { ok: true, hold };
      hold.forget();
      const row = await this.#db
        .selectFrom('account')
        .select(['balance_nano', 'held_nano'])
        .where('tenant_id', '=', req.tenantId)
        .executeTakeFirst();
      const left = row ? toSafeInt(row.balance_nano) - toSafeInt(row.held_nano) : 0;
      return { ok: false, error: new GatewayError('quota_exceeded', balanceMessage(need, left)) };
    } catch (err) {
      hold.forget();
      return {
        ok: false,
        error: new GatewayError('internal_error', 'Internal error: the balance could not be checked', { cause: err }),
      };
    }
  }

  /**
   * The hold of an asynchronous execution (docs/executions.md): checked and reserved in memory now, like `hold`;
   * its entry is written by `write` inside the caller's own transaction (the one that inserts the execution),
   * so the hold exists exactly when the execution does. Shared: `write` is the conditional update of the account
   * row and answers false when the balance no longer covers it (the caller then refuses with `refusal()`).
   * `forget` undoes the reservation when the transaction did not commit. Closed by `closeDurableHold`.
   */
  prepareDurableHold(req: HoldRequest): PreparedHold | { ok: false; error: GatewayError } {
    const a = this.#accounts.get(req.tenantId);
    if (!a) return { ok: false, error: new GatewayError('internal_error', 'Internal error') };
    const shared = this.#o.shared === true;
    const refused = this.#check(a, req, !shared);
    if (refused) return { ok: false, error: refused };
    const hold = this.#reserveLocally(a, req);
    const need = req.amountNano;
    const entry = {
      ...blankEntry(req.tenantId, this.#now(), 'hold' as const),
      held_nano: need,
      hold_id: req.requestId,
      key_id: req.keyId,
      request_id: req.requestId,
      node: this.node,
    };
    let written = false;
    return {
      ok: true,
      write: async (trx) => {
        const db = trx as Kysely<Database>;
        if (shared) {
          const held = await sql<{ tenant_id: string }>`
            update account set held_nano = held_nano + ${need}
            where tenant_id = ${req.tenantId} and balance_nano - held_nano >= ${need}
            returning tenant_id`.execute(db);
          if (held.rows.length !== 1) return false;
        } else {
          await db
            .updateTable('account')
            .set({ held_nano: sql<number>`held_nano + ${need}` })
            .where('tenant_id', '=', req.tenantId)
            .execute();
        }
        await db.insertInto('ledger_entry').values(entry).execute();
        written = true;
        return true;
      },
      committed: () => {
        if (!written) return;
        this.#durable.set(req.requestId, { keyId: req.keyId, amountNano: need });
        // In the database now, closed by `closeDurableHold`: no longer a reason to keep the account in memory.
        a.holds--;
      },
      forget: () => hold.forget(),
      refusal: () => new GatewayError('quota_exceeded', balanceMessage(need, Math.max(0, a.balance - a.held))),
    };
  }

  /**
   * Closes an execution's hold inside the caller's transaction (the one writing the execution's terminal
   * state): settled at `costNano` (at most the amount held), or released when `costNano` is null. Returns what
   * to apply to this process's memory once that transaction has committed. Works for holds opened by another
   * process or an earlier run: the amount held comes from the execution row.
   */
  async closeDurableHold(
    trx: unknown,
    close: { tenantId: string; holdId: string; keyId: string | null; heldNano: number; costNano: number | null },
  ): Promise<{ charged: number; apply(): void }> {
    const db = trx as Kysely<Database>;
    const held = close.heldNano;
    const charge = close.costNano === null ? 0 : Math.min(Math.max(0, Math.round(close.costNano)), held);
    const kind = close.costNano === null ? 'release' : 'settle';
    // In memory now: written under this node and applied below (touched, so it stays until then). Not in
    // memory: written under #foreign, so that a load or the poll counts it, and nothing is applied here.
    const writer = this.#writerFor(close.tenantId);
    const a = writer === this.node ? this.#accounts.get(close.tenantId) : undefined;
    await db
      .insertInto('ledger_entry')
      .values({
        ...blankEntry(close.tenantId, this.#now(), kind),
        amount_nano: -charge,
        held_nano: -held,
        hold_id: close.holdId,
        key_id: close.keyId,
        request_id: close.holdId,
        node: writer,
      })
      .execute();
    await db
      .updateTable('account')
      .set({ balance_nano: sql<number>`balance_nano - ${charge}`, held_nano: sql<number>`held_nano - ${held}` })
      .where('tenant_id', '=', close.tenantId)
      .execute();
    return {
      charged: charge,
      apply: () => {
        if (!a || this.#accounts.get(close.tenantId) !== a) {
          this.#forgetDurable(close.holdId);
          return;
        }
        a.held -= held;
        a.balance -= charge;
        this.#rollMonth(a);
        a.monthSpend += charge;
        this.#forgetDurable(close.holdId);
      },
    };
  }

  /** An execution's hold opened by this process was closed (here or by another process). */
  #forgetDurable(holdId: string): void {
    const mine = this.#durable.get(holdId);
    if (!mine) return;
    this.#durable.delete(holdId);
    this.#open--;
    if (mine.keyId !== null) {
      const left = (this.#heldByKey.get(mine.keyId) ?? 0) - mine.amountNano;
      if (left > 0) this.#heldByKey.set(mine.keyId, left);
      else this.#heldByKey.delete(mine.keyId);
    }
  }

  /** The limit that stops a hold (the one with the least left), or undefined when it fits all. */
  #check(a: AccountState, req: HoldRequest, withBalance: boolean): GatewayError | undefined {
    this.#rollMonth(a);
    const need = req.amountNano;
    const limits: Array<{ left: number; message: (left: number) => string }> = [];
    if (withBalance) limits.push({ left: a.balance - a.held, message: (left) => balanceMessage(need, left) });
    const plan = a.planId ? this.#plans.get(a.planId) : undefined;
    if (plan?.monthlyCapNano != null) {
      const cap = plan.monthlyCapNano;
      limits.push({
        left: cap - a.monthSpend - a.held,
        message: (left) =>
          `Monthly spending cap of plan '${plan.id}' reached: this request needs a hold of $${formatUsd(need)} and $${formatUsd(Math.max(0, left))} of the $${formatUsd(cap)} cap is left this month`,
      });
    }
    if (req.keyQuota && req.keyId !== null) {
      const quota = req.keyQuota;
      limits.push({
        left: quota.nanoUsd - quota.spentNano - (this.#heldByKey.get(req.keyId) ?? 0),
        message: (left) =>
          `This key's quota is used up: this request needs a hold of $${formatUsd(need)} and $${formatUsd(Math.max(0, left))} of the key's $${formatUsd(quota.nanoUsd)} quota is left`,
      });
    }
    let stop: (typeof limits)[number] | undefined;
    for (const limit of limits) if (limit.left < need && (!stop || limit.left < stop.left)) stop = limit;
    return stop ? new GatewayError('quota_exceeded', stop.message(stop.left)) : undefined;
  }

  /** Counts the hold in this process's memory; its settle or release is queued for the batched write. */
  #reserveLocally(a: AccountState, req: HoldRequest): Hold & { forget(): void } {
    const need = req.amountNano;
    a.held += need;
    a.holds++;
    a.lastUsed = this.#now();
    if (req.keyId !== null) this.#heldByKey.set(req.keyId, (this.#heldByKey.get(req.keyId) ?? 0) + need);
    this.#open++;
    let closed = false;
    const undo = () => {
      closed = true;
      this.#open--;
      a.held -= need;
      a.holds--;
      if (req.keyId !== null) {
        const left = (this.#heldByKey.get(req.keyId) ?? 0) - need;
        if (left > 0) this.#heldByKey.set(req.keyId, left);
        else this.#heldByKey.delete(req.keyId);
      }
    };
    const close = (kind: 'settle' | 'release', charge: number) => {
      undo();
      a.balance -= charge;
      this.#rollMonth(a);
      a.monthSpend += charge;
      this.#enqueue({
        ...blankEntry(req.tenantId, this.#now(), kind),
        amount_nano: -charge,
        held_nano: -need,
        hold_id: req.requestId,
        key_id: req.keyId,
        request_id: req.requestId,
      });
    };
    return {
      id: req.requestId,
      tenantId: req.tenantId,
      amountNano: need,
      settle: (costNano) => {
        if (closed) return 0;
        const charge = Math.min(Math.max(0, Math.round(costNano)), need);
        close('settle', charge);
        return charge;
      },
      release: () => {
        if (!closed) close('release', 0);
      },
      /** The hold was never written (refused or failed in the database): undone without an entry. */
      forget: () => {
        if (!closed) undo();
      },
    };
  }

  /**
   * A manual entry by an admin (credit, debit, deposit with its fee, refund), written before it returns.
   * Opens the tenant's account on its first entry. Refuses amounts that are not positive safe integers up to
   * MAX_MANUAL_NANO, and a debit larger than what is available, with no ledger change.
   */
  async manual(input: {
    tenantId: string;
    kind: 'deposit' | 'credit' | 'debit' | 'refund';
    amountNano: number;
    admin: string;
    reason: string;
    paymentId?: string | null;
    feeBps?: number;
  }): Promise<{ entries: NewEntry[]; account: AccountView }> {
    const { tenantId, amountNano, admin } = input;
    const reason = input.reason.trim();
    if (!Number.isSafeInteger(amountNano) || amountNano <= 0 || amountNano > MAX_MANUAL_NANO) {
      throw new GatewayError(
        'invalid_request',
        `The amount must be a positive whole number of nano-dollars up to $${formatUsd(MAX_MANUAL_NANO)}`,
        { param: 'amount' },
      );
    }
    if (reason === '' || reason.length > 500) {
      throw new GatewayError('invalid_request', 'A reason (1 to 500 characters) is required', { param: 'reason' });
    }
    const takesMoney = input.kind === 'debit' || input.kind === 'refund';
    if (!takesMoney) await this.#ensureAccount(tenantId);
    else await this.use(tenantId);
    if (!this.#accounts.has(tenantId)) {
      throw new GatewayError('not_found', `Tenant '${tenantId}' has no billed account`);
    }
    // From here on synchronous: what is available cannot change between the check and the entries.
    const a = this.#accounts.get(tenantId)!;
    const base = {
      ...blankEntry(tenantId, this.#now(), 'adjustment'),
      admin,
      reason,
      payment_id: input.paymentId ?? null,
    };
    const entries: NewEntry[] = [];
    if (input.kind === 'deposit') {
      const fee = depositFee(amountNano, input.feeBps ?? 0);
      entries.push({ ...base, kind: 'deposit', amount_nano: amountNano });
      if (fee > 0) entries.push({ ...base, kind: 'deposit_fee', amount_nano: -fee });
    } else if (input.kind === 'credit') {
      entries.push({ ...base, amount_nano: amountNano });
    } else {
      const available = a.balance - a.held;
      if (amountNano > available) {
        throw new GatewayError(
          'invalid_request',
          `A ${input.kind} of $${formatUsd(amountNano)} is more than the $${formatUsd(Math.max(0, available))} available`,
          { param: 'amount' },
        );
      }
      entries.push({ ...base, kind: input.kind === 'refund' ? 'refund' : 'adjustment', amount_nano: -amountNano });
    }
    for (const entry of entries) {
      a.balance += entry.amount_nano;
      this.#enqueue(entry);
    }
    await this.flush();
    return { entries, account: this.account(tenantId)! };
  }

  /** Opens a billed account for a tenant (balance zero). */
  async openAccount(tenantId: string): Promise<AccountView> {
    await this.#ensureAccount(tenantId);
    return this.account(tenantId)!;
  }

  async savePlan(plan: Plan): Promise<Plan> {
    validatePlan(plan);
    const row = {
      id: plan.id,
      name: plan.name,
      monthly_cap_nano: plan.monthlyCapNano,
      models: plan.models ? JSON.stringify(plan.models) : null,
      public: plan.public ? 1 : 0,
      created_at: this.#now(),
    };
    await this.#db
      .insertInto('plan')
      .values(row)
      .onConflict((oc) =>
        oc.column('id').doUpdateSet({
          name: row.name,
          monthly_cap_nano: row.monthly_cap_nano,
          models: row.models,
          public: row.public,
        }),
      )
      .execute();
    this.#plans.set(plan.id, plan);
    return plan;
  }

  async assignPlan(tenantId: string, planId: string | null): Promise<AccountView> {
    if (planId !== null && !this.#plans.has(planId)) {
      throw new GatewayError('not_found', `No plan '${planId}'`, { param: 'planId' });
    }
    await this.#ensureAccount(tenantId);
    await this.#db.updateTable('account').set({ plan_id: planId }).where('tenant_id', '=', tenantId).execute();
    this.#accounts.get(tenantId)!.planId = planId;
    return this.account(tenantId)!;
  }

  /**
   * A user's own choice among the public plans (`POST /v1/account/plan`): applies at once on this process
   * (routing and /v1/models narrow from the next request), on other processes within `billing.pollMs`.
   * Only billed accounts choose; a downgrade's cap counts the month's spend so far.
   */
  async choosePlan(tenantId: string, planId: string): Promise<AccountView> {
    await this.use(tenantId);
    if (!this.#accounts.has(tenantId)) {
      throw new GatewayError('invalid_request', 'This account is not billed, so it has no plan to choose');
    }
    const plan = this.#plans.get(planId);
    if (!plan?.public) {
      throw new GatewayError(
        'not_found',
        `No public plan '${planId.slice(0, 64)}'. GET /v1/account/plans lists them.`,
        {
          param: 'plan',
        },
      );
    }
    return this.assignPlan(tenantId, planId);
  }

  /** Writes queued entries now (resolves when they are in the database). */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    if (this.#queue.length === 0) return;
    const batch = this.#queue;
    this.#queue = [];
    this.#flushing = this.#write(batch).then(
      () => {
        this.#flushing = undefined;
      },
      (err: unknown) => {
        this.#queue = batch.concat(this.#queue);
        this.#flushing = undefined;
        throw err;
      },
    );
    await this.#flushing;
  }

  #enqueue(entry: NewEntry): void {
    this.#queue.push(entry);
    this.#pending.set(entry.tenant_id, (this.#pending.get(entry.tenant_id) ?? 0) + 1);
    if (!this.#timer) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.flush().catch((err: unknown) => {
          this.#o.onError?.(err, 'ledger write');
          if (!this.#timer) {
            this.#timer = setTimeout(() => {
              this.#timer = undefined;
              this.flush().catch((e: unknown) => this.#o.onError?.(e, 'ledger write'));
            }, 1_000);
          }
        });
      }, this.#o.flushIntervalMs ?? 50);
    }
  }

  /**
   * One transaction: the entries, and each account's cached balance moved by the sum of their amounts. On
   * PostgreSQL the account rows of the holds it closes are locked first (in tenant order, as the sweep does); a settlement or
   * release whose hold is already closed (by a sweep that took this process for dead) is dropped, and its
   * effect on memory undone once the transaction commits (the other close reaches memory through the poll).
   */
  async #write(batch: NewEntry[]): Promise<void> {
    const node = this.node;
    const isClose = (e: NewEntry) => (e.kind === 'settle' || e.kind === 'release') && e.hold_id !== null;
    const closeIds = batch.filter(isClose).map((e) => e.hold_id!);
    const dropped = await this.#db.transaction().execute(async (tx) => {
      // SQLite has one gateway per database: no other process can have closed one of its holds.
      const shared = this.#o.dialect === 'postgres';
      // Only the accounts whose holds this batch closes: what a sweep could close too.
      if (shared && closeIds.length > 0) {
        await lockAccounts(tx, [...new Set(batch.filter(isClose).map((e) => e.tenant_id))].sort());
      }
      const closed = shared && closeIds.length > 0 ? await alreadyClosed(tx, closeIds) : new Set<string>();
      const kept = closed.size === 0 ? batch : batch.filter((e) => !(isClose(e) && closed.has(e.hold_id!)));
      const deltas = new Map<string, { amount: number; held: number }>();
      for (const e of kept) {
        const d = deltas.get(e.tenant_id) ?? { amount: 0, held: 0 };
        d.amount += e.amount_nano;
        d.held += e.held_nano;
        deltas.set(e.tenant_id, d);
      }
      const style = placeholderStyle(this.#db);
      for (const chunk of fixedSizeChunks(kept)) {
        const params: unknown[] = [];
        for (const e of chunk) {
          for (const column of ENTRY_COLUMNS) params.push(e[column] ?? null);
          params.push(node);
        }
        await tx.executeQuery(
          CompiledQuery.raw(multiRowInsertSql('ledger_entry', INSERT_COLUMNS, chunk.length, style, ''), params),
        );
      }
      for (const [tenantId, delta] of deltas) {
        if (delta.amount === 0 && delta.held === 0) continue;
        await tx
          .updateTable('account')
          .set({
            balance_nano: sql<number>`balance_nano + ${delta.amount}`,
            held_nano: sql<number>`held_nano + ${delta.held}`,
          })
          .where('tenant_id', '=', tenantId)
          .execute();
      }
      return closed.size === 0 ? [] : batch.filter((e) => isClose(e) && closed.has(e.hold_id!));
    });
    for (const entry of batch) {
      const left = (this.#pending.get(entry.tenant_id) ?? 0) - 1;
      if (left > 0) this.#pending.set(entry.tenant_id, left);
      else this.#pending.delete(entry.tenant_id);
    }
    for (const entry of dropped) {
      this.#applyToMemory({ ...entry, amount_nano: -entry.amount_nano, held_nano: -entry.held_nano });
      this.#o.onError?.(
        new Error(`hold ${entry.hold_id} was already closed by another process; this ${entry.kind} was dropped`),
        'ledger write',
      );
    }
  }

  async #ensureAccount(tenantId: string): Promise<void> {
    if (this.#accounts.has(tenantId)) {
      this.use(tenantId);
      return;
    }
    const tenant = await this.#db
      .selectFrom('tenant')
      .select(['id', 'byok_provider'])
      .where('id', '=', tenantId)
      .executeTakeFirst();
    if (!tenant) throw new GatewayError('not_found', `No tenant '${tenantId}'`);
    if (tenant.byok_provider !== null) {
      throw new GatewayError('invalid_request', 'Bring-your-own-key tenants pay their provider and are never billed');
    }
    await this.#db
      .insertInto('account')
      .values({ tenant_id: tenantId, plan_id: null, balance_nano: 0, held_nano: 0, created_at: this.#now() })
      .onConflict((oc) => oc.column('tenant_id').doNothing())
      .execute();
    // The account may have existed (opened by another process, with entries): loaded, not assumed empty. A
    // load that began before the insert may have found none: it ends first.
    await this.#loading.get(tenantId);
    this.#unbilled.delete(tenantId);
    await this.use(tenantId);
  }

  #rollMonth(a: AccountState): void {
    const start = monthStart(this.#now());
    if (a.monthStart !== start) {
      a.monthStart = start;
      a.monthSpend = 0;
    }
  }

  #idleMs(): number {
    return this.#o.accountIdleMs ?? 600_000;
  }

  /**
   * The node name an entry for this tenant is written under outside the batched writer: this process's own
   * when the account is in memory (the caller applies it to memory; touched so it stays until then), else
   * `#foreign`, which the poll and a later load count like another process's entry.
   */
  #writerFor(tenantId: string): string {
    const a = this.#accounts.get(tenantId);
    if (!a) return this.#foreign;
    a.lastUsed = this.#now();
    return this.node;
  }

  get #foreign(): string {
    return `${this.node}~`;
  }

  /**
   * Plans (a small table) and the poll's starting point; no account is read at start. On PostgreSQL an entry can
   * still be in flight with an id below the newest committed one (its writer took the id first and commits
   * later): the ids missing among the newest MAX_GAPS, read in the same snapshot, are waited for like the poll's
   * own gaps (a rolled-back insert's id stops being waited for after GAP_WAIT_MS). SQLite has one writer at a
   * time, which takes ids in commit order: an entry in flight has an id above every committed one, so the newest
   * id is enough. Without a poll (the CLI) only the newest id matters.
   */
  async #loadPlans(): Promise<void> {
    const db = this.#db;
    const waits = this.#postgres && Boolean(this.#o.pollMs);
    const newest = waits
      ? sql<{ id: unknown }>`
          select id from ledger_entry
          where id > (select coalesce(max(id), 0) from ledger_entry) - ${MAX_GAPS} order by id`.execute(db)
      : sql<{ id: unknown }>`select max(id) as id from ledger_entry`.execute(db);
    const [plans, last] = await Promise.all([db.selectFrom('plan').selectAll().execute(), newest]);
    this.#plans.clear();
    for (const p of plans) this.#plans.set(p.id, planFromRow(p));
    const ids = last.rows.filter((r) => r.id != null).map((r) => toSafeInt(r.id));
    const top = ids.at(-1) ?? 0;
    this.#lastSeenId = top;
    if (!waits) return;
    const now = this.#now();
    let next = Math.max(1, top - MAX_GAPS + 1);
    for (const id of ids) {
      for (; next < id; next++) this.#gaps.set(next, now);
      next = id + 1;
    }
  }

  /** PostgreSQL (several writers, ids taken before commit) rather than SQLite; the CLI passes no dialect. */
  get #postgres(): boolean {
    return placeholderStyle(this.#db) === 'numbered';
  }

  /** One cold load, shared by the concurrent callers of the same tenant. */
  #loadAccount(tenantId: string): Promise<void> {
    const running = this.#loading.get(tenantId);
    if (running) return running;
    const load = this.#fetchAccount(tenantId).finally(() => this.#loading.delete(tenantId));
    this.#loading.set(tenantId, load);
    return load;
  }

  /**
   * Reads one account in one statement (one snapshot): its plan, cached balance and amount held (moved in the
   * same transaction as its entries, so they are exactly the entries committed in that snapshot), the month's
   * settlements, and `seen`, the ids of other processes' entries of this tenant the snapshot holds among those
   * the poll may still read. Every entry is then counted once, by the load or by the poll, never by both and
   * never by neither, however the commits interleave with the ids (PostgreSQL: a writer takes its id and can
   * commit after one that took a higher id):
   * - When the load begins, the poll has read every id up to its cursor except its gaps (the ids it waits for):
   *   so an id at or below the cursor that is not a gap was committed before the load's snapshot (or is a
   *   rolled-back id, or one the poll gave up on, which no one counts). The poll will never read it again: it
   *   reads ids above its cursor and its gaps only, and a gap is only ever added above its cursor.
   * - Every other id (above the cursor then, or a gap then) is one the poll reads at most once from then on. Its
   *   entry is either in the snapshot, and in `seen` (the load reads exactly those ids of the tenant), so the
   *   poll skips it; or not in the snapshot (committed after it, or above its newest id), so the poll applies it.
   * - While the query runs the account is not in memory: what the poll reads for the tenant meanwhile is kept
   *   (`#passing`) and added here, again less what is in `seen`.
   * So no id window is re-read after the load, and an entry in flight during it (below the snapshot's newest id,
   * committed after it) is applied when the poll reads it. `seen` stays small: the tenant's entries since the
   * poll's last round, and those among the ids it waits for.
   */
  async #fetchAccount(tenantId: string): Promise<void> {
    this.#loads++;
    const month = monthStart(this.#now());
    // Without a poll nothing is read after the load: nothing to tell apart.
    const polled = Boolean(this.#o.pollMs);
    const cursor = this.#lastSeenId;
    const waited = [...this.#gaps.keys()];
    const passing: PolledEntry[] = [];
    this.#passing.set(tenantId, passing);
    try {
      const pg = this.#postgres;
      const others =
        waited.length === 0
          ? sql`e.id > ${cursor}`
          : pg
            ? sql`(e.id > ${cursor} or e.id = any(${waited}::bigint[]))`
            : sql`(e.id > ${cursor} or e.id in (select value from json_each(${JSON.stringify(waited)})))`;
      const ids = pg ? sql`string_agg(cast(e.id as text), ',')` : sql`group_concat(e.id, ',')`;
      const seenIds = polled
        ? sql`(select ${ids} from ledger_entry e
            where e.tenant_id = a.tenant_id and e.node <> ${this.node} and ${others})`
        : sql`null`;
      const rows = await sql<{
        plan_id: string | null;
        balance_nano: unknown;
        held_nano: unknown;
        spent: unknown;
        seen: string | null;
      }>`
        select a.plan_id, a.balance_nano, a.held_nano,
          (select coalesce(sum(-e.amount_nano), 0) from ledger_entry e
            where e.tenant_id = a.tenant_id and e.kind = 'settle' and e.at >= ${month}) as spent,
          ${seenIds} as seen
        from account a where a.tenant_id = ${tenantId}`.execute(this.#db);
      const row = rows.rows[0];
      if (!row) {
        this.#unbilled.set(tenantId, this.#now());
        return;
      }
      const seen = new Set<number>(row.seen ? row.seen.split(',').map((id) => toSafeInt(id)) : []);
      const a: AccountState = {
        planId: row.plan_id,
        balance: toSafeInt(row.balance_nano),
        held: toSafeInt(row.held_nano),
        monthStart: month,
        monthSpend: toSafeInt(row.spent),
        lastUsed: this.#now(),
        holds: 0,
        seen: undefined,
      };
      for (const e of passing) {
        if (seen.delete(toSafeInt(e.id))) continue;
        this.#applyEntry(a, toSafeInt(e.amount_nano), toSafeInt(e.held_nano), e.kind, e.at);
      }
      if (seen.size > 0) {
        a.seen = seen;
        this.#unsettled.add(a);
      }
      this.#unbilled.delete(tenantId);
      this.#accounts.set(tenantId, a);
    } finally {
      this.#passing.delete(tenantId);
    }
  }

  /**
   * Drops the accounts unused for `accountIdleMs` with no hold of this process open on them and no entry
   * waiting to be written, and the tenants without an account unused as long. Returns how many were dropped.
   * `at`: the time to judge idleness at (default now; a test drops everything with a far future).
   */
  evictIdle(at: number = this.#now()): number {
    const before = at - this.#idleMs();
    let dropped = 0;
    for (const [tenantId, a] of this.#accounts) {
      if (a.lastUsed > before || a.holds > 0 || this.#pending.has(tenantId)) continue;
      this.#accounts.delete(tenantId);
      this.#unsettled.delete(a);
      dropped++;
    }
    for (const [tenantId, lastUsed] of this.#unbilled) {
      if (lastUsed > before) continue;
      this.#unbilled.delete(tenantId);
      dropped++;
    }
    this.#evictions += dropped;
    return dropped;
  }

  /**
   * What an earlier, killed run left (recovery.ts): its open holds closed, and the requests it served and
   * recorded whose ledger entries died with it charged. Applied to memory and written before serving. The
   * open holds are read directly, not through the accounts; the closes are written before the accounts of the
   * lost charges are loaded (a load then counts them, as this process's entries).
   */
  async #recover(): Promise<{ settled: number; released: number }> {
    const now = this.#now();
    const olderThan = this.#o.shared ? now - (this.#o.staleHoldMs ?? 3_600_000) : Number.MAX_SAFE_INTEGER;
    // Shared: a process that is still beating keeps its holds, even past staleHoldMs (a very long stream).
    const live = this.#o.shared ? await liveNodes(this.#db, now - (this.#o.nodeTimeoutMs ?? 120_000)) : [];
    const closes = await staleHoldCloses(this.#db, olderThan, now, live);
    for (const entry of closes) this.#applyRecovered(entry);
    await this.flush();
    const lost = await lostCharges(
      this.#db,
      async (tenantId) => {
        await this.use(tenantId);
        const a = this.#accounts.get(tenantId);
        return a ? a.balance - a.held : undefined;
      },
      now,
      (requestId, charged, cost) =>
        this.#o.onError?.(new Error(`request ${requestId} charged ${charged} of ${cost}`), 'ledger recovery'),
    );
    for (const entry of lost) this.#applyRecovered(entry);
    await this.flush();
    return {
      settled: closes.filter((e) => e.kind === 'settle').length + lost.filter((e) => e.kind === 'settle').length,
      released: closes.filter((e) => e.kind === 'release').length,
    };
  }

  #applyRecovered(entry: NewEntry): void {
    this.#applyToMemory(entry);
    this.#queue.push(entry);
    this.#pending.set(entry.tenant_id, (this.#pending.get(entry.tenant_id) ?? 0) + 1);
  }

  /** An entry's effect on this process's view of its account (balance, held, month's spend). */
  #applyToMemory(entry: NewEntry): void {
    const a = this.#accounts.get(entry.tenant_id);
    if (a) this.#applyEntry(a, entry.amount_nano, entry.held_nano, entry.kind, entry.at);
  }

  #applyEntry(a: AccountState, amount: number, held: number, kind: string, at: unknown): void {
    a.balance += amount;
    a.held += held;
    if (kind === 'settle') {
      this.#rollMonth(a);
      if (toSafeInt(at) >= a.monthStart) a.monthSpend -= amount;
    }
  }

  /**
   * Entries written by other processes (the CLI, other gateways), applied to the accounts in memory (the
   * others are counted when loaded); plan changes and newly opened accounts of the tenants in memory, read by
   * primary key in chunks: the cost follows the accounts in use, not the table.
   */
  async #poll(): Promise<void> {
    const db = this.#db;
    const plans = await db.selectFrom('plan').selectAll().execute();
    // Accounts before entries: an account is written before its first entry.
    const ids = [...this.#accounts.keys(), ...this.#unbilled.keys()];
    const accounts: Array<{ tenant_id: string; plan_id: string | null }> = [];
    for (let i = 0; i < ids.length; i += POLL_CHUNK) {
      const chunk = ids.slice(i, i + POLL_CHUNK);
      accounts.push(
        ...(await db.selectFrom('account').select(['tenant_id', 'plan_id']).where('tenant_id', 'in', chunk).execute()),
      );
    }
    const columns = ['id', 'tenant_id', 'amount_nano', 'held_nano', 'node', 'kind', 'hold_id', 'at'] as const;
    // Entries that committed after the poll had read past their ids (they were gaps), then the new ones.
    const late: Array<PolledEntry> = [];
    const now = this.#now();
    for (const [id, noticed] of this.#gaps) if (now - noticed > GAP_WAIT_MS) this.#gaps.delete(id);
    const gaps = [...this.#gaps.keys()];
    for (let i = 0; i < gaps.length; i += POLL_CHUNK) {
      const chunk = gaps.slice(i, i + POLL_CHUNK);
      late.push(...(await db.selectFrom('ledger_entry').select(columns).where('id', 'in', chunk).execute()));
    }
    const rows = await db
      .selectFrom('ledger_entry')
      .select(columns)
      .where('id', '>', this.#lastSeenId)
      .orderBy('id')
      .limit(10_000)
      .execute();
    for (const p of plans) this.#plans.set(p.id, planFromRow(p));
    for (const row of accounts) {
      const a = this.#accounts.get(row.tenant_id);
      if (a) a.planId = row.plan_id;
      // Opened since (by the CLI or another process): billed from its next use, which loads it.
      else this.#unbilled.delete(row.tenant_id);
    }
    for (const row of late) {
      // Each id once: a gap leaves the set when its entry is applied.
      if (this.#gaps.delete(toSafeInt(row.id))) this.#polled(row);
    }
    for (const row of rows) {
      const id = toSafeInt(row.id);
      // Ids skipped on the way are entries not committed yet (or never: a rolled-back insert); bounded.
      for (let gap = this.#lastSeenId + 1; gap < id && this.#gaps.size < MAX_GAPS; gap++) this.#gaps.set(gap, now);
      this.#lastSeenId = Math.max(this.#lastSeenId, id);
      this.#polled(row);
    }
    // An id at or below the cursor that is not waited for is never read again: no need to remember skipping it.
    for (const a of this.#unsettled) {
      const seen = a.seen;
      if (seen) for (const id of seen) if (id <= this.#lastSeenId && !this.#gaps.has(id)) seen.delete(id);
      if (!seen || seen.size === 0) {
        a.seen = undefined;
        this.#unsettled.delete(a);
      }
    }
  }

  /** One entry the poll read, applied once to the account in memory if another process wrote it. */
  #polled(row: PolledEntry): void {
    if (row.node === this.node) return;
    // An execution's hold this process opened and another closed (docs/executions.md): no longer open here.
    if (row.hold_id !== null && (row.kind === 'settle' || row.kind === 'release')) this.#forgetDurable(row.hold_id);
    const a = this.#accounts.get(row.tenant_id);
    if (!a) {
      // Being loaded: the load adds it unless its snapshot counted it. Otherwise counted when next loaded.
      this.#passing.get(row.tenant_id)?.push(row);
      return;
    }
    // Counted by its load already (`#fetchAccount`): skipped, once.
    if (a.seen?.delete(toSafeInt(row.id))) return;
    this.#applyEntry(a, toSafeInt(row.amount_nano), toSafeInt(row.held_nano), row.kind, row.at);
  }
}

interface PolledEntry {
  id: unknown;
  tenant_id: string;
  amount_nano: unknown;
  held_nano: unknown;
  node: string;
  kind: string;
  hold_id: string | null;
  at: unknown;
}

/**
 * How long the poll waits for an id it passed to appear (a transaction that took it is still running). A
 * ledger write is one short transaction; an id still missing after this is a rolled-back insert.
 */
const GAP_WAIT_MS = 60_000;
/** At most this many missing ids are waited for (a larger jump is a sequence moved by hand, not writers). */
const MAX_GAPS = 10_000;

/** Tenants per `in (…)` of the poll's account read (well under SQLite's and PostgreSQL's parameter limits). */
const POLL_CHUNK = 500;

function balanceMessage(need: number, left: number): string {
  return `Insufficient balance: this request needs a hold of $${formatUsd(need)} and $${formatUsd(Math.max(0, left))} is available`;
}

/**
 * The columns of a batched write, in parameter order (the writer's `node` last). The batch insert runs every
 * flush (50 ms under load) with up to 128 rows a statement: plain cached SQL like the usage rows'
 * (store/raw-insert.ts), not the query builder, which rebuilt and recompiled every row's values each time.
 */
const ENTRY_COLUMNS = [
  'tenant_id',
  'at',
  'kind',
  'amount_nano',
  'held_nano',
  'hold_id',
  'key_id',
  'request_id',
  'payment_id',
  'admin',
  'reason',
] as const satisfies readonly (keyof NewEntry)[];
const INSERT_COLUMNS = [...ENTRY_COLUMNS, 'node'];

/**
 * A batch split into chunks of a few fixed sizes (128, 16, 4, 1 rows), so the multi-row INSERTs have a handful of
 * SQL shapes that the SQLite statement cache keeps, instead of one shape per batch size: each new shape is a
 * prepared statement whose native memory node:sqlite frees only when its wrapper is garbage-collected.
 */
export function fixedSizeChunks<T>(rows: readonly T[]): T[][] {
  const chunks: T[][] = [];
  let i = 0;
  for (const size of [128, 16, 4, 1]) {
    while (rows.length - i >= size) {
      chunks.push(rows.slice(i, i + size));
      i += size;
    }
  }
  return chunks;
}
