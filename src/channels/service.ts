import { isChatModel } from '../billing/catalog-types.ts';
import { buildCatalog } from '../catalog/catalog.ts';
import { providersFromEnv } from '../config/env-providers.ts';
import type { Config } from '../config/schema.ts';
import { GatewayError, toGatewayError } from '../core/errors.ts';
import type { ChatRequest } from '../core/ir.ts';
import type { ProviderHealth } from '../pipeline/health.ts';
import type { KeysInFlight } from '../pipeline/in-flight.ts';
import type { UpstreamPool } from '../providers/http.ts';
import type { ProviderAdapter, ProviderSpec } from '../providers/types.ts';
import type { TokenCounter } from '../tokens/token-counter.ts';
import type { ChannelOps, ChannelView } from './operations.ts';
import { type ChannelSource, channelKeyId } from './source.ts';

/**
 * What the admin API and pages use of the running gateway's channels: the operations (operations.ts), a
 * reload after a change, a test call per credential, and the providers of the configuration file, shown
 * read-only beside the channels.
 */
export interface ChannelService {
  /** For reads. */
  readonly ops: ChannelOps;
  /** For writes: the keyring read again first (a key file may have a new current key). */
  writeOps(): Promise<ChannelOps>;
  /** After a write: applied on this gateway, then announced to the other replicas (Redis) before it resolves. */
  reload(): Promise<void>;
  test(id: string): Promise<ChannelTestResult[]>;
  configured(): ConfiguredProviderView[];
  /** Requests and streams using this credential on this gateway now (pipeline/in-flight.ts). */
  inFlight(channelId: string, credentialId: string): number;
  /** The views with each credential's in-flight count on this gateway. */
  withInFlight(view: ChannelView): ChannelView;
  /**
   * Refuses (409) to revoke a credential still in use on this gateway, unless `force`: a draining key is
   * revoked once idle (docs/channels.md, "Credentials").
   */
  assertIdle(channelId: string, credentialId: string, force: boolean): void;
}

export interface ChannelTestResult {
  credential: string;
  ok: boolean;
  model: string;
  latencyMs: number;
  /** On failure: the gateway's error code and the upstream's HTTP status. Never the upstream's message (it may echo the key). */
  code?: string;
  upstreamStatus?: number | null;
}

export interface ConfiguredProviderView {
  id: string;
  kind: string;
  baseUrl: string | null;
  keys: number;
  models: string[];
  source: 'configuration';
  readOnly: true;
}

export interface ChannelServiceDeps {
  config: Config;
  env: NodeJS.ProcessEnv;
  source: ChannelSource;
  catalog: { providers: Map<string, ProviderSpec>; models: Array<{ provider: string; name: string }> };
  adapterFor(provider: ProviderSpec): ProviderAdapter;
  upstreams: UpstreamPool;
  tokens: TokenCounter;
  health: Pick<ProviderHealth, 'onSuccess' | 'onFailure'>;
  inFlight?: Pick<KeysInFlight, 'count'>;
}

export function createChannelService(deps: ChannelServiceDeps): ChannelService {
  const { config, env, source } = deps;
  return {
    get ops() {
      return source.ops;
    },
    writeOps: () => source.opsForWrite(),
    inFlight: (channelId, credentialId) => deps.inFlight?.count(channelKeyId(channelId, credentialId)) ?? 0,
    withInFlight(view) {
      return {
        ...view,
        credentials: view.credentials.map((c) => ({ ...c, inFlight: this.inFlight(view.id, c.id) })),
      };
    },
    assertIdle(channelId, credentialId, force) {
      const busy = this.inFlight(channelId, credentialId);
      if (busy > 0 && !force) {
        throw new GatewayError(
          'invalid_request',
          `Credential ${credentialId} still has ${busy} request(s) in flight on this gateway; drain it and revoke it once idle, or revoke with force`,
          { status: 409 },
        );
      }
    },
    reload: () => source.changed(),
    configured() {
      // Read each time: a reloaded configuration file replaces config.providers.
      const fileIds = new Set(
        [...config.providers, ...providersFromEnv(env, config.providers)].map((p) => p.id ?? p.kind),
      );
      const out: ConfiguredProviderView[] = [];
      for (const spec of deps.catalog.providers.values()) {
        if (!fileIds.has(spec.id) && spec.kind !== 'demo') continue;
        out.push({
          id: spec.id,
          kind: spec.kind,
          baseUrl: spec.baseUrl || null,
          keys: spec.keys.filter((k) => k.secret !== '').length,
          models: deps.catalog.models.filter((m) => m.provider === spec.id).map((m) => m.name),
          source: 'configuration',
          readOnly: true,
        });
      }
      return out;
    },
    async test(id) {
      await source.reload();
      if (!(await source.ops.repo.getChannel(id))) {
        throw new GatewayError('not_found', `No channel '${id}'`, { status: 404 });
      }
      const provider = source.providerOf(id);
      if (!provider) throw new GatewayError('invalid_request', `Channel ${id} is invalid; edit it`, { status: 409 });
      if (provider.keys.length === 0) {
        throw new GatewayError('invalid_request', `Channel ${id} has no active credential to test`, { status: 409 });
      }
      // The channel alone, enabled or not: a catalog of just it (no file providers, no demo, no environment).
      const alone = buildCatalog({ ...config, providers: [], demo: { ...config.demo, enabled: false } }, {}, [
        provider,
      ]);
      const spec = alone.providers.get(id);
      const model = alone.models.find((m) => isChatModel(m));
      if (!spec || !model) {
        throw new GatewayError('invalid_request', `Channel ${id} has no priced chat model to test with`, {
          status: 409,
        });
      }
      const results: ChannelTestResult[] = [];
      for (const key of spec.keys) {
        const request: ChatRequest = {
          model: model.id,
          messages: [{ role: 'user', content: [{ type: 'text', text: 'Reply with OK.' }] }],
          maxTokens: 1,
          stream: false,
          includeUsage: false,
          inbound: { protocol: 'openai-chat', body: {}, passthrough: false },
        };
        const started = performance.now();
        const credential = key.id.slice(key.id.indexOf('#') + 1);
        try {
          await deps.adapterFor(spec).complete(
            request,
            { provider: spec, model, key },
            {
              requestId: `channel-test-${id}`,
              pool: deps.upstreams,
              signal: AbortSignal.timeout(Math.min(spec.timeouts.totalMs, 15_000)),
              tokens: deps.tokens,
            },
          );
          deps.health.onSuccess(spec.id, key.id);
          results.push({ credential, ok: true, model: model.name, latencyMs: Math.round(performance.now() - started) });
        } catch (err) {
          const error = toGatewayError(err);
          deps.health.onFailure(spec.id, key.id, error);
          results.push({
            credential,
            ok: false,
            model: model.name,
            latencyMs: Math.round(performance.now() - started),
            code: error.code,
            upstreamStatus: error.upstreamStatus ?? null,
          });
        }
      }
      return results;
    },
  };
}
