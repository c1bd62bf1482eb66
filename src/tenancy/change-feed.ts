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
