import { CompiledQuery, type Kysely, type Transaction } from 'kysely';
import type { ExecutionStatus, ExecutionTable } from '../store/execution-tables.ts';
import type { SqlDialect } from '../store/migrations/column-types.ts';
import { multiRowInsertSql, placeholderStyle } from '../store/raw-insert.ts';
import type { Database } from '../store/schema.ts';
import { yieldToEventLoop } from '../store/yield.ts';

/**
 * The durable queue: the `execution` table and every statement on it (decision 0030). Claims take one row at a
 * time with a lease (PostgreSQL: `for update skip locked`, so replicas never take the same row; SQLite: one
 * `update … returning` under the database's write lock); every later write is conditional on the status and
 * the lease owner, so a worker that lost its lease (it stalled, it was presumed dead) cannot write over the
 * one that took the row after it. Inputs are read only for the rows claimed.
 */

export type ExecutionRow = ExecutionTable;

/** What a worker reads of a row it claimed. */
export type ClaimedRow = Pick<
  ExecutionRow,
  | 'id'
  | 'tenant_id'
  | 'key_id'
  | 'model'
  | 'resolved_model'
  | 'kind'
  | 'provider'
  | 'input'
  | 'caller'
  | 'webhook_url'
  | 'metadata'
  | 'held_nano'
  | 'attempts'
  | 'deadline_at'
  | 'created_at'
  | 'started_at'
  | 'estimated_nano'
  | 'error_code'
  | 'error_message'
  | 'upstream_job'
>;

const CLAIMED: ReadonlyArray<keyof ClaimedRow> = [
  'id',
  'tenant_id',
  'key_id',
  'model',
  'resolved_model',
  'kind',
  'provider',
  'input',
  'caller',
  'webhook_url',
  'metadata',
  'held_nano',
  'attempts',
  'deadline_at',
  'created_at',
  'started_at',
  'estimated_nano',
  'error_code',
  'error_message',
  'upstream_job',
];

/** What the API shows of a row (everything but the input and the caller). */
export const VIEW_COLUMNS = [
  'id',
  'tenant_id',
  'model',
  'kind',
  'status',
  'webhook_url',
  'metadata',
  'estimated_nano',
  'attempts',
  'created_at',
  'started_at',
  'completed_at',
  'output',
  'usage',
  'cost_nano',
  'served_by',
  'error_code',
  'error_message',
] as const;
export type ViewRow = Pick<ExecutionRow, (typeof VIEW_COLUMNS)[number]>;

export const TERMINAL: readonly ExecutionStatus[] = ['COMPLETED', 'FAILED', 'CANCELLED'];

/** Every column of a new row (a column added later with a default may be left out). */
const INSERT_COLUMNS = [
  'id',
  'tenant_id',
  'key_id',
  'model',
  'resolved_model',
  'kind',
  'provider',
  'status',
  'input',
  'caller',
  'webhook_url',
  'metadata',
  'estimated_nano',
  'held_nano',
  'attempts',
  'run_after',
  'deadline_at',
  'lease_owner',
  'lease_until',
  'created_at',
  'started_at',
  'completed_at',
  'output',
  'usage',
  'cost_nano',
  'served_by',
  'error_code',
  'error_message',
  'upstream_job',
] as const satisfies readonly (keyof ExecutionRow)[];
/** A column added to the table must be added above too (this fails to compile otherwise). */
const EVERY_COLUMN: [Exclude<keyof ExecutionRow, (typeof INSERT_COLUMNS)[number]>] extends [never] ? true : never =
  true;
void EVERY_COLUMN;
const INSERT_CHUNK = 16;
/** The queue-depth gauge counts up to this many. */
export const QUEUED_GAUGE_CAP = 100_000;

/** Rows per DELETE of the retention: each statement stays short (SQLite blocks the event loop meanwhile). */
const PRUNE_CHUNK = 1_000;

export class ExecutionQueue {
  readonly db: Kysely<Database>;
  readonly #dialect: SqlDialect;

  constructor(db: Kysely<Database>, dialect: SqlDialect) {
    this.db = db;
    this.#dialect = dialect;
  }

  /**
   * A group commit's rows, as cached plain SQL (raw-insert.ts) in chunks of 16, 8, 4, 2 and 1 rows: the
   * submissions path skips the query builder, and only five statement shapes exist.
   */
  async insert(trx: Transaction<Database>, rows: ExecutionRow[]): Promise<void> {
    const style = placeholderStyle(this.db);
    let start = 0;
    for (let size = INSERT_CHUNK; size >= 1; size >>= 1) {
      while (rows.length - start >= size) {
        const params: unknown[] = [];
        for (let i = start; i < start + size; i++) {
          const row = rows[i] as unknown as Record<string, unknown>;
          for (const column of INSERT_COLUMNS) params.push(row[column] ?? null);
        }
        await trx.executeQuery(
          CompiledQuery.raw(multiRowInsertSql('execution', INSERT_COLUMNS, size, style, ''), params),
        );
        start += size;
      }
    }
  }

  /**
   * Claims the oldest due PENDING row not of a busy tenant or provider: PROCESSING, leased under the token
   * `owner` (unique per claim) until `leaseUntil`, its attempts counted. Undefined when nothing is due.
   */
  async claim(
    owner: string,
    now: number,
    leaseUntil: number,
    busy: { tenants: string[]; providers: string[] },
  ): Promise<ClaimedRow | undefined> {
    let due = this.db
      .selectFrom('execution')
      .select('id')
      .where('status', '=', 'PENDING')
      .where('run_after', '<=', now)
      .orderBy('run_after')
      .orderBy('id')
      .limit(1);
    if (busy.tenants.length > 0) due = due.where('tenant_id', 'not in', busy.tenants);
    if (busy.providers.length > 0) {
      due = due.where((eb) => eb.or([eb('provider', 'is', null), eb('provider', 'not in', busy.providers)]));
    }
    const set = {
      status: 'PROCESSING' as const,
      lease_owner: owner,
      lease_until: leaseUntil,
    };
    if (this.#dialect === 'postgres') {
      // A CTE, not `where id in (select … limit 1 for update skip locked)`: PostgreSQL may run such a subquery
      // more than once for one update and so take several rows.
      const claimed = await this.db
        .with('due', () => due.forUpdate().skipLocked())
        .updateTable('execution')
        .from('due')
        .set((eb) => ({
          ...set,
          attempts: eb('execution.attempts', '+', 1),
          started_at: eb.fn.coalesce('execution.started_at', eb.val(now)),
        }))
        .whereRef('execution.id', '=', 'due.id')
        .returning(CLAIMED.map((c) => `execution.${c}` as const))
        .execute();
      return claimed[0];
    }
    // SQLite: one statement under the write lock; the subquery runs once.
    return this.db
      .updateTable('execution')
      .set((eb) => ({
        ...set,
        attempts: eb('attempts', '+', 1),
        started_at: eb.fn.coalesce('started_at', eb.val(now)),
      }))
      .where('id', 'in', due)
      .where('status', '=', 'PENDING')
      .returning(CLAIMED)
      .executeTakeFirst();
  }

  /** Rows whose worker stopped renewing its lease go back to PENDING (their attempt stays counted). */
  async reap(now: number): Promise<number> {
    const result = await this.db
      .updateTable('execution')
      .set({ status: 'PENDING', lease_owner: null, lease_until: null, run_after: now })
      .where('status', '=', 'PROCESSING')
      .where('lease_until', '<', now)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Extends the leases still held (PROCESSING under that lease token); returns the tokens that still are. */
  async renew(leases: Array<{ id: string; lease: string }>, leaseUntil: number): Promise<Set<string>> {
    if (leases.length === 0) return new Set();
    const rows = await this.db
      .updateTable('execution')
      .set({ lease_until: leaseUntil })
      .where(
        'id',
        'in',
        leases.map((l) => l.id),
      )
      .where(
        'lease_owner',
        'in',
        leases.map((l) => l.lease),
      )
      .where('status', '=', 'PROCESSING')
      .returning('lease_owner')
      .execute();
    return new Set(rows.map((r) => r.lease_owner!));
  }

  /** Back to PENDING after a retryable failure (or at shutdown), due at `runAfter`; false: no longer ours. */
  async requeue(
    owner: string,
    id: string,
    runAfter: number,
    error: { code: string; message: string } | null,
  ): Promise<boolean> {
    const result = await this.db
      .updateTable('execution')
      .set({
        status: 'PENDING',
        lease_owner: null,
        lease_until: null,
        run_after: runAfter,
        ...(error ? { error_code: error.code, error_message: error.message } : {}),
      })
      .where('id', '=', id)
      .where('status', '=', 'PROCESSING')
      .where('lease_owner', '=', owner)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * Records (a JSON UpstreamJob) or forgets (null) the upstream job of the run holding the row under `owner`
   * (decision 0038); false when the row is no longer that run's.
   */
  async setUpstreamJob(owner: string, id: string, job: string | null): Promise<boolean> {
    const result = await this.db
      .updateTable('execution')
      .set({ upstream_job: job })
      .where('id', '=', id)
      .where('status', '=', 'PROCESSING')
      .where('lease_owner', '=', owner)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * The terminal state, written once: only while the row is PROCESSING under `owner` (the worker's end) or,
   * for a cancel (`owner` null), while it is PENDING or PROCESSING and the tenant's. Returns the row's billing
   * fields when this call made the change, in `trx` (the hold's close and the webhook go in the same one).
   */
  async finish(
    trx: Transaction<Database>,
    id: string,
    who: { owner: string } | { tenantId: string },
    values: Partial<
      Pick<
        ExecutionRow,
        'output' | 'usage' | 'cost_nano' | 'served_by' | 'error_code' | 'error_message' | 'completed_at'
      >
    > & { status: ExecutionStatus },
  ): Promise<
    Pick<ExecutionRow, 'tenant_id' | 'key_id' | 'held_nano' | 'webhook_url' | 'kind' | 'upstream_job'> | undefined
  > {
    let update = trx
      .updateTable('execution')
      .set({ ...values, lease_owner: null, lease_until: null })
      .where('id', '=', id);
    update =
      'owner' in who
        ? update.where('status', '=', 'PROCESSING').where('lease_owner', '=', who.owner)
        : update.where('status', 'in', ['PENDING', 'PROCESSING']).where('tenant_id', '=', who.tenantId);
    return update
      .returning(['tenant_id', 'key_id', 'held_nano', 'webhook_url', 'kind', 'upstream_job'])
      .executeTakeFirst();
  }

  /**
   * Takes the upstream job off a row that `trx` has just ended (decision 0042): the terminal write is made once,
   * so only the transaction that made it clears the job, and only its writer cancels it upstream.
   */
  async dropUpstreamJob(trx: Transaction<Database>, id: string): Promise<void> {
    await trx.updateTable('execution').set({ upstream_job: null }).where('id', '=', id).executeTakeFirst();
  }

  /**
   * Whether the managed key that submitted an execution has been revoked or has expired since (its queued
   * executions then do not run). Keys of the configuration file are not in the table and stay valid.
   */
  async keyGone(keyId: string, now: number): Promise<boolean> {
    const key = await this.db
      .selectFrom('api_key')
      .select(['revoked_at', 'expires_at'])
      .where('id', '=', keyId)
      .executeTakeFirst();
    if (!key) return false;
    return key.revoked_at !== null || (key.expires_at !== null && Number(key.expires_at) <= now);
  }

  async view(tenantId: string, id: string): Promise<ViewRow | undefined> {
    return this.db
      .selectFrom('execution')
      .select(VIEW_COLUMNS)
      .where('id', '=', id)
      .where('tenant_id', '=', tenantId)
      .executeTakeFirst();
  }

  /** A tenant's executions, newest first, after the cursor `after` (an id), optionally of one status. */
  async list(
    tenantId: string,
    options: { limit: number; after?: string | undefined; status?: ExecutionStatus | undefined },
  ): Promise<ViewRow[]> {
    let q = this.db
      .selectFrom('execution')
      .select(VIEW_COLUMNS)
      .where('tenant_id', '=', tenantId)
      .orderBy('id', 'desc')
      .limit(options.limit);
    if (options.after) q = q.where('id', '<', options.after);
    if (options.status) q = q.where('status', '=', options.status);
    return q.execute();
  }

  /** Retention: deletes ended executions (their inputs and outputs) that ended before `olderThan`, in chunks. */
  async prune(olderThan: number): Promise<number> {
    let total = 0;
    for (;;) {
      await yieldToEventLoop();
      const result = await this.db
        .deleteFrom('execution')
        .where('id', 'in', (eb) =>
          eb
            .selectFrom('execution')
            .select('id')
            .where('status', 'in', [...TERMINAL])
            .where('completed_at', '<', olderThan)
            .limit(PRUNE_CHUNK),
        )
        .executeTakeFirst();
      const deleted = Number(result.numDeletedRows);
      total += deleted;
      if (deleted < PRUNE_CHUNK) return total;
    }
  }

  /**
   * How many executions wait (PENDING), for the queue-depth gauge, counted up to QUEUED_GAUGE_CAP: an index
   * range read whose cost grows with the queue, which on SQLite blocks the event loop at every scrape (about
   * 10 ms at the cap); a deeper queue reads as the cap.
   */
  async queued(cap: number = QUEUED_GAUGE_CAP): Promise<number> {
    const row = await this.db
      .selectFrom((eb) => eb.selectFrom('execution').select('id').where('status', '=', 'PENDING').limit(cap).as('p'))
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async statusCounts(): Promise<Record<string, number>> {
    const rows = await this.db
      .selectFrom('execution')
      .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('status')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  }
}
