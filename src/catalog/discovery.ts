import type { Config } from '../config/schema.ts';
import { toGatewayError } from '../core/errors.ts';
import type { Logger } from '../ops/logger.ts';
import type { UpstreamPool } from '../providers/http.ts';
import type { ListedModel, ProviderAdapter, ProviderSpec } from '../providers/types.ts';
import type { Catalog, DiscoveredModels } from './catalog.ts';

/**
 * Model discovery (ADR 0031, docs/routing.md "Discovery"): each provider's model-listing endpoint is read on a
 * schedule and on demand (`POST /admin/api/catalog/refresh`); what it names joins the catalog through the same
 * off-to-the-side build and synchronous swap as a channel edit or a price refresh. A discovered model with a
 * price (the price library, or the operator's) and a quality rank (Modro's known models, `catalog.ranks`, a
 * channel's or the file's model list) is placed in its tier by the preset rules at once; one without a rank is
 * routable by name and listed, but in no tier. A provider whose listing fails keeps its last list; one that stops
 * listing a model drops it (configured models stay whatever their provider lists).
 */
export interface DiscoveryOptions {
  settings: Config['catalog']['discovery'];
  catalog: Catalog;
  /** The providers to list now (the runtime leaves out demo, keyless and `discover: false` ones). */
  providers(): ProviderSpec[];
  adapterFor(provider: ProviderSpec): ProviderAdapter;
  pool: UpstreamPool;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Rebuilds the catalog with `discovered` (the runtime's swap); throws if the build fails. */
  apply(): void;
}

/** One provider's result of a refresh. */
export interface DiscoveryResult {
  provider: string;
  ok: boolean;
  /** Models the listing named that the gateway can serve (by name). */
  listed: number;
  /** Names new since the last successful listing. */
  added: string[];
  /** Names no longer listed. */
  removed: string[];
  /** Catalog ids of this provider's discovered models that wait for a quality rank (in no tier). */
  unranked: string[];
  /** On failure: the gateway's code and the upstream status only (an upstream message may echo the key). */
  code?: string;
  upstreamStatus?: number | null;
}

export class ModelDiscovery {
  readonly #o: DiscoveryOptions;
  readonly #lists = new Map<string, readonly ListedModel[]>();
  readonly #failing = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<DiscoveryResult[]> | undefined;
  #closed = false;

  constructor(options: DiscoveryOptions) {
    this.#o = options;
  }

  /** What the listings named, by provider id (read by every catalog build). */
  get discovered(): DiscoveredModels {
    return this.#lists;
  }

  /** With discovery on: a first refresh (not awaited: start never waits on the network), then the schedule. */
  start(): void {
    if (!this.#o.settings.enabled) return;
    void this.refresh();
    this.#timer = setInterval(() => void this.refresh(), this.#o.settings.intervalMs);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#running?.catch(() => {});
  }

  /** Tells the other replicas to refresh too (server/shared-limits.ts, Redis); set by the runtime. */
  announce: (() => Promise<void>) | undefined;

  /**
   * Lists every provider now and applies what changed; a refresh under way is joined, not repeated.
   * `announce`: an operator's refresh, told to the other replicas once it is done here.
   */
  async refresh(options: { announce?: boolean } = {}): Promise<DiscoveryResult[]> {
    if (this.#closed) return [];
    this.#running ??= this.#refresh().finally(() => {
      this.#running = undefined;
    });
    const results = await this.#running;
    if (options.announce) await this.announce?.();
    return results;
  }

  async #refresh(): Promise<DiscoveryResult[]> {
    const providers = this.#o.providers().filter((p) => this.#o.adapterFor(p).listModels && p.keys.length > 0);
    const results = await Promise.all(providers.map((p) => this.#listOne(p)));
    let changed = false;
    // Providers gone from the catalog (a deleted channel) leave nothing behind.
    const present = new Set(providers.map((p) => p.id));
    for (const id of [...this.#lists.keys()]) {
      if (!present.has(id)) {
        this.#lists.delete(id);
        changed = true;
      }
    }
    for (const [i, result] of results.entries()) {
      const { models } = result;
      if (!models) continue;
      const id = providers[i]!.id;
      if (result.added.length > 0 || result.removed.length > 0 || !this.#lists.has(id)) changed = true;
      this.#lists.set(id, models);
    }
    if (changed && !this.#closed) {
      try {
        this.#o.apply();
      } catch (err) {
        this.#o.logger.error({ err }, 'discovered models could not be applied; the previous catalog stays in use');
      }
    }
    const unranked = new Map<string, string[]>();
    for (const model of this.#o.catalog.models) {
      if (!model.unranked) continue;
      unranked.set(model.provider, [...(unranked.get(model.provider) ?? []), model.id]);
    }
    return results.map(({ models: _, ...r }) => ({ ...r, unranked: unranked.get(r.provider) ?? [] }));
  }

  async #listOne(spec: ProviderSpec): Promise<DiscoveryResult & { models?: readonly ListedModel[] }> {
    const adapter = this.#o.adapterFor(spec);
    let lastError: ReturnType<typeof toGatewayError> | undefined;
    // Keys in order: a rejected or failing key gives way to the next.
    for (const key of spec.keys) {
      try {
        const models = await adapter.listModels!(spec, key, {
          pool: this.#o.pool,
          signal: AbortSignal.timeout(this.#o.settings.timeoutMs),
        });
        const before = new Set((this.#lists.get(spec.id) ?? []).map((m) => m.name));
        const now = new Set(models.map((m) => m.name));
        const added = [...now].filter((n) => !before.has(n));
        const removed = [...before].filter((n) => !now.has(n));
        if (this.#failing.delete(spec.id)) this.#o.logger.info({ provider: spec.id }, 'model listing works again');
        if (added.length + removed.length > 0) {
          this.#o.logger.info(
            { provider: spec.id, listed: models.length, added: added.length, removed: removed.length },
            'discovered models changed',
          );
        }
        return { provider: spec.id, ok: true, listed: models.length, added, removed, unranked: [], models };
      } catch (err) {
        lastError = toGatewayError(err);
      }
    }
    if (!this.#failing.has(spec.id)) {
      this.#failing.add(spec.id);
      this.#o.logger.warn(
        { provider: spec.id, code: lastError?.code, upstreamStatus: lastError?.upstreamStatus ?? null },
        'model listing failed; the last list stays in use',
      );
    }
    return {
      provider: spec.id,
      ok: false,
      listed: this.#lists.get(spec.id)?.length ?? 0,
      added: [],
      removed: [],
      unranked: [],
      code: lastError?.code ?? 'provider_unavailable',
      upstreamStatus: lastError?.upstreamStatus ?? null,
    };
  }
}
