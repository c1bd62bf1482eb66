import type { Kysely } from 'kysely';
import type { Message } from '../core/ir.ts';
import type { Database } from '../store/schema.ts';
import {
  deleteStoredResponse,
  insertStoredResponse,
  pruneStoredResponses,
  selectStoredResponse,
} from '../store/stored-responses.ts';

/** A stored answer: the conversation up to and including it (internal messages), and its Response object. */
export interface StoredConversation {
  messages: Message[];
  response: Record<string, unknown>;
}

export interface ResponseStoreOptions {
  db: Kysely<Database>;
  /** A stored response expires this long after it was answered. */
  retentionMs: number;
  /** How often expired rows are deleted; default hourly. */
  pruneIntervalMs?: number;
  now?: () => number;
  /** A failed write or prune (logged by the caller; never the stored content). */
  onError?: (err: unknown, during: 'save' | 'prune') => void;
}

/**
 * The stored responses of the Responses API (docs/responses.md), per tenant. Writes happen after the answer
 * has been handed to the client and never fail it: `save` returns at once, the row is written on a later turn
 * of the event loop, and a failed write is reported to onError. A read of an id whose write is still pending
 * waits for it, so a client that continues a response at once finds it.
 */
export class ResponseStore {
  readonly #db: Kysely<Database>;
  readonly #retentionMs: number;
  readonly #pruneIntervalMs: number;
  readonly #now: () => number;
  readonly #onError: (err: unknown, during: 'save' | 'prune') => void;
  readonly #pending = new Map<string, Promise<void>>();
  #pruneTimer: NodeJS.Timeout | undefined;
  #pruning: Promise<unknown> | undefined;

  constructor(options: ResponseStoreOptions) {
    this.#db = options.db;
    this.#retentionMs = options.retentionMs;
    this.#pruneIntervalMs = options.pruneIntervalMs ?? 3_600_000;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => {});
  }

  /** Starts periodic pruning of expired rows (first one now, in the background). */
  start(): void {
    if (this.#pruneTimer) return;
    this.#backgroundPrune();
    this.#pruneTimer = setInterval(() => this.#backgroundPrune(), this.#pruneIntervalMs).unref();
  }

  /**
   * Stores a finished response of a tenant, in the background: `conversation` is called, serialized and
   * written on a later turn of the event loop; whatever fails there goes to onError.
   */
  save(tenantId: string, id: string, conversation: () => StoredConversation): void {
    const createdAt = this.#now();
    const write = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => {
        const { messages, response } = conversation();
        return insertStoredResponse(this.#db, {
          id,
          tenantId,
          messages: JSON.stringify(messages),
          response: JSON.stringify(response),
          createdAt,
          expiresAt: createdAt + this.#retentionMs,
        });
      })
      .catch((err: unknown) => this.#onError(err, 'save'))
      .finally(() => {
        if (this.#pending.get(id) === write) this.#pending.delete(id);
      });
    this.#pending.set(id, write);
  }

  /** The tenant's stored response of this id, or undefined: unknown, another tenant's, or expired alike. */
  async load(tenantId: string, id: string): Promise<StoredConversation | undefined> {
    await this.#pending.get(id);
    const row = await selectStoredResponse(this.#db, tenantId, id, this.#now());
    if (!row) return undefined;
    return {
      messages: JSON.parse(row.messages) as Message[],
      response: JSON.parse(row.response) as Record<string, unknown>,
    };
  }

  /** Deletes the tenant's stored response of this id; false when it has none. */
  async delete(tenantId: string, id: string): Promise<boolean> {
    await this.#pending.get(id);
    return deleteStoredResponse(this.#db, tenantId, id, this.#now());
  }

  /** Deletes expired rows now; returns how many. */
  prune(): Promise<number> {
    return pruneStoredResponses(this.#db, this.#now());
  }

  /** Waits for the writes under way. */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending.values()]);
  }

  /** Stops pruning and waits for pending writes and a prune under way; the database stays open. */
  async close(): Promise<void> {
    clearInterval(this.#pruneTimer);
    this.#pruneTimer = undefined;
    await this.flush();
    await this.#pruning;
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
