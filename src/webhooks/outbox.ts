import { randomUUID } from 'node:crypto';
import { type Kysely, type Selectable, sql } from 'kysely';
import type { WebhookEnqueue, WebhookMessage } from '../core/execution-contracts.ts';
import type { SqlDialect } from '../store/migrations/column-types.ts';
import type { Database } from '../store/schema.ts';
import type { WebhookAttemptTable, WebhookDeliveryTable } from '../store/webhook-tables.ts';
import { yieldToEventLoop } from '../store/yield.ts';
import type { AttemptResult } from './send.ts';

/**
 * The webhook outbox (decision 0034): a message is a row written in the transaction of the state change it
 * announces, so it exists exactly when that change does; deliverers claim due rows with a lease and record
 * every attempt. The same rows answer the tenant API (list, one delivery with its attempts, redeliver).
 */
export type DeliveryRow = Selectable<WebhookDeliveryTable>;
export type AttemptRow = Selectable<WebhookAttemptTable>;

export type DeliveryState = 'pending' | 'delivered' | 'failed';

export interface Claimed {
  row: DeliveryRow;
  token: string;
}

export interface ListQuery {
  limit: number;
  /** A delivery id: list the ones created before it (newest first). */
  startingAfter?: string | undefined;
  state?: DeliveryState | undefined;
  messageId?: string | undefined;
}

export interface QueueStats {
  /** Deliveries not yet delivered nor failed. */
  pending: number;
  /** Age of the oldest due delivery (ms); 0 when none is due. */
  oldestDueMs: number;
}

/** The host and port of a URL, lower case ('' when it does not parse): the key of the per-host cap. */
export function hostKey(url: string): string {
  try {
    return new URL(url).host.toLowerCase();
  } catch {
    return '';
  }
}

export class WebhookOutbox implements WebhookEnqueue {
  readonly #db: Kysely<Database>;
  readonly #dialect: SqlDialect;
  readonly #now: () => number;
  /** Called after each enqueue (the deliverer's wake-up, once the caller's transaction has likely committed). */
  onEnqueue: () => void = () => {};

  constructor(options: { db: Kysely<Database>; dialect: SqlDialect; now?: () => number }) {
    this.#db = options.db;
    this.#dialect = options.dialect;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Inserts the message into `trx` (a Kysely transaction, or the database itself). The same message id of the
   * same tenant enqueued again is ignored: a retried state change never sends a second message.
   */
  async enqueue(trx: unknown, message: WebhookMessage): Promise<void> {
    const db = (trx ?? this.#db) as Kysely<Database>;
    const now = this.#now();
    const payload = JSON.stringify({ type: message.type, timestamp: new Date(now).toISOString(), data: message.data });
    await db
      .insertInto('webhook_delivery')
      .values({
        id: `whd_${randomUUID().replaceAll('-', '')}`,
        tenant_id: message.tenantId,
        message_id: message.messageId,
        type: message.type,
        url: message.url,
        host: hostKey(message.url),
        payload,
        state: 'pending',
        attempts: 0,
        manual: 0,
        next_at: now,
        lease_token: null,
        last_status: null,
        last_error: null,
        created_at: now,
        updated_at: now,
        delivered_at: null,
      })
      .onConflict((oc) => oc.columns(['tenant_id', 'message_id']).doNothing())
      .execute();
    this.onEnqueue();
  }

  /**
   * Claims up to `limit` due deliveries (none to `skipHosts`) for `leaseMs`: their `next_at` moves a lease ahead (due again then if
   * this deliverer dies) under a new token that the result must present. PostgreSQL skips rows another
   * deliverer is claiming (FOR UPDATE SKIP LOCKED); SQLite's transaction holds the write lock (begin immediate).
   * A row still holding an earlier claim's token was claimed by a deliverer that died mid-attempt: that attempt
   * is recorded as `interrupted` (the receiver may or may not have had it) and counts in the schedule.
   */
  async claim(limit: number, leaseMs: number, skipHosts: readonly string[] = []): Promise<Claimed[]> {
    if (limit <= 0) return [];
    const now = this.#now();
    const token = randomUUID();
    const rows = await this.#db.transaction().execute(async (trx) => {
      let due = trx
        .selectFrom('webhook_delivery')
        .select(['id', 'tenant_id', 'lease_token', 'updated_at', 'manual'])
        .where('state', '=', 'pending')
        .where('next_at', '<=', now)
        .orderBy('next_at')
        .limit(limit);
      if (skipHosts.length > 0) due = due.where('host', 'not in', skipHosts);
      if (this.#dialect === 'postgres') due = due.forUpdate().skipLocked();
      const found = await due.execute();
      if (found.length === 0) return [];
      const interrupted = found.filter((r) => r.lease_token !== null);
      if (interrupted.length > 0) {
        await trx
          .insertInto('webhook_attempt')
          .values(
            interrupted.map((r) => ({
              delivery_id: r.id,
              tenant_id: r.tenant_id,
              at: r.updated_at,
              duration_ms: 0,
              status: null,
              error: 'interrupted',
              excerpt: null,
              manual: r.manual,
            })),
          )
          .execute();
      }
      const ids = found.map((r) => r.id);
      const stale = interrupted.map((r) => r.id);
      return trx
        .updateTable('webhook_delivery')
        .set({
          next_at: now + leaseMs,
          lease_token: token,
          updated_at: now,
          ...(stale.length > 0
            ? {
                attempts: sql<number>`attempts + case when id in (${sql.join(stale)}) then 1 else 0 end`,
                last_status: sql<null>`case when id in (${sql.join(stale)}) then null else last_status end`,
                last_error: sql<string>`case when id in (${sql.join(stale)}) then 'interrupted' else last_error end`,
              }
            : {}),
        })
        .where('id', 'in', ids)
        .returningAll()
        .execute();
    });
    return rows.map((row) => ({ row, token }));
  }

  /**
   * Records an attempt (always: it happened) and moves the delivery on, if this claim still holds it:
   * delivered on a 2xx; otherwise due again after `retryInMs`, or failed when that is undefined.
   */
  async record(
    claimed: Claimed,
    at: number,
    result: AttemptResult,
    retryInMs: number | undefined,
  ): Promise<DeliveryState | undefined> {
    const { row, token } = claimed;
    const now = this.#now();
    const state: DeliveryState = result.ok ? 'delivered' : retryInMs === undefined ? 'failed' : 'pending';
    return this.#db.transaction().execute(async (trx) => {
      await trx
        .insertInto('webhook_attempt')
        .values({
          delivery_id: row.id,
          tenant_id: row.tenant_id,
          at,
          duration_ms: result.durationMs,
          status: result.status,
          error: result.error,
          excerpt: result.excerpt,
          manual: row.manual,
        })
        .execute();
      const updated = await trx
        .updateTable('webhook_delivery')
        .set({
          state,
          attempts: sql`attempts + 1`,
          manual: 0,
          next_at: state === 'pending' ? now + (retryInMs ?? 0) : now,
          lease_token: null,
          last_status: result.status,
          last_error: result.error,
          updated_at: now,
          ...(result.ok ? { delivered_at: now } : {}),
        })
        .where('id', '=', row.id)
        .where('lease_token', '=', token)
        .executeTakeFirst();
      return Number(updated.numUpdatedRows) > 0 ? state : undefined;
    });
  }

  /** Hands a claimed delivery back, due now (a deliverer shutting down mid-attempt). */
  async release(claimed: Claimed): Promise<void> {
    const now = this.#now();
    await this.#db
      .updateTable('webhook_delivery')
      .set({ next_at: now, lease_token: null, updated_at: now })
      .where('id', '=', claimed.row.id)
      .where('lease_token', '=', claimed.token)
      .execute();
  }

  /** A tenant's deliveries, newest first. */
  async list(tenantId: string, query: ListQuery): Promise<{ rows: DeliveryRow[]; hasMore: boolean }> {
    let q = this.#db
      .selectFrom('webhook_delivery')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(query.limit + 1);
    if (query.state) q = q.where('state', '=', query.state);
    if (query.messageId) q = q.where('message_id', '=', query.messageId);
    if (query.startingAfter) {
      const cursor = await this.get(tenantId, query.startingAfter);
      if (!cursor) return { rows: [], hasMore: false };
      q = q.where((eb) =>
        eb.or([
          eb('created_at', '<', cursor.created_at),
          eb.and([eb('created_at', '=', cursor.created_at), eb('id', '<', cursor.id)]),
        ]),
      );
    }
    const rows = await q.execute();
    return { rows: rows.slice(0, query.limit), hasMore: rows.length > query.limit };
  }

  /** One of the tenant's deliveries; undefined for another tenant's id. */
  get(tenantId: string, id: string): Promise<DeliveryRow | undefined> {
    return this.#db
      .selectFrom('webhook_delivery')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('id', '=', id)
      .executeTakeFirst();
  }

  /** The attempts of these deliveries, oldest first. */
  async attemptsOf(tenantId: string, ids: readonly string[]): Promise<Map<string, AttemptRow[]>> {
    const out = new Map<string, AttemptRow[]>();
    if (ids.length === 0) return out;
    const rows = await this.#db
      .selectFrom('webhook_attempt')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .where('delivery_id', 'in', ids)
      .orderBy('id')
      .execute();
    for (const row of rows) {
      const list = out.get(row.delivery_id) ?? [];
      list.push(row);
      out.set(row.delivery_id, list);
    }
    return out;
  }

  /**
   * Manual redelivery: a pending delivery becomes due now (unless an attempt is under way); a delivered or
   * failed one gets one more attempt now with the same `webhook-id`, after which it is delivered or failed
   * again (no new retry schedule). Undefined for another tenant's id.
   */
  async redeliver(tenantId: string, id: string): Promise<DeliveryRow | undefined> {
    const now = this.#now();
    await this.#db.transaction().execute(async (trx) => {
      await trx
        .updateTable('webhook_delivery')
        .set({ state: 'pending', manual: 1, next_at: now, lease_token: null, updated_at: now })
        .where('tenant_id', '=', tenantId)
        .where('id', '=', id)
        .where('state', '!=', 'pending')
        .execute();
      await trx
        .updateTable('webhook_delivery')
        .set({ next_at: now, updated_at: now })
        .where('tenant_id', '=', tenantId)
        .where('id', '=', id)
        .where('state', '=', 'pending')
        .where('lease_token', 'is', null)
        .where('next_at', '>', now)
        .execute();
    });
    return this.get(tenantId, id);
  }

  async stats(): Promise<QueueStats> {
    const now = this.#now();
    const row = await this.#db
      .selectFrom('webhook_delivery')
      .select((eb) => [eb.fn.countAll<number>().as('pending')])
      .where('state', '=', 'pending')
      .executeTakeFirst();
    const oldest = await this.#db
      .selectFrom('webhook_delivery')
      .select((eb) => eb.fn.min<number>('next_at').as('at'))
      .where('state', '=', 'pending')
      .where('next_at', '<=', now)
      .executeTakeFirst();
    const at = oldest?.at == null ? undefined : Number(oldest.at);
    return { pending: Number(row?.pending ?? 0), oldestDueMs: at === undefined ? 0 : Math.max(0, now - at) };
  }

  /** Deletes finished deliveries (and their attempts) created before `before`, in chunks; returns how many. */
  async prune(before: number, chunk = 500): Promise<number> {
    let total = 0;
    for (;;) {
      const ids = (
        await this.#db
          .selectFrom('webhook_delivery')
          .select('id')
          .where('state', '!=', 'pending')
          .where('created_at', '<', before)
          .limit(chunk)
          .execute()
      ).map((r) => r.id);
      if (ids.length === 0) return total;
      await this.#db.transaction().execute(async (trx) => {
        await trx.deleteFrom('webhook_attempt').where('delivery_id', 'in', ids).execute();
        await trx.deleteFrom('webhook_delivery').where('id', 'in', ids).execute();
      });
      total += ids.length;
      // Sockets and timers run between chunks (node:sqlite statements are synchronous).
      await yieldToEventLoop();
    }
  }
}
