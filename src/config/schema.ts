import { z } from 'zod';
import { cidrProblems } from '../core/cidr.ts';
import { PRESET_ALIASES, PRESETS, TIERS } from '../core/tiers.ts';
import { PROVIDER_KINDS } from '../providers/kinds/index.ts';

/**
 * The configuration file's schema: one YAML file, every key optional, defaults that make an empty file a
 * working gateway. docs/configuration.md documents each key; keep them in step.
 * Secrets are strings that may be references: `env:NAME` or `file:/path` (resolved in load.ts).
 */

const positiveInt = z.int().positive();
/** An execution's deadline, ms: at most 7 days (a Node timer cannot wait past 24.8 days). */
const deadline = z
  .int()
  .min(1_000)
  .max(7 * 86_400_000);

/** The learned routers the gateway ships (router/auto/asset.ts holds one weights file for each). */
export const LEARNED_VERSIONS = ['v6'] as const;
export type LearnedVersion = (typeof LEARNED_VERSIONS)[number];
const tierList = z.array(z.string().min(1));

const priceSchema = z.strictObject({
  input: z.number().min(0),
  cachedInput: z.number().min(0).optional(),
  cacheWrite: z.number().min(0).optional(),
  output: z.number().min(0),
});

/** A media rate: one USD figure, or one per variant (`size/quality`, `size`, `quality`, `*`). */
const mediaRateSchema = z.union([z.number().min(0), z.record(z.string().min(1), z.number().min(0))]);

/** Per-unit prices of a media model, USD (docs/providers.md, media models). */
const mediaPriceSchema = z.strictObject({
  perImage: mediaRateSchema.optional(),
  perSecond: mediaRateSchema.optional(),
  perMillionCharacters: z.number().min(0).optional(),
  inputImageTokens: z.number().min(0).optional(),
  inputAudioTokens: z.number().min(0).optional(),
  outputImageTokens: z.number().min(0).optional(),
});

const capabilitiesSchema = z.strictObject({
  tools: z.boolean().optional(),
  vision: z.boolean().optional(),
  jsonSchema: z.boolean().optional(),
  streaming: z.boolean().optional(),
  reasoning: z.boolean().optional(),
});

const modelSchema = z.strictObject({
  name: z.string().min(1),
  upstreamName: z.string().min(1).optional(),
  price: priceSchema.optional(),
  contextWindow: positiveInt.optional(),
  maxOutputTokens: positiveInt.optional(),
  capabilities: capabilitiesSchema.optional(),
  qualityRank: z.number().min(0).max(100).optional(),
  tiers: z.array(z.enum(TIERS)).optional(),
  /**
   * `embedding`: served by POST /v1/embeddings only, priced per input token (docs/embeddings.md). `image`,
   * `speech`, `transcription`, `video`: run as executions only (docs/executions.md). Default chat.
   */
  mode: z.enum(['chat', 'embedding', 'image', 'speech', 'transcription', 'video']).optional(),
  /** A media model's per-unit prices, USD (per image, second, million characters). */
  mediaPrice: mediaPriceSchema.optional(),
});

const keySchema = z.union([
  z.string().min(1),
  z.strictObject({
    id: z.string().min(1).optional(),
    key: z.string().min(1),
    secretAccessKey: z.string().min(1).optional(),
    sessionToken: z.string().min(1).optional(),
  }),
]);

const timeoutsSchema = z.strictObject({
  connectMs: positiveInt.default(5_000),
  firstByteMs: positiveInt.default(60_000),
  totalMs: positiveInt.default(600_000),
});

/** Caps on an upstream's answers (`limits.upstream`, and a provider's own `limits` overriding any of them). */
const upstreamLimitFields = {
  maxEventBytes: positiveInt,
  maxStreamBytes: positiveInt,
  maxBodyBytes: positiveInt,
};

/** A channel group's name (tenants' `groups`, providers' and channels' `groups`). */
export const groupName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, 'must be 1-63 lowercase letters, digits, ., - or _');

export const providerSchema = z.strictObject({
  id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]*$/, 'must be lowercase letters, digits, - or _')
    .optional(),
  kind: z.enum(PROVIDER_KINDS),
  baseUrl: z.url().optional(),
  keys: z.array(keySchema).default([]),
  options: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
  timeouts: timeoutsSchema.prefault({}),
  /** This provider's own caps on what it may send; unset ones come from `limits.upstream`. */
  limits: z.strictObject(upstreamLimitFields).partial().optional(),
  /** Models this provider serves. Replaces the built-in list unless `includeKnownModels` is true. */
  models: z.array(modelSchema).optional(),
  includeKnownModels: z.boolean().optional(),
  /** `false`: never list this provider's models (model discovery), even with `catalog.discovery.enabled`. */
  discover: z.boolean().optional(),
  /**
   * Groups allowed to use this provider or channel (docs/channels.md): only tenants in one of them route to it.
   * Absent or empty: every tenant. Group names are what tenants list in their `groups`.
   */
  groups: z.array(groupName).max(50).optional(),
});

const pinSchema = z.strictObject({
  utility: tierList.optional(),
  fast: tierList.optional(),
  deep: tierList.optional(),
});

/** Tenants, managed keys, bring-your-own-key, dashboards (docs/tenancy.md). */
const tenancySchema = z.strictObject({
  /** Server secret for BYOK tenant ids and signed links (`env:`/`file:`); default: generated into the data folder. */
  secret: z.string().min(1).optional(),
  managedKeys: z.strictObject({ enabled: z.boolean().default(true) }).prefault({}),
  /** Off by default: anyone who can reach the gateway could otherwise use it with their own provider key. */
  byok: z.strictObject({ enabled: z.boolean().default(false) }).prefault({}),
  dashboard: z
    .strictObject({
      /** How long a signed dashboard link stays valid. */
      linkTtlMs: positiveInt.default(86_400_000),
      /** A tenant's signed link is cached and re-signed after this long (never per request). */
      linkRefreshMs: positiveInt.default(600_000),
    })
    .prefault({}),
  cookies: z
    .strictObject({
      /** `auto`: Secure when server.publicUrl is https or the request came over TLS. */
      secure: z.union([z.boolean(), z.literal('auto')]).default('auto'),
      /** SameSite of the client dashboard cookie (the admin cookie is always Strict). */
      sameSite: z.enum(['lax', 'strict']).default('lax'),
      sessionTtlMs: positiveInt.default(12 * 3_600_000),
    })
    .prefault({}),
  admin: z
    .strictObject({
      username: z
        .string()
        .regex(/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/)
        .default('admin'),
      /** `env:`/`file:`; when unset and no admin exists, one is generated at first start (see docs/tenancy.md). */
      password: z.string().min(1).optional(),
    })
    .prefault({}),
  cache: z
    .strictObject({
      /** How often each node checks the database's settings version (cache invalidation). */
      pollMs: positiveInt.default(1_000),
      /** Most managed keys each node keeps in memory (hot keys, least recently used evicted; ~1.4 KB each). */
      keys: positiveInt.default(10_000),
      /** Most tenants each node keeps in memory (hot tenants, loaded with their first key; the default tenant on top). */
      tenants: positiveInt.default(10_000),
      /** Most unknown keys (and, apart, unknown tenants) each node remembers, so made-up keys cannot hammer the database. */
      unknownKeys: positiveInt.default(10_000),
      /** How long an unknown key or tenant is remembered (ms; any settings change forgets them all). */
      unknownTtlMs: positiveInt.default(5_000),
    })
    .prefault({}),
});

/** One purpose of files (files.purposes): what may be uploaded under it and how long it is kept. */
const filePurposeSchema = z.strictObject({
  /** Allowed content types: image/png, image/* (a whole family) or any type. */
  types: z
    .array(z.string().regex(/^([a-z0-9.+-]+|\*)\/([a-z0-9.+-]+|\*)$/))
    .min(1)
    .optional(),
  /** Largest file (bytes). */
  maxBytes: positiveInt.optional(),
  /** Files of this purpose are deleted this many days after they were stored; absent or 0: kept until deleted. */
  retentionDays: z.number().min(0).optional(),
  /** Whether clients may upload it (false: only the server writes it, e.g. execution outputs). */
  upload: z.boolean().optional(),
});

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.int().min(0).max(65_535).default(8787),
      /** Largest accepted request body; bigger ones get invalid_request (413). */
      bodyLimitBytes: positiveInt.default(10 * 1024 * 1024),
      /** Public base URL for links the gateway hands out; default http://host:port. */
      publicUrl: z.url().optional(),
      /** SIGTERM: how long in-flight requests and streams may take to finish. */
      shutdownGraceMs: positiveInt.default(30_000),
      /** Longest time to receive a whole request, headers and body (a slow body is cut with 408). */
      requestTimeoutMs: positiveInt.default(30_000),
      /** Longest time to receive a request's headers. */
      headersTimeoutMs: positiveInt.default(10_000),
      /**
       * Proxies (CIDR ranges) whose X-Forwarded-For is believed: a request whose socket peer is one of them
       * gets its client address from that header (key address lists, login throttling). Empty: the socket's.
       */
      trustedProxies: z
        .array(z.string())
        .default([])
        .superRefine((list, ctx) => {
          for (const problem of cidrProblems(list)) ctx.addIssue({ code: 'custom', message: problem });
        }),
    })
    .prefault({}),
  /** Bounds on what clients and upstreams may send (docs/security.md). */
  limits: z
    .strictObject({
      /** Deepest JSON nesting accepted in a request body; deeper bodies get invalid_request (400). */
      maxJsonDepth: positiveInt.max(1_000).default(64),
      /** Exact token counting (context checks, count_tokens, estimates) gives way to a bound or an estimate after this long. */
      tokenCountBudgetMs: positiveInt.default(1_000),
      /**
       * Free models (priced at zero) for billed accounts: no balance needed, no hold, but these rates per key
       * (OpenRouter's convention; 0 = none). Callers without an account are not limited by them.
       */
      free: z.strictObject({ rpm: z.int().min(0).default(20), rpd: z.int().min(0).default(1_000) }).prefault({}),
      /** Request bytes that callers not yet verified by a provider (new bring-your-own keys) may have in flight. */
      unverifiedBodyBytes: positiveInt.default(32 * 1024 * 1024),
      /** Upstream answers: the largest single SSE event, whole streamed answer and non-streamed body. */
      upstream: z
        .strictObject({
          maxEventBytes: upstreamLimitFields.maxEventBytes.default(8 * 1024 * 1024),
          maxStreamBytes: upstreamLimitFields.maxStreamBytes.default(256 * 1024 * 1024),
          maxBodyBytes: upstreamLimitFields.maxBodyBytes.default(32 * 1024 * 1024),
        })
        .prefault({}),
    })
    .prefault({}),
  storage: z
    .preprocess(
      // `kind` may be left out for the default store (e.g. MODRO__STORAGE__PATH=/var/lib/modro/modro.db).
      (value) =>
        value && typeof value === 'object' && !Array.isArray(value) && !('kind' in value)
          ? { kind: 'sqlite', ...value }
          : value,
      z.discriminatedUnion('kind', [
        z.strictObject({ kind: z.literal('sqlite'), path: z.string().default('./data/modro.db') }),
        z.strictObject({ kind: z.literal('postgres'), url: z.string().min(1), schema: z.string().optional() }),
      ]),
    )
    .default({ kind: 'sqlite', path: './data/modro.db' }),
  auth: z
    .strictObject({
      /** Gateway API keys (one default tenant until tenancy lands). Empty: a key is generated per run. */
      keys: z.array(z.strictObject({ id: z.string().min(1).optional(), key: z.string().min(8) })).default([]),
    })
    .prefault({}),
  routing: z
    .strictObject({
      defaultPreset: z
        .preprocess((v) => (typeof v === 'string' ? (PRESET_ALIASES[v] ?? v) : v), z.enum(PRESETS))
        .default('balanced'),
      /** Chooser for `auto`: `learned` when its weights are available, else `rules`. */
      autoChooser: z.enum(['learned', 'rules']).default('learned'),
      /**
       * Which shipped learned router `learned` uses (LEARNED_VERSIONS: only v6). v1 to v5 were retired
       * (docs/routing.md), and a configuration still naming one is refused with a message that says so.
       */
      learnedVersion: z
        .enum(LEARNED_VERSIONS, {
          error: (issue) =>
            typeof issue.input === 'string' && /^v[1-5]$/.test(issue.input)
              ? `learned-${issue.input} was retired: v6, the only shipped learned router, ranks prompts by difficulty better on held-out data (docs/routing.md); remove the setting or set it to v6`
              : 'must be v6, the only shipped learned router',
        })
        .default('v6'),
      /**
       * Target share of `auto` requests sent to the deep tier (balanced preset); thresholds are recalibrated
       * from the router scores in the usage records. Off when absent.
       */
      calibration: z
        .strictObject({
          deepShare: z.number().min(0).max(1),
          intervalMs: positiveInt.default(3_600_000),
          sampleSize: positiveInt.default(5_000),
          minSample: positiveInt.default(200),
        })
        .optional(),
      /** Quality-rank floors of the fast and deep tiers (utility is everything below fast). */
      tierFloors: z
        .strictObject({ fast: z.number().min(0).max(100).default(60), deep: z.number().min(0).max(100).default(80) })
        .prefault({}),
      maxAttempts: positiveInt.max(10).default(4),
      /** Bound on the whole failover sequence (until the first byte for streams). */
      maxTotalMs: positiveInt.default(120_000),
      /** Operator-pinned candidate lists per preset and tier (catalog ids or model names). */
      pin: z
        .strictObject({
          cheapest: pinSchema.optional(),
          balanced: pinSchema.optional(),
          quality: pinSchema.optional(),
        })
        .default({}),
    })
    .prefault({}),
  providers: z.array(providerSchema).default([]),
  /** Channels (docs/channels.md). A change needs a restart. */
  channels: z
    .strictObject({
      /**
       * How often each node reads the channel revision (changes made elsewhere: the CLI, another replica). With
       * `redis:` the replica that makes a change also pushes a notice, so the others apply it at once.
       */
      pollMs: positiveInt.default(1_000),
    })
    .prefault({}),
  catalog: z
    .strictObject({
      /** Per catalog id (`provider/model`): replace any model field. */
      overrides: z.record(z.string(), modelSchema.partial()).default({}),
      exclude: z.array(z.string()).default([]),
      /**
       * Quality ranks (0-100) by bare model name or catalog id, for models Modro does not rank itself: what
       * places a discovered model in a tier (docs/routing.md, "Discovery"). An id wins over a name.
       */
      ranks: z.record(z.string(), z.number().min(0).max(100)).default({}),
      /** Model discovery from each provider's model-listing endpoint (ADR 0031). */
      discovery: z
        .strictObject({
          /** Off by default: a self-hosted gateway does not call out unless told to. */
          enabled: z.boolean().default(false),
          intervalMs: positiveInt.min(1_000).default(3_600_000),
          /** One provider's listing not finished in this long fails (its last list stays). */
          timeoutMs: positiveInt.default(15_000),
        })
        .prefault({}),
    })
    .prefault({}),
  /** The live catalog's prices (docs/configuration.md, ADR 0026). Changing this block needs a restart. */
  prices: z
    .strictObject({
      refresh: z
        .strictObject({
          /** Off by default: a self-hosted gateway does not call out unless told to. */
          enabled: z.boolean().default(false),
          /** A price data file in @pydantic/genai-prices' format; default: that project's published data. */
          url: z
            .url()
            .default('https://raw.githubusercontent.com/pydantic/genai-prices/main/prices/new_data/v2/data.json'),
          intervalMs: positiveInt.min(1_000).default(6 * 3_600_000),
          /** A fetch not finished in this long fails (the current prices stay). */
          timeoutMs: positiveInt.default(30_000),
          /** A larger answer is refused. */
          maxBytes: positiveInt.default(16 * 1024 * 1024),
        })
        .prefault({}),
    })
    .prefault({}),
  demo: z
    .strictObject({
      /** `auto`: the demo provider is on only when no real provider is configured. */
      enabled: z.union([z.boolean(), z.literal('auto')]).default('auto'),
      chunkDelayMs: z.int().min(0).default(0),
    })
    .prefault({}),
  usage: z
    .strictObject({
      batchSize: positiveInt.default(500),
      flushIntervalMs: positiveInt.default(1_000),
      retentionDays: positiveInt.default(90),
      /**
       * The usage journal (every record appended before its response's last byte, so a killed process loses
       * none) is synced to disk this often; a power loss can cost at most this window.
       */
      journalSyncMs: positiveInt.default(1_000),
    })
    .prefault({}),
  /** Money (docs/billing.md): prepaid balances, holds, plans; only tenants with an account are billed. */
  billing: z
    .strictObject({
      /** Fee on deposits in basis points (400 = 4%), taken from the credit as its own ledger entry. */
      depositFeeBps: z.number().int().min(0).max(5_000).default(400),
      /** Ledger entries of holds and settlements are written in batches this often. */
      flushIntervalMs: positiveInt.default(50),
      /** Entries and plan changes written by others (the CLI, other gateways) are picked up this often. */
      pollMs: positiveInt.default(1_000),
      /**
       * Several gateway processes share one PostgreSQL database: each hold is a conditional update of the
       * account row (one round trip), so together they never overdraw a balance. PostgreSQL only.
       */
      shared: z.boolean().default(false),
      /** Shared billing: a hold open this long at a gateway's start belonged to a process that died; it is closed. */
      staleHoldMs: positiveInt.default(3_600_000),
      /**
       * The periodic stale-hold sweep (docs/billing.md): every process writes a heartbeat this often, and
       * closes the holds of processes whose heartbeat stopped. 0: no sweep (holds are closed at start only).
       */
      sweepIntervalMs: z.number().int().min(0).default(30_000),
      /**
       * A process whose heartbeat is older than this is dead: its holds (older than this too) are settled at
       * their recorded cost or released. Keep it well above sweepIntervalMs and any database outage a process
       * should survive.
       */
      nodeTimeoutMs: positiveInt.default(120_000),
      /**
       * Accounts are loaded into memory on first use (decision 0043); one unused this long, with no hold of the
       * process open on it, is dropped (its next request loads it again with one query).
       */
      accountIdleMs: z.number().int().min(60_000).default(600_000),
      /**
       * Deposits through Stripe Checkout (docs/billing.md): the admin API creates a Checkout session, Stripe's
       * signed `checkout.session.completed` webhook at `POST /webhooks/stripe` credits the account. Unset: off.
       */
      stripe: z
        .strictObject({
          /** Secret API key (`sk_test_…`/`sk_live_…` or a restricted key); `env:`/`file:`; never logged. */
          secretKey: z.string().min(1),
          /** Signing secret of the webhook endpoint (`whsec_…`); `env:`/`file:`; never logged. */
          webhookSecret: z.string().min(1),
          /** Where Stripe sends the payer after paying, and after giving up. */
          successUrl: z.url(),
          cancelUrl: z.url(),
          /** Another Stripe API base (a mock in tests): `http://127.0.0.1:12111`. Default: Stripe's own. */
          apiBase: z.url().optional(),
          /** Smallest and largest deposit, in whole dollars. */
          minUsd: z.number().int().min(1).default(5),
          maxUsd: z.number().int().min(1).max(100_000).default(10_000),
          /** A signed event older than this (seconds) is refused as a replay (Stripe's default is 300). */
          toleranceSeconds: positiveInt.default(300),
        })
        .optional(),
    })
    .prefault({}),
  /**
   * Outgoing mail (docs/accounts.md): verification and reset links of self-service accounts, sent through this
   * SMTP server with nodemailer. Unset: the gateway writes each link to its log instead (one line; the link is
   * the only secret in it, single use and short-lived), so the embedded default works without a mail server.
   */
  mail: z
    .strictObject({
      host: z.string().min(1),
      port: z.int().min(1).max(65_535).default(587),
      /** true: TLS from the first byte (port 465); false: upgraded with STARTTLS (required unless allowPlaintext). */
      secure: z.boolean().default(false),
      /** true: send in plain text when the server offers no STARTTLS (a relay on localhost); false: refuse. */
      allowPlaintext: z.boolean().default(false),
      user: z.string().min(1).optional(),
      /** `env:`/`file:`; never logged. */
      password: z.string().min(1).optional(),
      /** The From address, e.g. `Modro <no-reply@example.com>`. */
      from: z.string().min(3),
    })
    .optional(),
  /** Self-service accounts at /console (docs/accounts.md): sign-up with email and password, each one a billed tenant. */
  accounts: z
    .strictObject({
      /** false: /console/signup is closed (existing accounts still sign in). */
      signup: z.boolean().default(true),
      /** How long an email verification link stays valid. */
      verifyTtlMs: positiveInt.default(24 * 3_600_000),
      /** How long a password reset link stays valid. */
      resetTtlMs: positiveInt.default(3_600_000),
      /** Console sessions end after this long. */
      sessionTtlMs: positiveInt.default(12 * 3_600_000),
    })
    .prefault({}),
  /** Asynchronous executions (docs/executions.md): the durable queue and its workers. */
  executions: z
    .strictObject({
      /** Run workers in the gateway process (off: only `modro worker` processes run executions). */
      enabled: z.boolean().default(true),
      /** Executions one process runs at once, in all; of one tenant; of one provider (a concrete model's). */
      concurrency: positiveInt.default(16),
      perTenant: positiveInt.default(8),
      perProvider: positiveInt.default(16),
      /** A worker holds an execution this long and renews it every third of it; one that stops is presumed dead. */
      leaseMs: z.int().min(1_000).default(30_000),
      /** An execution not ended this long after its submission ends FAILED with `timeout` (at most 7 days). */
      deadlineMs: deadline.default(15 * 60_000),
      /** Deadlines of particular kinds (e.g. `video: 3600000`). */
      deadlineMsByKind: z
        .strictObject({
          text: deadline.optional(),
          image: deadline.optional(),
          speech: deadline.optional(),
          transcription: deadline.optional(),
          video: deadline.optional(),
        })
        .default({}),
      /** How often a worker looks for work queued by other processes and for expired leases. */
      pollMs: positiveInt.default(1_000),
      /** Runs of one execution at most (retries of retryable failures and restarts after a worker died). */
      maxAttempts: positiveInt.default(5),
      /** First retry after this; doubled each time up to maxBackoffMs. */
      backoffMs: positiveInt.default(2_000),
      maxBackoffMs: positiveInt.default(60_000),
      /**
       * Waits before the further tries of cancelling upstream the job of an execution that ended without a run
       * (decision 0042), after a retryable failure; the owed cancel is a row (decision 0045), so a restart carries on.
       */
      cancelRetryMs: z.array(positiveInt).max(10).default([1_000, 10_000, 60_000]),
      /** Ended executions (inputs, outputs) are deleted this many days after they ended; 0 keeps them. */
      retentionDays: z.int().min(0).default(30),
    })
    .prefault({}),
  /** Stored responses of the Responses API (docs/responses.md): off unless the operator turns them on. */
  responses: z
    .strictObject({
      /**
       * Store answers of `POST /v1/responses` (unless a request sends `store: false`), per tenant, so that a
       * later request can continue one with `previous_response_id` and GET/DELETE /v1/responses/{id} work.
       */
      store: z.boolean().default(false),
      /** A stored response expires (404 from then on) and is pruned this many days after it was answered. */
      retentionDays: positiveInt.default(30),
    })
    .prefault({}),
  /** Idempotency keys (docs/idempotency.md): Stripe's semantics on POST /v1/files, chat and executions. */
  idempotency: z
    .strictObject({
      /** A key and its stored answer are kept this long after the first request (ms; default 24 hours). */
      ttlMs: positiveInt.default(86_400_000),
      /**
       * A request still running after this long is presumed dead (its process crashed) and a retry with its key
       * runs anew (ms; default 10 minutes). Keep it above the longest request (routing.maxTotalMs).
       */
      lockTimeoutMs: positiveInt.default(600_000),
    })
    .prefault({}),
  /** Tenants' files (docs/files.md): `POST /v1/files` and the files executions read and write. */
  files: z
    .strictObject({
      /** Folder of the bytes; default `files` in the data folder. */
      root: z.string().min(1).optional(),
      /** Most bytes one tenant may store in all (uploads and outputs); absent: no limit. */
      maxTenantBytes: positiveInt.optional(),
      /** Purposes, merged over the built-in ones (execution_input, execution_output, vision, user_data). */
      purposes: z.record(z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/), filePurposeSchema).default({}),
      /** How often expired files are deleted (ms). */
      sweepIntervalMs: positiveInt.default(3_600_000),
    })
    .prefault({}),
  /**
   * Webhook delivery of executions (docs/executions.md): signed per Standard Webhooks, retried for over a day,
   * never to private, loopback or link-local addresses unless allowed here.
   */
  webhooks: z
    .strictObject({
      /** Deliver from this process (the gateway; `./modro worker` delivers either way). */
      deliver: z.boolean().default(true),
      /** Allow every address, private, loopback and link-local included (a trusted private network only). */
      allowPrivateNetworks: z.boolean().default(false),
      /** Otherwise refused ranges allowed anyway (CIDR), e.g. `10.20.0.0/16` for an internal receiver. */
      allowedNetworks: z
        .array(z.string())
        .default([])
        .superRefine((list, ctx) => {
          for (const problem of cidrProblems(list)) ctx.addIssue({ code: 'custom', message: problem });
        }),
      /** Wait after each failed attempt, in order (ms); after the last, the delivery is failed. */
      retryScheduleMs: z
        .array(positiveInt)
        .min(1)
        .default([
          5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 10_800_000, 21_600_000, 21_600_000, 28_800_000,
        ]),
      /** Each wait is lengthened by a random share up to this (0.25: up to 25% longer), never shortened. */
      jitter: z.number().min(0).max(1).default(0.25),
      /** One attempt (connect, send, status line) may take this long. */
      timeoutMs: positiveInt.default(10_000),
      /** At most this much of a receiver's answer is read; the rest is dropped. */
      maxResponseBytes: positiveInt.default(64 * 1024),
      /** A claimed delivery whose deliverer is gone is due again after this long (must exceed timeoutMs). */
      leaseMs: positiveInt.default(60_000),
      /** Due deliveries are looked for this often (an enqueue in this process also wakes the deliverer). */
      pollMs: positiveInt.default(1_000),
      /** Attempts in flight at once per process. */
      concurrency: positiveInt.default(8),
      /** Attempts in flight at once to one host (host:port) per process, so a slow receiver holds few slots. */
      perHostConcurrency: positiveInt.default(4),
      /** After a rotation, the previous secret keeps signing beside the new one this long. */
      rotationOverlapMs: z.int().min(0).default(86_400_000),
      /** Finished deliveries and their attempts are deleted this many days after they were created. */
      retentionDays: positiveInt.default(30),
    })
    .refine((w) => w.leaseMs > w.timeoutMs, {
      message: 'webhooks.leaseMs must exceed webhooks.timeoutMs (a claim must outlive its attempt)',
      path: ['leaseMs'],
    })
    .prefault({}),
  health: z
    .strictObject({
      /** Consecutive failures that open a provider key's circuit. */
      failureThreshold: positiveInt.default(5),
      /** How long an open circuit waits before one half-open probe. */
      cooldownMs: positiveInt.default(30_000),
      /** A key rejected with 401/403 rests this long before it is tried again. */
      rejectedKeyRetryMs: positiveInt.default(15 * 60_000),
    })
    .prefault({}),
  logging: z
    .strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
    .prefault({}),
  tenancy: tenancySchema.prefault({}),
  /**
   * Several replicas (docs/deploy.md): Redis holds the keys' rate and quota counters, shared by every replica
   * through atomic scripts, and carries settings-change notices (pub/sub, the database poll kept as fallback).
   * Absent: counters live in this process's memory (one node).
   */
  redis: z
    .strictObject({
      /** redis://[user:password@]host:port[/db] or rediss:// (`env:`/`file:` references work). */
      url: z.string().min(1),
      /** Prefix of every key and channel this gateway uses (several gateways may share one Redis). */
      keyPrefix: z.string().default('modro:'),
      /**
       * Redis unreachable: `open` admits and counts in this replica's memory (limits then hold per replica,
       * not across them, until Redis is back); `closed` refuses limited keys' requests with 503
       * provider_unavailable (Retry-After: 1). Keys without rpm, tpm or quota are served either way.
       */
      failMode: z.enum(['open', 'closed']).default('open'),
      /** A counter command not answered in this long counts as Redis being down (ms). */
      commandTimeoutMs: positiveInt.default(500),
    })
    .optional(),
});

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type ProviderConfig = Config['providers'][number];
export type ModelConfig = z.output<typeof modelSchema>;
