import type { ChannelProvider } from '../catalog/catalog.ts';
import { providerSchema } from '../config/schema.ts';
import type { Logger } from '../ops/logger.ts';
import { providerKey } from '../providers/provider-key.ts';
import type { ProviderKey } from '../providers/types.ts';
import { type Keyring, loadKeyring, MasterKeyError } from './master-key.ts';
import { type ChannelOps, credentialView } from './operations.ts';
import type { ChannelRepository, ChannelRow, CredentialRow } from './repository.ts';

/**
 * The running gateway's view of the channel tables: reads them at start, again after every change made
 * through this gateway (admin API) and whenever `channel_revision` moves (the CLI, another process), and
 * hands the enabled channels with their active credentials to `apply`, which swaps the catalog and the router's
 * table in one synchronous step. Requests and streams already under way keep the provider spec and key they
 * were given; only new requests see the change.
 *
 * Decrypted keys are cached by credential id: a credential's secret never changes after creation (a new
 * secret is a new credential), so a master-key rotation, which only re-seals rows, needs no decryption here.
 */
export interface ChannelSourceOptions {
  repo: ChannelRepository;
  env: NodeJS.ProcessEnv;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  reservedIds: ReadonlySet<string>;
  apply(providers: ChannelProvider[]): void;
  /** How often the revision is read (ms). */
  pollMs?: number;
}

/** Change notices between replicas (server/shared-limits.ts: Redis pub/sub), on top of the revision poll. */
export interface ChannelChangeNotices {
  subscribe(onChange: () => void): void;
  publish(): Promise<void>;
}

/** A channel's provider key id: the channel and the credential id (never derived from the secret). */
export function channelKeyId(channelId: string, credentialId: string): string {
  return `${channelId}#${credentialId}`;
}

export class ChannelSource {
  readonly #o: ChannelSourceOptions;
  readonly #keys = new Map<string, ProviderKey>();
  #keyring: Keyring | undefined;
  #revision = -1;
  #timer: NodeJS.Timeout | undefined;
  #reloading: Promise<void> | undefined;
  #again = false;
  #closed = false;
  #notices: ChannelChangeNotices | undefined;
  /** Every channel as last read, enabled or not (for the admin test call). */
  #all: Array<{ row: ChannelRow; provider: ChannelProvider | undefined }> = [];

  constructor(options: ChannelSourceOptions) {
    this.#o = options;
  }

  get ops(): ChannelOps {
    return { repo: this.#o.repo, keyring: this.#keyring, reservedIds: this.#o.reservedIds };
  }

  /**
   * The operations with the keyring read again (the key file may have changed): used for every write, so a
   * credential stored after `MODRO_MASTER_KEY_FILE` gained a new current key is sealed with that key.
   */
  async opsForWrite(): Promise<ChannelOps> {
    await this.#loadKeyring();
    return this.ops;
  }

  async #loadKeyring(): Promise<void> {
    try {
      this.#keyring = await loadKeyring(this.#o.env);
    } catch (err) {
      // Keep the keyring we had: a half-edited key file must not take channels down.
      this.#o.logger.error(
        { reason: err instanceof MasterKeyError ? err.message : 'unreadable' },
        'master key not loaded',
      );
    }
  }

  async start(): Promise<void> {
    await this.reload();
    // Credentials due for rotation are said once at start (and shown on the admin page and in `channels list`).
    const now = Date.now();
    for (const c of await this.#o.repo.listCredentials()) {
      const warning = credentialView(c, now).warning;
      if (warning && c.state !== 'revoked') {
        this.#o.logger.warn({ channel: c.channelId, credential: c.id, warning }, 'channel credential due for rotation');
      }
    }
    const pollMs = this.#o.pollMs ?? 1_000;
    this.#timer = setInterval(() => {
      if (this.#reloading) return;
      this.#o.repo
        .revision()
        .then((revision) => (revision !== this.#revision ? this.reload() : undefined))
        // The channels in use stay as they were; the next poll tries again.
        .catch((err) => this.#o.logger.error({ err }, 'channel reload failed'));
    }, pollMs);
    this.#timer.unref();
  }

  /**
   * Other replicas' changes arrive as notices (a reload at once, not at the next poll); this replica's changes
   * (`changed`) are announced to them.
   */
  useNotices(notices: ChannelChangeNotices): void {
    this.#notices = notices;
    notices.subscribe(() => {
      this.reload().catch((err) => this.#o.logger.error({ err }, 'channel reload failed'));
    });
  }

  /** After a write through this replica: applied here before it returns, then announced to the others. */
  async changed(): Promise<void> {
    await this.reload();
    await this.#notices?.publish();
  }

  /** Stops the poll and waits for a reload under way (before the store closes under it). */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#reloading?.catch(() => {});
  }

  /** The provider of one channel as last loaded (its active credentials), enabled or not. */
  providerOf(id: string): ChannelProvider | undefined {
    return this.#all.find((c) => c.row.id === id)?.provider;
  }

  /** Reads the tables and applies them; concurrent calls coalesce into one more run. */
  reload(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#reloading) {
      this.#again = true;
      return this.#reloading;
    }
    this.#reloading = (async () => {
      try {
        do {
          this.#again = false;
          await this.#load();
        } while (this.#again);
      } finally {
        this.#reloading = undefined;
      }
    })();
    return this.#reloading;
  }

  async #load(): Promise<void> {
    const { repo, logger } = this.#o;
    await this.#loadKeyring();
    const revision = await repo.revision();
    const [channels, credentials] = await Promise.all([repo.listChannels(), repo.listCredentials()]);
    const active = credentials.filter((c) => c.state === 'active');
    const missing = active.filter((c) => !this.#keys.has(c.id));
    if (missing.length > 0) {
      if (!this.#keyring) {
        logger.error(
          { credentials: missing.length },
          'channel credentials cannot be read: no master key (set MODRO_MASTER_KEY or MODRO_MASTER_KEY_FILE)',
        );
      } else {
        const { secrets, failures } = await repo.secretsOf(this.#keyring, ['active'], new Set(this.#keys.keys()));
        for (const reason of failures) logger.error({ reason }, 'channel credential cannot be decrypted; left out');
        for (const c of missing) {
          const secret = secrets.get(c.id);
          if (!secret) continue;
          this.#keys.set(
            c.id,
            providerKey(channelKeyId(c.channelId, c.id), secret.key, {
              secretAccessKey: secret.secretAccessKey,
              sessionToken: secret.sessionToken,
            }),
          );
        }
      }
    }
    // Forget keys no longer active (drained, revoked, deleted): in-flight requests hold their own reference.
    const activeIds = new Set(active.map((c) => c.id));
    for (const id of [...this.#keys.keys()]) if (!activeIds.has(id)) this.#keys.delete(id);
    this.#all = channels.map((row) => ({ row, provider: this.#providerOf(row, credentials) }));
    const providers = this.#all.filter((c) => c.row.enabled && c.provider).map((c) => c.provider!);
    // Noted first: a change that cannot be applied is not retried every second, only with the next change.
    this.#revision = revision;
    try {
      this.#o.apply(providers);
    } catch (err) {
      logger.error({ err }, 'channels could not be applied; the previous catalog stays in use');
    }
  }

  #providerOf(row: ChannelRow, credentials: CredentialRow[]): ChannelProvider | undefined {
    const parsed = providerSchema.safeParse({
      id: row.id,
      kind: row.kind,
      ...(row.baseUrl ? { baseUrl: row.baseUrl } : {}),
      options: row.options,
      ...(row.models ? { models: row.models } : {}),
      ...(row.includeKnownModels ? { includeKnownModels: true } : {}),
      ...(row.groups ? { groups: row.groups } : {}),
    });
    if (!parsed.success) {
      this.#o.logger.error({ channel: row.id, issue: parsed.error.issues[0]?.message }, 'channel left out: invalid');
      return undefined;
    }
    const keys = credentials
      .filter((c) => c.channelId === row.id && c.state === 'active')
      .map((c) => this.#keys.get(c.id))
      .filter((k): k is ProviderKey => k !== undefined);
    return { config: parsed.data, keys, priority: row.priority, weight: row.weight };
  }
}
