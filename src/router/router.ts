import { type CatalogModel, isChatModel, isEmbeddingModel, mediaModeOf } from '../billing/catalog-types.ts';
import type { Catalog } from '../catalog/catalog.ts';
import { groupsAllow, resolveModelRef } from '../catalog/catalog.ts';
import { GatewayError } from '../core/errors.ts';
import type { ChatRequest, EmbeddingRequest } from '../core/ir.ts';
import { isTier, type Preset, TIERS, type Tier, toPreset } from '../core/tiers.ts';
import type { ProviderAdapter, ProviderSpec } from '../providers/types.ts';
import type { TokenCounter } from '../tokens/token-counter.ts';
import { exactPromptTokens, promptTokenUpperBound } from '../tokens/tokens.ts';
import type { TierChooser } from './auto/tier-decision.ts';
import type { CandidateTable } from './presets.ts';

/**
 * Routing: the requested `model` (auto, a tier, `tier:preset`, or a catalog model) → an ordered list of
 * candidates that can all serve this request. Capability filtering happens here, so a request is never sent
 * to a model that lacks tools, vision, json_schema or the context window it needs.
 */

/** What a caller's policy may say about routing (tenancy fills it; the default is empty). */
export interface RoutingPolicy {
  preset?: Preset;
  /** Per-tier model choices that replace the preset's first choice. */
  tierModels?: Partial<Record<Tier, string>>;
  /** Concrete models the caller may name (checked by admission); undefined means any catalog model. */
  allowedModels?: string[];
  /** Only these providers may serve the caller (bring-your-own-key). */
  providers?: string[];
  /**
   * The caller's tenant's groups: a provider or channel restricted to groups (catalog.providerGroups) serves
   * only callers in one of them. Undefined: in no group.
   */
  groups?: readonly string[];
  /**
   * The API key's model list (catalog ids): routing picks only these, for named models, tiers and `auto`;
   * a tier left with none of them is refused with permission_denied.
   */
  keyModels?: ReadonlySet<string>;
}

export interface RouteDecision {
  requestedModel: string;
  tier: Tier | null;
  preset: Preset | null;
  score: number | null;
  chooser: string | null;
  candidates: CatalogModel[];
}

export interface RouterDeps {
  catalog: Catalog;
  table: CandidateTable;
  chooser: TierChooser;
  defaultPreset: Preset;
  adapterFor(provider: ProviderSpec): ProviderAdapter;
  /** Exact prompt counts for the context-window check, within their budget. */
  tokens: TokenCounter;
}

interface ParsedModel {
  kind: 'auto' | 'tier' | 'model';
  tier?: Tier;
  preset?: Preset;
  ref?: string;
}

export function parseModelField(model: string): ParsedModel {
  const colon = model.lastIndexOf(':');
  const head = colon > 0 ? model.slice(0, colon) : model;
  const tail = colon > 0 ? model.slice(colon + 1) : undefined;
  if (head === 'auto' || isTier(head)) {
    const preset = tail === undefined ? undefined : toPreset(tail);
    if (tail !== undefined && !preset) {
      throw new GatewayError(
        'invalid_request',
        `Unknown preset '${tail}' in model '${model}'; use cheapest, balanced, quality (or highest-quality)`,
        { param: 'model' },
      );
    }
    const parsed: ParsedModel = head === 'auto' ? { kind: 'auto' } : { kind: 'tier', tier: head as Tier };
    if (preset) parsed.preset = preset;
    return parsed;
  }
  return { kind: 'model', ref: model };
}

interface Needs {
  tools: boolean;
  vision: boolean;
  jsonSchema: boolean;
  streaming: boolean;
  maxTokens: number;
}

function needsOf(request: ChatRequest): Needs {
  let vision = false;
  for (const message of request.messages) {
    for (const part of message.content) if (part.type === 'image') vision = true;
  }
  return {
    tools: (request.tools?.length ?? 0) > 0,
    vision,
    jsonSchema: request.responseFormat?.type === 'json_schema',
    streaming: request.stream,
    maxTokens: request.maxTokens ?? 0,
  };
}

function lacking(model: CatalogModel, needs: Needs): string | undefined {
  if (needs.tools && !model.capabilities.tools) return 'tools';
  if (needs.vision && !model.capabilities.vision) return 'images (vision)';
  if (needs.jsonSchema && !model.capabilities.jsonSchema) return 'json_schema output';
  if (needs.streaming && !model.capabilities.streaming) return 'streaming';
  if (needs.maxTokens > model.maxOutputTokens) return `max_tokens ${needs.maxTokens}`;
  return undefined;
}

export class Router {
  private readonly deps: RouterDeps;

  constructor(deps: RouterDeps) {
    this.deps = deps;
  }

  get catalog(): Catalog {
    return this.deps.catalog;
  }

  get chooser(): TierChooser {
    return this.deps.chooser;
  }

  /**
   * The candidate table of a rebuilt catalog (channels reloaded); the next request routes with it. The caller
   * swaps the catalog's contents in the same synchronous step.
   */
  setTable(table: CandidateTable): void {
    this.deps.table = table;
  }

  /** Swaps the `auto` chooser (recalibrated thresholds); the next request uses it. */
  setChooser(chooser: TierChooser): void {
    this.deps.chooser = chooser;
  }

  async route(request: ChatRequest, policy: RoutingPolicy = {}): Promise<RouteDecision> {
    const parsed = parseModelField(request.model);
    const preset = parsed.preset ?? policy.preset ?? this.deps.defaultPreset;
    const decision: RouteDecision = {
      requestedModel: request.model,
      tier: null,
      preset: null,
      score: null,
      chooser: null,
      candidates: [],
    };
    if (parsed.kind === 'model') {
      const ref = parsed.ref!;
      let models = resolveModelRef(this.deps.catalog, ref);
      if (policy.providers) models = models.filter((m) => policy.providers!.includes(m.provider));
      models = this.inGroups(models, policy);
      if (policy.keyModels) models = models.filter((m) => policy.keyModels!.has(m.id));
      // Whether the caller may name this model is admission's question (pipeline/admit.ts).
      if (models.length === 0) {
        throw new GatewayError(
          'not_found',
          `The model '${ref}' does not exist or you do not have access to it. GET /v1/models lists the models you can use.`,
          { param: 'model' },
        );
      }
      const chat = models.filter((m) => isChatModel(m));
      if (chat.length === 0) {
        const media = mediaModeOf(models[0]!);
        throw new GatewayError(
          'invalid_request',
          media
            ? `The model '${ref}' is ${media === 'image' ? 'an' : 'a'} ${media} model: run it with POST /v1/executions, not a chat endpoint`
            : `The model '${ref}' is an embedding model: call POST /v1/embeddings with it, not a chat endpoint`,
          { param: 'model' },
        );
      }
      decision.candidates = await this.filter(request, chat, ref);
      return decision;
    }
    decision.preset = preset;
    let tiers: Tier[];
    if (parsed.kind === 'auto') {
      const choice = this.deps.chooser.choose(request, preset);
      decision.score = choice.score;
      decision.chooser = choice.chooser;
      // If the chosen tier has nobody able to serve the request (vision, tools...), go up, then down.
      const at = TIERS.indexOf(choice.tier);
      tiers = [choice.tier, ...TIERS.slice(at + 1), ...TIERS.slice(0, at).reverse()];
    } else {
      tiers = [parsed.tier!];
    }
    let lastError: GatewayError | undefined;
    let denied: GatewayError | undefined;
    for (const tier of tiers) {
      try {
        decision.tier = tier;
        const list = this.listFor(preset, tier, policy);
        if (list.length === 0 && policy.keyModels) {
          denied ??= new GatewayError(
            'permission_denied',
            `This API key may not use any model of tier '${tier}' (preset ${preset})`,
            { param: 'model' },
          );
          continue;
        }
        decision.candidates = await this.filter(request, list, `tier '${tier}'`);
        return decision;
      } catch (err) {
        if (!(err instanceof GatewayError)) throw err;
        lastError = err;
      }
    }
    decision.tier = tiers[0]!;
    // `auto`: a tier the key may not use is passed over; only when no tier is left is that the answer.
    throw lastError ?? denied!;
  }

  /**
   * An embeddings request → the providers serving the one model it names, cheapest first. Only a concrete
   * model: vectors of different models are not comparable, so a tier (which may pick any model) or a failover
   * to another model would corrupt the caller's index. Failover stays among providers and keys of that model.
   */
  routeEmbeddings(request: EmbeddingRequest, policy: RoutingPolicy = {}): RouteDecision {
    const parsed = parseModelField(request.model);
    if (parsed.kind !== 'model') {
      throw new GatewayError(
        'invalid_request',
        `'${request.model}' is a chat tier; embeddings need a concrete embedding model (such as text-embedding-3-small): vectors of different models cannot be mixed. GET /v1/models lists the models you can use.`,
        { param: 'model' },
      );
    }
    const ref = parsed.ref!;
    let models = resolveModelRef(this.deps.catalog, ref);
    if (policy.providers) models = models.filter((m) => policy.providers!.includes(m.provider));
    models = this.inGroups(models, policy);
    if (models.length === 0) {
      throw new GatewayError(
        'not_found',
        `The model '${ref}' does not exist or you do not have access to it. GET /v1/models lists the models you can use.`,
        { param: 'model' },
      );
    }
    const embedding = models.filter(isEmbeddingModel);
    if (embedding.length === 0) {
      const media = mediaModeOf(models[0]!);
      throw new GatewayError(
        'invalid_request',
        `The model '${ref}' is ${media ? `${media === 'image' ? 'an' : 'a'} ${media}` : 'a chat'} model and cannot create embeddings; name an embedding model (such as text-embedding-3-small)`,
        { param: 'model' },
      );
    }
    const reasons: string[] = [];
    const candidates: CatalogModel[] = [];
    let requestAtFault = false;
    for (const model of embedding) {
      const provider = this.deps.catalog.providers.get(model.provider);
      if (!provider) continue;
      const embeddings = this.deps.adapterFor(provider).embeddings;
      if (!embeddings) {
        reasons.push(`${provider.kind} providers do not serve embeddings`);
        continue;
      }
      const why = embeddings.unsupportedReason?.(request, { provider, model, key: provider.keys[0]! });
      if (why) {
        reasons.push(why);
        requestAtFault = true;
      } else candidates.push(model);
    }
    if (candidates.length === 0) {
      // A field the providers cannot take (token ids, dimensions), else the model itself.
      const param = !requestAtFault ? 'model' : request.input.kind === 'tokens' ? 'input' : 'dimensions';
      throw new GatewayError(
        'invalid_request',
        `No provider of '${ref}' can serve this request: ${[...new Set(reasons)].join('; ')}`,
        { param },
      );
    }
    return { requestedModel: request.model, tier: null, preset: null, score: null, chooser: null, candidates };
  }

  /** The candidate list for a tier under a preset, with the caller's own choices first. */
  listFor(preset: Preset, tier: Tier, policy: RoutingPolicy): CatalogModel[] {
    let list = this.deps.table[preset][tier];
    const own = policy.tierModels?.[tier];
    if (own) {
      const chosen = resolveModelRef(this.deps.catalog, own).filter((m) => isChatModel(m));
      list = [...chosen, ...list.filter((m) => !chosen.includes(m))];
    }
    if (policy.providers) list = list.filter((m) => policy.providers!.includes(m.provider));
    list = this.inGroups(list, policy);
    if (policy.keyModels) list = list.filter((m) => policy.keyModels!.has(m.id));
    return list;
  }

  /** Models whose provider the caller's groups allow (read from the live catalog, so a channel edit applies). */
  private inGroups(models: CatalogModel[], policy: RoutingPolicy): CatalogModel[] {
    if (!this.deps.catalog.providerGroups?.size) return models;
    return models.filter((m) => groupsAllow(this.deps.catalog, m.provider, policy.groups));
  }

  private async filter(request: ChatRequest, models: CatalogModel[], what: string): Promise<CatalogModel[]> {
    const needs = needsOf(request);
    const reasons: string[] = [];
    let capable: CatalogModel[] = [];
    for (const model of models) {
      const provider = this.deps.catalog.providers.get(model.provider);
      if (!provider) continue;
      const missing = lacking(model, needs);
      if (missing) {
        reasons.push(missing);
        continue;
      }
      const unsupported = this.deps.adapterFor(provider).unsupportedReason?.(request, {
        provider,
        model,
        key: provider.keys[0]!,
      });
      if (unsupported) {
        reasons.push(unsupported);
        continue;
      }
      capable.push(model);
    }
    if (capable.length === 0) {
      const reason = reasons.length > 0 ? `: no candidate supports ${[...new Set(reasons)].join(', ')}` : '';
      throw new GatewayError('invalid_request', `No model for ${what} can serve this request${reason}`, {
        param: 'model',
      });
    }
    // Context windows: the byte bound settles most requests without counting.
    const smallest = Math.min(...capable.map((m) => m.contextWindow));
    const bound = promptTokenUpperBound(request) + needs.maxTokens;
    if (bound > smallest) {
      const exact = await exactPromptTokens(this.deps.tokens, request);
      if (exact === undefined) return fittingBound(capable, bound);
      const tokens = exact + needs.maxTokens;
      const fitting = capable.filter((m) => tokens <= m.contextWindow);
      if (fitting.length === 0) {
        const largest = Math.max(...capable.map((m) => m.contextWindow));
        throw new GatewayError(
          'context_length_exceeded',
          `This request needs about ${tokens} tokens (prompt plus max_tokens); the largest context window for ${what} is ${largest}`,
          { param: 'messages' },
        );
      }
      capable = fitting;
    }
    return capable;
  }
}

/**
 * Without an exact count (not within its budget), the models the bound proves large enough, if any; else all
 * of them: the bound may be several times the real count, so refusing would turn away requests that fit, and
 * a provider's own context-length error fails over to the next candidate.
 */
function fittingBound(capable: CatalogModel[], bound: number): CatalogModel[] {
  const certain = capable.filter((m) => bound <= m.contextWindow);
  return certain.length > 0 ? certain : capable;
}
