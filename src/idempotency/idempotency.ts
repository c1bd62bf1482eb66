import { createHash, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { GatewayError } from '../core/errors.ts';
import {
  completeIdempotencyKey,
  insertIdempotencyKey,
  pruneIdempotencyKeys,
  releaseIdempotencyKey,
  selectIdempotencyKey,
  takeOverIdempotencyKey,
} from '../store/idempotency-keys.ts';
import type { Database } from '../store/schema.ts';

/**
 * Idempotency keys with Stripe's semantics (docs/idempotency.md, decision 0035), for any POST that creates
 * something or costs money: `POST /v1/files`, non-streaming chat, and `POST /v1/executions`.
 *
 *   const started = await idempotency.begin(tenantId, key, fingerprint('POST', '/v1/x', bodyBytes));
 *   if (started.kind === 'replay') return send(started.response);      // the first request's answer
 *   if (started.kind === 'conflict') return sendError(started.error);  // 409 idempotency_conflict
 *   const response = await run();
 *   await started.finish(response);   // stored (or the key released if the response is retryable), then sent
 *
 * The key is a row whose primary key is (tenant, key): the first request inserts it "in progress" and every
 * other request, in any process sharing the database, finds it taken. A concurrent duplicate is refused at once
 * with 409 (it does not wait). Retryable answers (429 and 5xx) are not stored: the key is released so that a
 * retry runs again. Keys expire `ttlMs` after the first request (24 hours by default) and are pruned.
 */

/** A response as it is stored and replayed: status, the headers that matter, and the body text. */
export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type Begun =
  | {
      kind: 'new';
      /** Stores the response (or releases the key for a retryable one); call before sending it. Never throws. */
      finish(response: StoredResponse): Promise<void>;
      /** Gives the key up without a response (the request could not run); never throws. */
      release(): Promise<void>;
      /**
       * Stores the response in `trx`, the transaction that creates what it names (an execution, a file), so the
       * two commit together and a crash cannot leave the thing created while its key still runs (a retry after the
       * lock timeout would create it again). Then `finish` with this same response object writes nothing more;
       * if the transaction rolls back, `finish` or `release` with another response handles the key as usual.
       * Throws what the statement throws (the transaction must fail with it).
       */
      finishIn(trx: Kysely<Database>, response: StoredResponse): Promise<void>;
    }
  | { kind: 'replay'; response: StoredResponse }
  | { kind: 'conflict'; reason: 'in_progress' | 'mismatch'; error: GatewayError };

export interface IdempotencyOptions {
  db: Kysely<Database>;
  /** A key (and its stored response) is kept this long after its first request. */
  ttlMs: number;
  /** A request still in progress after this long is presumed dead (its process crashed); the key can be taken over. */
  lockTimeoutMs: number;
  /** How often expired keys are deleted; default hourly. */
  pruneIntervalMs?: number;
  now?: () => number;
  /** Each begin's outcome (metrics). */
  onOutcome?: (outcome: 'new' | 'replay' | 'in_progress' | 'mismatch') => void;
  /** A failed write or prune (the caller logs it; never the stored body). */
  onError?: (err: unknown, during: 'finish' | 'release' | 'prune') => void;
}

/** Longest accepted key, as Stripe. */
export const MAX_KEY_LENGTH = 255;
/** The request header (any case). */
export const IDEMPOTENCY_HEADER = 'idempotency-key';
/** Set on a replayed response. */
export const REPLAYED_HEADER = 'idempotent-replayed';

/** The request's fingerprint: method, path and a hash of the body (bytes, or text that stands for them). */
export function fingerprint(method: string, path: string, body: string | Uint8Array): string {
  return createHash('sha256').update(`${method.toUpperCase()} ${path}\n`).update(body).digest('hex');
}

/**
 * The key a request sent, checked: undefined when it sent none; a GatewayError when it is empty, too long or
 * sent twice.
 */
export function keyOf(headers: Record<string, string | string[] | undefined>): string | undefined | GatewayError {
  const value = headers[IDEMPOTENCY_HEADER];
  if (value === undefined) return undefined;
  if (Array.isArray(value)) {
    return new GatewayError('invalid_request', 'Send one Idempotency-Key header, not several', {
      param: 'Idempotency-Key',
    });
  }
  if (value.length === 0 || value.length > MAX_KEY_LENGTH) {
    return new GatewayError('invalid_request', `Idempotency-Key must be 1 to ${MAX_KEY_LENGTH} characters`, {
      param: 'Idempotency-Key',
    });
  }
  return value;
}

/** Whether a response is kept for replays: not when a retry may succeed (429, 5xx). */
export function isStored(status: number): boolean {
  return status < 500 && status !== 429 && status !== 408;
}

export class Idempotency {
  readonly #db: Kysely<Database>;
  readonly #ttlMs: number;
  readonly #lockMs: number;
  readonly #pruneIntervalMs: number;
  readonly #now: () => number;
  readonly #onError: NonNullable<IdempotencyOptions['onError']>;
  readonly #onOutcome: NonNullable<IdempotencyOptions['onOutcome']>;
  #pruneTimer: NodeJS.Timeout | undefined;
  #pruning: Promise<unknown> | undefined;

  constructor(options: IdempotencyOptions) {
    this.#db = options.db;
    this.#ttlMs = options.ttlMs;
    this.#lockMs = options.lockTimeoutMs;
    this.#pruneIntervalMs = options.pruneIntervalMs ?? 3_600_000;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => {});
    this.#onOutcome = options.onOutcome ?? (() => {});
  }

  /** Starts the periodic prune of expired keys (the first one now, in the background). */
  start(): void {
    if (this.#pruneTimer) return;
    this.#backgroundPrune();
    this.#pruneTimer = setInterval(() => this.#backgroundPrune(), this.#pruneIntervalMs).unref();
  }

  /**
   * The first request with this key (`new`: run it, then `finish`), a later one with the same fingerprint
   * (`replay`), or a `conflict`: another body under the same key, or the first request still running.
   * A database failure is thrown (the caller answers 500; nothing was taken).
   */
  async begin(tenantId: string, key: string, requestFingerprint: string): Promise<Begun> {
    const begun = await this.#begin(tenantId, key, requestFingerprint);
    this.#onOutcome(begun.kind === 'conflict' ? begun.reason : begun.kind);
    return begun;
  }

  async #begin(tenantId: string, key: string, requestFingerprint: string): Promise<Begun> {
    const owner = randomUUID();
    for (let attempt = 0; attempt < 5; attempt++) {
      const now = this.#now();
      const taken = {
        tenantId,
        key,
        fingerprint: requestFingerprint,
        owner,
        now,
        lockMs: this.#lockMs,
        ttlMs: this.#ttlMs,
      };
      if (await insertIdempotencyKey(this.#db, taken)) return this.#held(tenantId, key, owner);
      const row = await selectIdempotencyKey(this.#db, tenantId, key);
      // Released or pruned between the two statements: try to take it again.
      if (!row) continue;
      const dead = row.expiresAt <= now || (row.status === null && (row.lockedUntil ?? 0) <= now);
      if (dead) {
        if (await takeOverIdempotencyKey(this.#db, { ...taken, previousOwner: row.owner })) {
          return this.#held(tenantId, key, owner);
        }
        continue;
      }
      if (row.fingerprint !== requestFingerprint) {
        return {
          kind: 'conflict',
          reason: 'mismatch',
          error: new GatewayError(
            'idempotency_conflict',
            'This Idempotency-Key was already used with a different request (method, path or body); use a new key for a new request',
            { param: 'Idempotency-Key' },
          ),
        };
      }
      if (row.status === null) {
        return {
          kind: 'conflict',
          reason: 'in_progress',
          error: new GatewayError(
            'idempotency_conflict',
            'A request with this Idempotency-Key is still in progress; retry after it has finished to get its response',
            { param: 'Idempotency-Key' },
          ),
        };
      }
      return {
        kind: 'replay',
        response: {
          status: row.status,
          headers: row.headers ? (JSON.parse(row.headers) as Record<string, string>) : {},
          body: row.body ?? '',
        },
      };
    }
    throw new Error('idempotency key kept changing under five attempts to take it');
  }

  /** Deletes expired keys now; returns how many. */
  prune(): Promise<number> {
    return pruneIdempotencyKeys(this.#db, this.#now());
  }

  /** Stops pruning and waits for a prune under way; the database stays open. */
  async close(): Promise<void> {
    clearInterval(this.#pruneTimer);
    this.#pruneTimer = undefined;
    await this.#pruning;
  }

  #held(tenantId: string, key: string, owner: string): Extract<Begun, { kind: 'new' }> {
    let done = false;
    let staged: StoredResponse | undefined;
    const release = async () => {
      if (done) return;
      done = true;
      await releaseIdempotencyKey(this.#db, { tenantId, key, owner }).catch((err: unknown) =>
        this.#onError(err, 'release'),
      );
    };
    return {
      kind: 'new',
      release,
      finishIn: async (trx, response) => {
        staged = response;
        const held = await completeIdempotencyKey(trx, {
          tenantId,
          key,
          owner,
          status: response.status,
          headers: JSON.stringify(response.headers),
          body: response.body,
        });
        // Taken over (this request outlived the lock timeout): the key is the other request's now.
        if (!held)
          this.#onError(new Error('the idempotency key was taken over before its answer was stored'), 'finish');
      },
      finish: async (response) => {
        if (done) return;
        if (response === staged) {
          done = true;
          return;
        }
        if (!isStored(response.status)) return release();
        done = true;
        await completeIdempotencyKey(this.#db, {
          tenantId,
          key,
          owner,
          status: response.status,
          headers: JSON.stringify(response.headers),
          body: response.body,
        }).catch(async (err: unknown) => {
          this.#onError(err, 'finish');
          // Not stored: let a retry run again rather than answer 409 until the lock times out.
          await releaseIdempotencyKey(this.#db, { tenantId, key, owner }).catch(() => {});
        });
      },
    };
  }

  #backgroundPrune(): void {
    if (this.#pruning) return;
    this.#pruning = this.prune()
      .catch((err: unknown) => this.#onError(err, 'prune'))
      .finally(() => {
        this.#pruning = undefined;
      });
  }
}
