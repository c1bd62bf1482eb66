import {
  type CatalogModel,
  isChatModel,
  type KnownModel,
  type MediaPrice,
  type ModelCapabilities,
  type ModelPrice,
} from '../billing/catalog-types.ts';
import { libraryContextWindow, libraryMediaPrice, libraryPrice, withPriceLibrary } from '../billing/prices.ts';
import { providersFromEnv } from '../config/env-providers.ts';
import type { Config, ModelConfig, ProviderConfig } from '../config/schema.ts';
import { descriptorOf } from '../providers/kinds/index.ts';
import { NONE } from '../providers/kinds/known-model.ts';
import { providerKey } from '../providers/provider-key.ts';
import type { ListedModel, ProviderKey, ProviderSpec, UpstreamLimits } from '../providers/types.ts';

/**
 * The priced catalog: every (provider, model) pair the gateway may route to, with prices, limits,
 * capabilities and quality rank. Built once at start from the provider kinds' descriptors (src/providers/kinds/:
 * known models, price library ids, local servers), the price library and the configuration; routing reads it,
 * never the other way round.
 */
export interface Catalog {
  providers: Map<string, ProviderSpec>;
  models: CatalogModel[];
  byId: Map<string, CatalogModel>;
  /** Bare model name → every provider serving it, cheapest first. */
  byName: Map<string, CatalogModel[]>;
  /** Things an operator should know (a model without a price was left out, ...). */
  warnings: string[];
  /** Channel providers' routing weights (src/channels/): spread a bare model name over equal-priority channels. */
  channelWeights?: Map<string, { priority: number; weight: number }>;
  /**
   * Providers (configured or channels) restricted to groups: only a caller in one of them may route there
   * (groupsAllow). A provider not in the map serves everyone.
   */
  providerGroups?: Map<string, readonly string[]>;
}

/** Whether a caller in `groups` may use `provider` (channel groups, docs/channels.md). */
export function groupsAllow(catalog: Catalog, provider: string, groups: readonly string[] | undefined): boolean {
  const allowed = catalog.providerGroups?.get(provider);
  if (!allowed) return true;
  return groups?.some((g) => allowed.includes(g)) ?? false;
}

const DEFAULT_CAPABILITIES: ModelCapabilities = {
  tools: true,
  vision: false,
  jsonSchema: true,
  streaming: true,
  reasoning: false,
};

function providerKeys(provider: ProviderConfig, id: string): ProviderKey[] {
  return provider.keys.map((entry, i) => {
    if (typeof entry === 'string') return providerKey(`${id}#${i + 1}`, entry);
    return providerKey(entry.id ?? `${id}#${i + 1}`, entry.key, {
      secretAccessKey: entry.secretAccessKey || undefined,
      sessionToken: entry.sessionToken || undefined,
    });
  });
}

/**
 * A provider managed at runtime (a channel, src/channels/): its configuration as YAML would give it, its
 * keys already built (decrypted) and its priority among providers serving the same model name.
 */
export interface ChannelProvider {
  config: ProviderConfig;
  keys: ProviderKey[];
  priority: number;
  /** Share of requests among channels of equal priority serving the same bare model name. */
  weight: number;
}

function toSpec(provider: ProviderConfig, limits: UpstreamLimits, prebuilt?: ProviderKey[]): ProviderSpec {
  const id = provider.id ?? provider.kind;
  const keys = prebuilt ? [...prebuilt] : providerKeys(provider, id);
  // Local servers and the demo provider take no key; one empty key lets them rotate like the others.
  if (keys.length === 0 && descriptorOf(provider.kind).local) keys.push(providerKey(`${id}#local`, ''));
  return {
    id,
    kind: provider.kind,
    baseUrl: (provider.baseUrl ?? '').replace(/\/+$/, ''),
    keys,
    options: Object.fromEntries(Object.entries(provider.options).map(([k, v]) => [k, String(v)])),
    timeouts: provider.timeouts,
    limits: { ...limits, ...provider.limits },
  };
}

/** Models each provider's listing named (model discovery, discovery.ts), by provider id. */
export type DiscoveredModels = ReadonlyMap<string, readonly ListedModel[]>;

function mergeModel(
  known: KnownModel | undefined,
  configured: ModelConfig | undefined,
  name: string,
  listed: { mode?: 'embedding' | undefined; rank: number | undefined } = { rank: undefined },
) {
  const mode = configured?.mode ?? known?.mode ?? listed.mode ?? 'chat';
  const chat = isChatModel({ mode });
  const defaults = chat ? DEFAULT_CAPABILITIES : NONE;
  return {
    name,
    mode,
    upstreamName: configured?.upstreamName ?? known?.upstreamName ?? name,
    contextWindow: configured?.contextWindow ?? known?.contextWindow,
    maxOutputTokens: configured?.maxOutputTokens ?? known?.maxOutputTokens ?? (chat ? undefined : 0),
    mediaPrice: configured?.mediaPrice as MediaPrice | undefined,
    capabilities: { ...defaults, ...known?.capabilities, ...configured?.capabilities },
    qualityRank: configured?.qualityRank ?? listed.rank ?? known?.qualityRank ?? 50,
    ranked: configured?.qualityRank !== undefined || listed.rank !== undefined || known?.qualityRank !== undefined,
    tiers: configured?.tiers ?? [],
    price: configured?.price,
  };
}

function priceFrom(configured: ModelConfig['price']): ModelPrice | undefined {
  if (!configured) return undefined;
  return {
    input: configured.input,
    cachedInput: configured.cachedInput ?? configured.input,
    cacheWrite: configured.cacheWrite ?? configured.input,
    output: configured.output,
  };
}

function modelsOf(
  provider: ProviderConfig,
  spec: ProviderSpec,
  config: Config,
  warnings: string[],
  listed: readonly ListedModel[] = [],
): CatalogModel[] {
  const kind = descriptorOf(spec.kind);
  const known = kind.models;
  const knownByName = new Map(known.map((model) => [model.name, model]));
  const configured = provider.models ?? [];
  const names = provider.models
    ? [...configured.map((m) => m.name), ...(provider.includeKnownModels ? known.map((m) => m.name) : [])]
    : known.map((m) => m.name);
  if (names.length === 0 && listed.length === 0)
    warnings.push(`Provider ${spec.id} has no models: list them under providers[].models`);
  // Discovered names come after the listed ones: a model both configured and discovered is the configured one.
  const listedByName = new Map(listed.map((m) => [m.name, m]));
  const discoveredOnly = new Set(listed.map((m) => m.name).filter((name) => !names.includes(name)));
  names.push(...discoveredOnly);
  const { ranks } = config.catalog;
  const seen = new Set<string>();
  const out: CatalogModel[] = [];
  let unpriced = 0;
  for (const name of names) {
    if (seen.has(name)) continue;
    seen.add(name);
    const id = `${spec.id}/${name}`;
    const override = config.catalog.overrides[id];
    const { ranked, ...base } = mergeModel(
      knownByName.get(name),
      configured.find((m) => m.name === name),
      name,
      {
        mode: listedByName.get(name)?.mode,
        rank: ranks[id] ?? ranks[name],
      },
    );
    const merged = {
      ...base,
      ...Object.fromEntries(Object.entries(override ?? {}).filter(([, v]) => v !== undefined)),
      capabilities: { ...base.capabilities, ...override?.capabilities },
    };
    if (config.catalog.exclude.includes(id) || config.catalog.exclude.includes(name)) continue;
    // A discovered model no one ranked is listed and routable by name, but in no tier (presets.ts).
    const unranked =
      discoveredOnly.has(name) && !ranked && override?.qualityRank === undefined && merged.tiers.length === 0;
    const media = !isChatModel(merged) && merged.mode !== 'embedding';
    // A media model: per-unit prices from the configuration, the descriptor or the library (audio hours, image
    // and audio tokens); its text tokens, when it meters them, at the token price.
    // The library knows a media model by its model name; an Azure deployment name is not one, so a media model's
    // catalog name (`name: gpt-image-1, upstreamName: <deployment>`) is looked up when its upstream name is unknown.
    const libraryNames = media && merged.upstreamName !== name ? [merged.upstreamName, name] : [merged.upstreamName];
    const fromLibrary = <T>(look: (provider: string, upstreamName: string) => T | undefined): T | undefined => {
      if (!kind.priceProvider) return undefined;
      for (const n of libraryNames) {
        const found = look(kind.priceProvider, n);
        if (found) return found;
      }
      return undefined;
    };
    const mediaPrice = media
      ? ((merged.mediaPrice as MediaPrice | undefined) ??
        knownByName.get(name)?.mediaPrice ??
        fromLibrary((p, n) => libraryMediaPrice(p, n)))
      : undefined;
    const price =
      priceFrom(merged.price) ??
      priceFrom(knownByName.get(name)?.price) ??
      fromLibrary((p, n) => libraryPrice(p, n)) ??
      (kind.local || mediaPrice ? { input: 0, cachedInput: 0, cacheWrite: 0, output: 0 } : undefined);
    if (!price) {
      if (discoveredOnly.has(name)) unpriced++;
      else warnings.push(`Model ${id} was left out: no price is known for it (set providers[].models[].price)`);
      continue;
    }
    const contextWindow =
      merged.contextWindow ??
      (kind.priceProvider ? libraryContextWindow(kind.priceProvider, merged.upstreamName) : undefined) ??
      8_192;
    out.push({
      id,
      name,
      provider: spec.id,
      upstreamName: merged.upstreamName,
      price,
      contextWindow,
      maxOutputTokens: merged.maxOutputTokens ?? Math.min(8_192, contextWindow),
      capabilities: merged.capabilities,
      qualityRank: merged.qualityRank,
      tiers: merged.tiers,
      ...(merged.mode !== 'chat' ? { mode: merged.mode } : {}),
      ...(mediaPrice ? { mediaPrice } : {}),
      ...(unranked ? { unranked: true as const } : {}),
    });
  }
  if (unpriced > 0) {
    warnings.push(
      `${unpriced} model(s) discovered on ${spec.id} were left out: no price is known for them (price them under catalog.overrides)`,
    );
  }
  return out;
}

/** Blended USD per million tokens (3 parts input to 1 part output), the usual single figure for a price. */
export function blendedPrice(model: CatalogModel): number {
  return (3 * model.price.input + model.price.output) / 4;
}

export function buildCatalog(
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
  channels: readonly ChannelProvider[] = [],
  discovered: DiscoveredModels = new Map(),
): Catalog {
  // One load of the price library for all of this build's lookups, unloaded when it is done (prices.ts).
  return withPriceLibrary(() => assembleCatalog(config, env, channels, discovered));
}

function assembleCatalog(
  config: Config,
  env: NodeJS.ProcessEnv,
  channels: readonly ChannelProvider[],
  discovered: DiscoveredModels,
): Catalog {
  const warnings: string[] = [];
  const configured = [...config.providers, ...providersFromEnv(env, config.providers)];
  // A media-only provider (Replicate) serves no chat: alone, it leaves the demo's chat models in place.
  const real = configured.filter((p) => p.kind !== 'demo' && !descriptorOf(p.kind).mediaOnly);
  const demoWanted = config.demo.enabled === true || (config.demo.enabled === 'auto' && real.length === 0);
  if (demoWanted && !configured.some((p) => p.kind === 'demo')) {
    configured.push({
      id: 'demo',
      kind: 'demo',
      keys: [],
      options: { chunkDelayMs: config.demo.chunkDelayMs },
      timeouts: { connectMs: 5_000, firstByteMs: 60_000, totalMs: 600_000 },
    });
  }
  const providers = new Map<string, ProviderSpec>();
  const models: CatalogModel[] = [];
  const providerGroups = new Map<string, readonly string[]>();
  const noteGroups = (provider: ProviderConfig, id: string) => {
    if (provider.groups && provider.groups.length > 0) providerGroups.set(id, [...provider.groups]);
  };
  for (const provider of configured) {
    if (provider.kind === 'demo' && config.demo.enabled === false) continue;
    const spec = toSpec(provider, config.limits.upstream);
    // With bring-your-own-key on, a provider listed without keys stays: it serves only callers who bring
    // their own key for it (tenancy keeps everyone else off it).
    if (spec.keys.length === 0 && !config.tenancy.byok.enabled) {
      warnings.push(`Provider ${spec.id} has no keys and was left out`);
      continue;
    }
    providers.set(spec.id, spec);
    noteGroups(provider, spec.id);
    models.push(...modelsOf(provider, spec, config, warnings, discovered.get(spec.id)));
  }
  // Channels come after the configuration's providers; an id the configuration already uses stays the file's.
  const priority = new Map<string, number>();
  const channelWeights = new Map<string, { priority: number; weight: number }>();
  for (const channel of channels) {
    const spec = toSpec(channel.config, config.limits.upstream, channel.keys);
    if (providers.has(spec.id)) {
      warnings.push(`Channel ${spec.id} was left out: the configuration defines a provider with that id`);
      continue;
    }
    if (spec.keys.length === 0) {
      warnings.push(`Channel ${spec.id} has no active credential and was left out`);
      continue;
    }
    providers.set(spec.id, spec);
    noteGroups(channel.config, spec.id);
    priority.set(spec.id, channel.priority);
    channelWeights.set(spec.id, { priority: channel.priority, weight: channel.weight });
    models.push(...modelsOf(channel.config, spec, config, warnings, discovered.get(spec.id)));
  }
  const byId = new Map(models.map((model) => [model.id, model]));
  const byName = new Map<string, CatalogModel[]>();
  for (const model of models) {
    const list = byName.get(model.name) ?? [];
    list.push(model);
    byName.set(model.name, list);
  }
  // Higher priority first (configuration providers have 0), then cheapest.
  const rank = (model: CatalogModel) => priority.get(model.provider) ?? 0;
  for (const list of byName.values()) list.sort((a, b) => rank(b) - rank(a) || blendedPrice(a) - blendedPrice(b));
  // Always set (empty without channels): a rebuilt catalog is copied over the old one, and must not keep its weights.
  return { providers, models, byId, byName, warnings, channelWeights, providerGroups };
}

/** Catalog ids or bare names → models (a bare name expands to every provider serving it). */
export function resolveModelRef(catalog: Catalog, ref: string): CatalogModel[] {
  const exact = catalog.byId.get(ref);
  if (exact) return [exact];
  const list = catalog.byName.get(ref) ?? [];
  return catalog.channelWeights?.size && list.length > 1 ? spreadByWeight(list, catalog.channelWeights) : list;
}

/**
 * Channels of equal priority next to each other in a bare name's list take the lead in proportion to their
 * weights (a weighted random order, Efraimidis-Spirakis: sort by u^(1/w)); everything else keeps its order.
 */
function spreadByWeight(
  list: CatalogModel[],
  weights: Map<string, { priority: number; weight: number }>,
  random: () => number = Math.random,
): CatalogModel[] {
  const out: CatalogModel[] = [];
  for (let i = 0; i < list.length; ) {
    const first = weights.get(list[i]!.provider);
    let j = i + 1;
    while (first && j < list.length && weights.get(list[j]!.provider)?.priority === first.priority) j++;
    const run = list.slice(i, j);
    if (run.length > 1) {
      const keyed = run.map((m) => ({ m, k: random() ** (1 / weights.get(m.provider)!.weight) }));
      keyed.sort((a, b) => b.k - a.k);
      out.push(...keyed.map((x) => x.m));
    } else out.push(...run);
    i = j;
  }
  return out;
}
