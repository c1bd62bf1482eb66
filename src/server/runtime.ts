import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { pino } from 'pino';
import { createMailer } from '../accounts/mailer.ts';
import { AccountService } from '../accounts/service.ts';
import { Ledger } from '../billing/ledger.ts';
import { priceDataFetchedAt } from '../billing/prices.ts';
import type { StripeDeposits } from '../billing/stripe.ts';
import { buildCatalog, type Catalog, type ChannelProvider } from '../catalog/catalog.ts';
import { ModelDiscovery } from '../catalog/discovery.ts';
import { PriceRefresher } from '../catalog/price-refresh.ts';
import { ChannelRepository } from '../channels/repository.ts';
import { type ChannelService, createChannelService } from '../channels/service.ts';
import { ChannelSource } from '../channels/source.ts';
import { providersFromEnv } from '../config/env-providers.ts';
import { type ConfigChanges, configChanges, ROUTING_RESTART_KEYS } from '../config/reload.ts';
import type { Config } from '../config/schema.ts';
import { GatewayError } from '../core/errors.ts';
import type { SharedAttemptCounts } from '../dashboard/admin/login-throttle.ts';
import { createExecutions, type Executions, type ExecutionsDeps } from '../executions/executions.ts';
import { listenForWork, wakeChannel } from '../executions/pg-wake.ts';
import { FileStore } from '../files/file-store.ts';
import { purposesFrom } from '../files/purposes.ts';
import { Idempotency } from '../idempotency/idempotency.ts';
import { FreeModelLimiter } from '../limits/free-limits.ts';
import { storedSpendSince } from '../limits/stored-spend.ts';
import { createLogger, type Logger } from '../ops/logger.ts';
import { Metrics } from '../ops/metrics.ts';
import type { Authenticator } from '../pipeline/authenticate.ts';
import { ProviderHealth } from '../pipeline/health.ts';
import { KeysInFlight } from '../pipeline/in-flight.ts';
import { Pipeline } from '../pipeline/pipeline.ts';
import { UpstreamPool } from '../providers/http.ts';
import { mediaCandidates, mediaRunners } from '../providers/media/index.ts';
import { adapterFor as registeredAdapter } from '../providers/registry.ts';
import type { ProviderAdapter, ProviderSpec } from '../providers/types.ts';
import { ResponseStore } from '../responses/response-store.ts';
import { createTierChooser } from '../router/auto/from-config.ts';
import { ruleTierChooser } from '../router/auto/rules.ts';
import { calibrateFromUsage } from '../router/calibration.ts';
import { buildCandidateTable } from '../router/presets.ts';
import { Router } from '../router/router.ts';
import { dataDirOf, openStore, type Store, storeConfigFrom } from '../store/db.ts';
import { syncSqliteWal } from '../store/sqlite-wal-sync.ts';
import { UsageWriter } from '../store/usage-writer.ts';
import { createTenancy, type Tenancy } from '../tenancy/tenancy.ts';
import { TokenCounter } from '../tokens/token-counter.ts';
import type { Lookup } from '../webhooks/address-policy.ts';
import { createWebhooks, type Webhooks } from '../webhooks/webhooks.ts';
import { buildApp } from './app.ts';
import { createSharedLimits } from './shared-limits.ts';

/**
 * The composition root: configuration in, a running gateway out. Everything is built once here and passed
 * down explicitly; nothing below reads globals or the environment.
 */
export interface RuntimeOptions {
  config: Config;
  env?: NodeJS.ProcessEnv;
  /** Where logs go (tests pass a sink). */
  logDestination?: pino.DestinationStream;
  /** Provider kind → adapter (tests put a faulty adapter here); default: the registry's. */
  adapterFor?: (provider: ProviderSpec) => ProviderAdapter;
  /** How webhook hosts are resolved (tests); default: the system resolver. */
  webhookLookup?: Lookup;
  /**
   * `worker`: a `modro worker` process beside gateways on the same database: it runs executions and serves
   * nothing, and leaves the holds of other processes alone at start. Default `gateway`.
   */
  role?: 'gateway' | 'worker';
  /** What the composition root adds to executions: webhook delivery, the file store, media runners. */
  executions?: Pick<ExecutionsDeps, 'webhooks' | 'files' | 'runners'>;
}

export interface Runtime {
  config: Config;
  catalog: Catalog;
  router: Router;
  health: ProviderHealth;
  metrics: Metrics;
  logger: Logger;
  pipeline: Pipeline;
  store: Store;
  usage: UsageWriter;
  /** Balances, holds and plans of billed accounts (docs/billing.md). */
  ledger: Ledger;
  /** Deposits through Stripe Checkout; undefined unless `billing.stripe` is set. */
  stripe: StripeDeposits | undefined;
  /** Stored responses of the Responses API; undefined unless `responses.store` is on. */
  responses: ResponseStore | undefined;
  /** Tenants' files (docs/files.md): `/v1/files` and the execution worker's inputs and outputs. */
  files: FileStore;
  /** Idempotency keys (docs/idempotency.md), for routes that create or spend. */
  idempotency: Idempotency;
  /** Signed webhook delivery (src/webhooks/): the outbox executions enqueue into, the tenant API's data. */
  webhooks: Webhooks;
  /** Asynchronous executions: the API's service, the queue and this process's worker (docs/executions.md). */
  executions: Executions;
  auth: Authenticator;
  tenancy: Tenancy;
  /** Channels: providers managed at runtime (src/channels/, docs/channels.md). */
  channels: ChannelService;
  /** Self-service accounts of /console (src/accounts/, docs/accounts.md). */
  accounts: AccountService;
  /** Applies a newly read configuration file (config/reload.ts); throws and changes nothing when it cannot. */
  applyConfig(next: Config): ConfigChanges;
  /** The live catalog's price refresh. */
  prices: PriceRefresher;
  /** The live catalog's model discovery (catalog/discovery.ts). */
  discovery: ModelDiscovery;
  /** Set when no API key was configured: generated for this run only, never stored. */
  generatedApiKey: string | undefined;
  app: ReturnType<typeof buildApp>;
  draining: boolean;
  /** With `redis:` set: whether Redis answers now and the failMode (for /readyz); undefined without Redis. */
  redisStatus(): { up: boolean; failMode: 'open' | 'closed' } | undefined;
  /** With `redis:` set: the dashboards' sign-in and mail attempt counts, shared by every replica. */
  attemptCounts: SharedAttemptCounts | undefined;
  refreshGauges(): void;
  /** Starts listening; returns the base URL (http://host:port). */
  listen(): Promise<string>;
  /** Stops accepting, lets in-flight requests and streams finish (bounded), flushes usage, closes. */
  shutdown(): Promise<void>;
}

export async function createRuntime(options: RuntimeOptions): Promise<Runtime> {
  const adapterFor = options.adapterFor ?? registeredAdapter;
  const { config } = options;
  if (config.billing.shared && config.storage.kind !== 'postgres') {
    throw new Error('billing.shared needs PostgreSQL (storage.kind: postgres): SQLite serves one process');
  }
  const env = options.env ?? process.env;
  const logger = createLogger(config.logging.level, options.logDestination);
  const metrics = new Metrics();
  const catalog = buildCatalog(config, env);
  for (const warning of catalog.warnings) logger.warn(warning);

  const health = new ProviderHealth(config.health);
  // With Redis: a key rejected upstream here is told to the other replicas, and theirs to this one (below).
  let publishVerdict: ((provider: string, keyId: string) => void) | undefined;
  let verdictFromElsewhere = false;
  health.onChange = (snapshot) => {
    if (snapshot.state === 'rejected' && !verdictFromElsewhere) publishVerdict?.(snapshot.provider, snapshot.keyId);
    metrics.setCircuit(snapshot.provider, snapshot.keyId, snapshot.state);
    const log = snapshot.state === 'closed' ? logger.info.bind(logger) : logger.warn.bind(logger);
    log(
      { provider: snapshot.provider, keyId: snapshot.keyId, state: snapshot.state, lastError: snapshot.lastError },
      'provider key circuit changed',
    );
  };
  for (const s of health.snapshot(catalog.providers.values())) metrics.setCircuit(s.provider, s.keyId, s.state);

  const tokens = new TokenCounter({
    budgetMs: config.limits.tokenCountBudgetMs,
    onWorkerError: (err) => logger.error({ err }, 'token counter worker failed; counts fall back to estimates'),
  });
  const learned = { version: config.routing.learnedVersion };
  const chooser = createTierChooser(config.routing.autoChooser, logger, learned);
  const router = new Router({
    catalog,
    table: buildCandidateTable(catalog, config.routing),
    chooser,
    defaultPreset: config.routing.defaultPreset,
    adapterFor,
    tokens,
  });

  const store = await openStore(storeConfigFrom(config.storage), {
    backgroundCheckpoints: {
      onCheckpoint: (c) => metrics.sqliteCheckpoints.inc({ mode: c.mode === 'PASSIVE' ? 'passive' : 'restart' }),
      onError: (err) => logger.error({ err }, 'SQLite checkpoints run in the request thread again'),
    },
  });
  const dataDir = dataDirOf(config.storage);

  // Channels: read before tenancy starts (it looks at the catalog's providers), then on every change. A
  // change rebuilds the catalog and the router's table off to the side and swaps both in one synchronous
  // step: every component holds this same catalog object, new requests see the new contents, and requests
  // and streams under way keep the provider spec and key objects they were handed.
  // The same swap serves a changed configuration file (applyConfig) and refreshed prices (PriceRefresher).
  let hadChannels = false;
  let channelProviders: ChannelProvider[] = [];
  // Set once tenancy exists (it is created after the first channel load).
  let tenancyRef: Tenancy | undefined;
  const swapIn = (next: Catalog, table: ReturnType<typeof buildCandidateTable>) => {
    for (const warning of next.warnings) if (!catalog.warnings.includes(warning)) logger.warn(warning);
    Object.assign(catalog, next);
    router.setTable(table);
    tenancyRef?.refreshOperatorProviders();
    for (const s of health.snapshot(catalog.providers.values())) metrics.setCircuit(s.provider, s.keyId, s.state);
  };
  const upstreams = new UpstreamPool();
  const inFlight = new KeysInFlight();
  // Set just below; a rebuild before it (none happens) would build without discovered models.
  let discoveryRef: ModelDiscovery | undefined;
  const discovered = () => discoveryRef?.discovered ?? new Map();
  const rebuild = () => {
    const next = buildCatalog(config, env, channelProviders, discovered());
    swapIn(next, buildCandidateTable(next, config.routing));
  };
  const applyChannels = (providers: ChannelProvider[]) => {
    if (providers.length === 0 && !hadChannels) return;
    hadChannels = providers.length > 0;
    channelProviders = providers;
    rebuild();
  };
  const discovery = new ModelDiscovery({
    settings: config.catalog.discovery,
    catalog,
    providers: () => {
      // Read each time: a reloaded file may change `discover`.
      const off = new Set(
        [...config.providers, ...providersFromEnv(env, config.providers)]
          .filter((p) => p.discover === false)
          .map((p) => p.id ?? p.kind),
      );
      return [...catalog.providers.values()].filter((p) => p.kind !== 'demo' && !off.has(p.id));
    },
    adapterFor,
    pool: upstreams,
    logger,
    apply: rebuild,
  });
  discoveryRef = discovery;
  const fileProviderIds = (c: Config) =>
    [...c.providers, ...providersFromEnv(env, c.providers)].map((p) => p.id ?? p.kind);
  // Mutated in place when the configuration file's providers change (the channel operations hold this set).
  const reservedIds = new Set([...fileProviderIds(config), 'demo']);
  const channelSource = new ChannelSource({
    repo: new ChannelRepository(store.db),
    env,
    logger,
    reservedIds,
    apply: applyChannels,
    pollMs: config.channels.pollMs,
  });
  await channelSource.start();

  /**
   * A newly read configuration file: its providers, catalog, demo and routing settings (but the chooser's) are
   * applied by the same off-to-the-side build and synchronous swap as a channel edit; everything else is
   * compared and named as needing a restart. A build that throws leaves the running configuration as it was.
   */
  const applyConfig = (next: Config): ConfigChanges => {
    const changes = configChanges(config, next);
    if (changes.reloadable.length === 0) return changes;
    const routing = { ...next.routing };
    for (const key of ROUTING_RESTART_KEYS) delete routing[key];
    const candidate: Config = {
      ...config,
      providers: next.providers,
      catalog: next.catalog,
      demo: next.demo,
      routing: { ...config.routing, ...routing },
    };
    const built = buildCatalog(candidate, env, channelProviders, discovered());
    const table = buildCandidateTable(built, candidate.routing);
    // Committed only now that the build worked. `routing` is updated in place: the pipeline holds it.
    config.providers = candidate.providers;
    config.catalog = candidate.catalog;
    config.demo = candidate.demo;
    Object.assign(config.routing, routing);
    reservedIds.clear();
    for (const id of [...fileProviderIds(config), 'demo']) reservedIds.add(id);
    swapIn(built, table);
    return changes;
  };

  metrics.priceDataFetchedAt = priceDataFetchedAt;
  const prices = new PriceRefresher({
    settings: config.prices.refresh,
    dataDir,
    logger,
    apply: rebuild,
  });
  await prices.start();
  // After channels and prices: the first listing is of the full set of providers.
  discovery.start();
  const storage = config.storage;
  const usage = new UsageWriter({
    db: store.db,
    journalDir: dataDir,
    journalSyncMs: config.usage.journalSyncMs,
    // PostgreSQL's commits are synced (synchronous_commit); SQLite's are not (sqlite-dialect.ts).
    ...(storage.kind === 'sqlite' ? { syncDatabase: () => syncSqliteWal(resolve(storage.path)) } : {}),
    batchSize: config.usage.batchSize,
    flushIntervalMs: config.usage.flushIntervalMs,
    retentionMs: config.usage.retentionDays * 86_400_000,
    onError: (err, during) => logger.error({ err, during }, 'usage writer problem (records are kept and retried)'),
    onJournalFailure: (records) => metrics.usageJournalFailures.inc(records),
  });
  const imported = await usage.start();
  const ledger = new Ledger({
    db: store.db,
    shared: config.billing.shared,
    staleHoldMs: config.billing.staleHoldMs,
    flushIntervalMs: config.billing.flushIntervalMs,
    pollMs: config.billing.pollMs,
    dialect: store.dialect,
    // SQLite serves one process per database: its earlier runs' holds are closed at start, nothing else can die.
    sweepIntervalMs: store.dialect === 'postgres' ? config.billing.sweepIntervalMs : 0,
    nodeTimeoutMs: config.billing.nodeTimeoutMs,
    accountIdleMs: config.billing.accountIdleMs,
    onSwept: (closed) =>
      logger.warn(closed, 'holds left open by a stopped gateway process were closed (stale-hold sweep)'),
    onError: (err, during) => logger.error({ err, during }, 'ledger problem (entries are kept and retried)'),
  });
  // After the journal's records are imported: a hold left open by a killed run settles at its recorded cost.
  const role = options.role ?? 'gateway';
  const recovered = await ledger.start({ recover: role === 'gateway' });
  if (recovered.settled + recovered.released > 0) logger.info(recovered, 'holds left open by an earlier run closed');
  // Loaded only where Stripe is configured: the SDK costs ~6 MB of heap (~25 MB resident) that no other
  // deployment should carry (docs/decisions/0015, "what start loads").
  const stripe = config.billing.stripe
    ? new (await import('../billing/stripe.ts')).StripeDeposits(config.billing.stripe, {
        ledger,
        db: store.db,
        dialect: store.dialect,
        feeBps: config.billing.depositFeeBps,
      })
    : undefined;
  const responses = config.responses.store
    ? new ResponseStore({
        db: store.db,
        retentionMs: config.responses.retentionDays * 86_400_000,
        // Never the content: a write or prune that failed, and why.
        onError: (err, during) => logger.error({ err, during }, 'stored responses problem'),
      })
    : undefined;
  responses?.start();
  const files = new FileStore({
    db: store.db,
    root: config.files.root ? resolve(config.files.root) : resolve(dataDir, 'files'),
    purposes: purposesFrom(config.files.purposes),
    maxTenantBytes: config.files.maxTenantBytes,
    sweepIntervalMs: config.files.sweepIntervalMs,
    // An upload cannot take longer than a request may (server.requestTimeoutMs): older temp files are leftovers.
    staleMs: 2 * config.server.requestTimeoutMs + 60_000,
    onError: (err, during) => logger.error({ err, during }, 'file store problem'),
  });
  await files.start();
  const idempotency = new Idempotency({
    db: store.db,
    ttlMs: config.idempotency.ttlMs,
    lockTimeoutMs: config.idempotency.lockTimeoutMs,
    onOutcome: (outcome) => metrics.idempotency.inc({ outcome }),
    // Never the stored body: which step failed, and why.
    onError: (err, during) => logger.error({ err, during }, 'idempotency key problem'),
  });
  idempotency.start();
  if (config.idempotency.lockTimeoutMs < config.routing.maxTotalMs) {
    logger.warn(
      'idempotency.lockTimeoutMs is below routing.maxTotalMs: a slow request could be run twice under one key',
    );
  }
  const webhooks = await createWebhooks({
    db: store.db,
    dialect: store.dialect,
    config: config.webhooks,
    env,
    dataDir,
    logger,
    ...(options.webhookLookup ? { lookup: options.webhookLookup } : {}),
  });
  // Delivers from now on; a `modro worker` process whatever `webhooks.deliver` says.
  webhooks.start({ evenIfOff: role === 'worker' });
  metrics.watchWebhooks(
    () => webhooks.deliverer.outcomes,
    () => webhooks.outbox.stats(),
  );
  const calibration = config.routing.calibration;
  const recalibrate = async () => {
    // Only a learned chooser is calibrated, on its own scores (the rules chooser is the fallback when the
    // weights cannot be loaded).
    if (!calibration || chooser === ruleTierChooser) return;
    try {
      const thresholds = await calibrateFromUsage(store.db, calibration, logger, chooser.name);
      if (thresholds) router.setChooser(createTierChooser('learned', logger, { ...learned, thresholds }));
    } catch (err) {
      logger.error({ err }, 'auto calibration failed; keeping the current thresholds');
    }
  };
  await recalibrate();
  const calibrationTimer = calibration ? setInterval(recalibrate, calibration.intervalMs) : undefined;
  calibrationTimer?.unref();
  if (imported.imported > 0)
    logger.info({ imported: imported.imported }, 'usage records recovered from the journal of an earlier run');

  let generatedApiKey: string | undefined;
  let keys = config.auth.keys;
  if (keys.length === 0) {
    generatedApiKey = env['MODRO_API_KEY'] || `mdr-dev-${randomBytes(18).toString('base64url')}`;
    keys = [{ id: 'dev', key: generatedApiKey }];
    if (env['MODRO_API_KEY']) generatedApiKey = undefined;
  }
  const shared = await createSharedLimits({
    config,
    logger,
    metrics,
    // A key's first request with a quota: what it spent this period, counting records still queued.
    spentSince: async (keyId, since) => {
      await usage.flush().catch(() => {});
      return storedSpendSince(store.db, keyId, since);
    },
  });
  const limiter = shared.limiter;
  if (shared.channelNotices) channelSource.useNotices(shared.channelNotices);
  const catalogRefresh = shared.catalogRefresh;
  if (catalogRefresh) {
    // An operator's refresh on any replica lists the providers on every replica.
    discovery.announce = () => catalogRefresh.publish();
    catalogRefresh.subscribe(() => void discovery.refresh());
  }
  const verdicts = shared.keyVerdicts;
  if (verdicts) {
    publishVerdict = (provider, keyId) => verdicts.publish(provider, keyId);
    verdicts.subscribe((provider, keyId) => {
      // Only a key this replica holds (the same channel credential or configuration key has the same id here).
      if (!catalog.providers.get(provider)?.keys.some((k) => k.id === keyId)) return;
      verdictFromElsewhere = true;
      try {
        health.onFailure(
          provider,
          keyId,
          new GatewayError('authentication_failed', 'Rejected upstream on another replica', { keyRejected: true }),
        );
      } finally {
        verdictFromElsewhere = false;
      }
    });
  }
  const tenancy = await createTenancy({
    config,
    store,
    catalog,
    logger,
    dataDir,
    configKeys: keys,
    ...(shared.wrapFeed ? { wrapFeed: shared.wrapFeed } : {}),
  });
  tenancyRef = tenancy;
  metrics.watchKeyCache(() => tenancy.directory.keyCacheStats);
  metrics.watchLedgerCache(() => ledger.cacheStats);
  const auth = tenancy.auth;
  const channels = createChannelService({
    config,
    env,
    source: channelSource,
    catalog,
    adapterFor,
    upstreams,
    tokens,
    health,
    inFlight,
  });
  const accounts = new AccountService({
    db: store.db,
    tenancy,
    catalog,
    ledger,
    mailer: createMailer(config.mail, logger),
    logger,
    settings: config.accounts,
    baseUrl: () => tenancy.links.baseUrl,
  });
  const pipeline = new Pipeline({
    config,
    catalog,
    router,
    health,
    adapterFor,
    auth,
    metrics,
    logger,
    usage,
    tokens,
    upstreams,
    limiter,
    ledger,
    freeLimits: new FreeModelLimiter(config.limits.free),
    inFlight,
  });

  const wake = storage.kind === 'postgres' ? wakeChannel(storage.schema) : undefined;
  const executions = createExecutions({
    db: store.db,
    dialect: store.dialect,
    offloadCheckpoints: store.offloadCheckpoints,
    notifyChannel: wake,
    config: config.executions,
    pipeline,
    catalog,
    router,
    ledger,
    logger,
    // Terminal states enqueue their webhook in their own transaction; a URL delivery would refuse is a 400.
    webhooks: webhooks.outbox,
    checkWebhookUrl: (url) => {
      webhooks.validateUrl(url);
    },
    runners: mediaRunners({ catalog, pool: upstreams, files }).map((runner) => ({
      runner,
      resolve: (slug: string) => mediaCandidates(catalog, slug).find((model) => runner.kinds.includes(model.kind)),
    })),
    files,
    ...options.executions,
  });
  const runsExecutions = role === 'worker' || config.executions.enabled;
  if (runsExecutions) {
    executions.worker.start();
    // Owed upstream cancels (decision 0045): retries that are due and those a stopped or killed process left.
    executions.abandoner.start();
  }
  // PostgreSQL: other processes' submissions wake this worker at once (their NOTIFY), not at its next poll.
  const listener =
    runsExecutions && storage.kind === 'postgres' && wake
      ? await listenForWork(
          storage.url,
          wake,
          () => executions.worker.wake(),
          (err) => logger.warn({ err }, 'execution wake-ups lost (LISTEN connection); workers poll until it is back'),
        )
      : undefined;
  metrics.watchExecutions(
    () => ({ running: executions.worker.running, ...executions.worker.counters }),
    () => executions.queue.queued(),
    () => executions.abandoner.counters,
  );

  const runtime: Runtime = {
    config,
    catalog,
    router,
    health,
    metrics,
    logger,
    pipeline,
    store,
    usage,
    ledger,
    stripe,
    responses,
    files,
    idempotency,
    webhooks,
    executions,
    auth,
    tenancy,
    channels,
    accounts,
    applyConfig,
    prices,
    discovery,
    generatedApiKey,
    app: undefined as unknown as ReturnType<typeof buildApp>,
    draining: false,
    redisStatus: () => shared.redis(),
    attemptCounts: shared.attemptCounts,
    refreshGauges() {
      metrics.usageQueue.set(usage.counters.queued);
    },
    async listen() {
      await runtime.app.listen({ host: config.server.host, port: config.server.port });
      const address = runtime.app.server.address();
      const port = typeof address === 'object' && address ? address.port : config.server.port;
      const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
      const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
      tenancy.setBaseUrl(url);
      return url;
    },
    async shutdown() {
      if (runtime.draining) return;
      runtime.draining = true;
      logger.info('shutting down: draining in-flight requests');
      const server = runtime.app.server;
      const force = setTimeout(() => {
        const streams = runtime.app.openStreams;
        logger.warn(
          { graceMs: config.server.shutdownGraceMs, streams: streams.size },
          'grace period over: ending open streams with an error event and closing remaining connections',
        );
        const error = new GatewayError('provider_unavailable', 'The gateway shut down before this answer was complete');
        for (const stream of streams) stream.interrupt(error);
        // Their routes record them and send that last event; whatever is still open after that is cut.
        void (async () => {
          // Metering a cut stream may count its text first (the token worker starting, then its budget).
          const deadline = Date.now() + 5_000;
          while (streams.size > 0 && Date.now() < deadline) await sleep(10);
          await sleep(50);
          server.closeAllConnections();
        })();
      }, config.server.shutdownGraceMs);
      force.unref();
      // Keep-alive connections that finish their last response while draining would otherwise hold the
      // server open until their idle timeout.
      const sweep = setInterval(() => server.closeIdleConnections(), 100);
      try {
        await runtime.app.close();
        // Routes whose streams were interrupted record them once the upstream call has stopped (at once:
        // the client's abort signal fired); bounded, so a stuck upstream cannot hold the exit.
        const deadline = Date.now() + 5_000;
        while (runtime.app.openStreams.size > 0 && Date.now() < deadline) await sleep(10);
      } finally {
        clearTimeout(force);
        clearInterval(sweep);
      }
      // Runs still going after the grace period are put back in the queue for the next worker.
      await executions.service.drain();
      await listener?.close();
      await executions.worker.stop(config.server.shutdownGraceMs);
      // Upstream cancels under way (each bounded by its own 10 s deadline); those still owed stay in the database.
      await executions.abandoner.drain();
      await prices.close();
      await discovery.close();
      await channelSource.close();
      await tokens.close();
      await usage.close();
      await ledger.close().catch((err: unknown) => logger.error({ err }, 'ledger entries could not be written'));
      await responses?.close();
      await files.close();
      await idempotency.close();
      await accounts.close();
      await webhooks.close();
      await tenancy.close();
      await shared.close();
      await store.close();
      await upstreams.close();
      metrics.close();
      logger.info({ written: usage.counters.written, leftInJournal: usage.counters.leftInJournal }, 'stopped');
    },
  };
  runtime.app = buildApp(runtime);
  return runtime;
}
