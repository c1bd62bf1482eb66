import type { TenancyRepository } from './repository.ts';

/**
 * How a node learns that tenancy settings changed somewhere (another node, the CLI, an admin page). The
 * database is the source of truth; a feed only says "reload". Today: a poll of the settings version
 * (one indexed single-row read per interval, off the request path). A Redis pub/sub channel can replace it
 * by implementing the same interface: `publish` after a committed write, `subscribe` to PUBLISHed notices.
 */
export interface SettingsChangeFeed {
  /** Starts delivering notices; `onChange` may be called spuriously (the reload is idempotent). */
  subscribe(onChange: (version?: number) => void): void;
  /** Tells the other nodes that a write committed (the poll feed needs nothing: the version row is the news). */
  publish(version: number): Promise<void>;
  close(): void;
}

export class PollingChangeFeed implements SettingsChangeFeed {
  readonly #repo: TenancyRepository;
  readonly #intervalMs: number;
  readonly #onError: (err: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #polling = false;

  constructor(repo: TenancyRepository, intervalMs: number, onError: (err: unknown) => void) {
    this.#repo = repo;
    this.#intervalMs = intervalMs;
    this.#onError = onError;
  }

  subscribe(onChange: (version?: number) => void): void {
    this.close();
    this.#timer = setInterval(() => {
      if (this.#polling) return;
      this.#polling = true;
      this.#repo
        .settingsVersion()
        .then((version) => onChange(version), this.#onError)
        .finally(() => {
          this.#polling = false;
        });
    }, this.#intervalMs);
    // The poll must never keep a finished process alive.
    this.#timer.unref();
  }

  async publish(_version: number): Promise<void> {}

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * Notices through a Redis pub/sub channel, with the database poll kept underneath as the fallback: a notice
 * reaches every replica in milliseconds; one lost while a replica was disconnected from Redis is caught by
 * the poll (tenancy.cache.pollMs) and by the reload this feed triggers when its subscription is back.
 * Redis carries only the version number: the database stays the source of truth.
 */
export interface PubSubConnection {
  subscribe(channel: string): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'ready', listener: () => void): unknown;
  disconnect(): void;
}

export class RedisChangeFeed implements SettingsChangeFeed {
  readonly #poll: SettingsChangeFeed;
  readonly #subscriber: PubSubConnection;
  readonly #publish: (channel: string, message: string) => Promise<unknown>;
  readonly #channel: string;
  readonly #onError: (err: unknown) => void;
  #closed = false;

  constructor(options: {
    poll: SettingsChangeFeed;
    /** A connection of its own (a subscribed Redis connection can do nothing else). */
    subscriber: PubSubConnection;
    publish: (channel: string, message: string) => Promise<unknown>;
    channel: string;
    onError: (err: unknown) => void;
  }) {
    this.#poll = options.poll;
    this.#subscriber = options.subscriber;
    this.#publish = options.publish;
    this.#channel = options.channel;
    this.#onError = options.onError;
  }

  subscribe(onChange: (version?: number) => void): void {
    this.#poll.subscribe(onChange);
    this.#subscriber.on('message', (channel, message) => {
      if (channel !== this.#channel || this.#closed) return;
      const version = Number(message);
      onChange(Number.isSafeInteger(version) ? version : undefined);
    });
    // ioredis re-subscribes after a reconnect; notices sent meanwhile were lost: reload once to catch up.
    // Not at the first connection: the directory was just loaded (a reload re-reads every cached tenant and
    // key, up to tenancy.cache.tenants and tenancy.cache.keys of them).
    let subscribed = false;
    this.#subscriber.on('ready', () => {
      if (subscribed && !this.#closed) onChange();
    });
    this.#subscriber.subscribe(this.#channel).then(() => {
      subscribed = true;
    }, this.#onError);
  }

  async publish(version: number): Promise<void> {
    await this.#poll.publish(version);
    // The write is committed; a notice that cannot be sent is caught up by the other replicas' poll.
    await this.#publish(this.#channel, String(version)).catch(this.#onError);
  }

  close(): void {
    this.#closed = true;
    this.#poll.close();
    this.#subscriber.disconnect();
  }
}
