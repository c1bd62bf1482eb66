import type { Generated } from 'kysely';
import type { AccountLoginTable, AccountTokenTable } from './account-tables.ts';
import type { ChannelCredentialTable, ChannelRevisionTable, ChannelTable } from './channel-tables.ts';
import type { ExecutionTable, UpstreamCancelTable } from './execution-tables.ts';
import type { LatencyBucketColumn } from './latency-buckets.ts';
import type {
  AccountTable,
  LedgerEntryTable,
  LedgerMonthTable,
  LedgerNodeTable,
  PlanTable,
  StripeEventTable,
} from './ledger-tables.ts';
import type { AdminUserTable, ApiKeyTable, SessionTable, TenancySettingsTable, TenantTable } from './tenancy-tables.ts';
import type { WebhookAttemptTable, WebhookDeliveryTable, WebhookSecretTable } from './webhook-tables.ts';

/**
 * The type of every table, as Kysely sees it. Add a table here in the same change as its migration.
 *
 * Conventions: times are integer milliseconds since the epoch; money is integer nano-dollars (1e-9 USD)
 * so sums are exact; repeated strings are ids into `usage_dim`; on PostgreSQL, BIGINT columns come back
 * as JS numbers (db.ts installs the parser), so every bigint here is `number`, exact up to 2^53.
 */
export interface Database {
  usage_dim: UsageDimTable;
  usage_record: UsageRecordTable;
  usage_hourly: UsageHourlyTable;
  tenant: TenantTable;
  api_key: ApiKeyTable;
  admin_user: AdminUserTable;
  dashboard_session: SessionTable;
  tenancy_settings: TenancySettingsTable;
  stored_response: StoredResponseTable;
  channel: ChannelTable;
  channel_credential: ChannelCredentialTable;
  channel_revision: ChannelRevisionTable;
  plan: PlanTable;
  account: AccountTable;
  ledger_entry: LedgerEntryTable;
  ledger_month: LedgerMonthTable;
  stripe_event: StripeEventTable;
  ledger_node: LedgerNodeTable;
  execution: ExecutionTable;
  upstream_cancel: UpstreamCancelTable;
  account_login: AccountLoginTable;
  account_token: AccountTokenTable;
  webhook_delivery: WebhookDeliveryTable;
  webhook_attempt: WebhookAttemptTable;
  webhook_secret: WebhookSecretTable;
  stored_file: StoredFileTable;
  idempotency_key: IdempotencyKeyTable;
}

/**
 * Interned strings (tenant, key, model, provider, tier, ...). Rows are never updated or deleted, so an id
 * once cached stays valid for the life of the database.
 */
export interface UsageDimTable {
  id: Generated<number>;
  value: string;
}

/** One row per request, success or failure. Nullable string columns hold a `usage_dim` id or null. */
export interface UsageRecordTable {
  id: Generated<number>;
  /** Unique: a re-delivered record (retried commit, re-imported spill) is ignored instead of counted twice. */
  request_id: string;
  at: number;
  tenant_id: number;
  key_id: number | null;
  protocol_id: number;
  requested_model_id: number;
  tier_id: number | null;
  preset_id: number | null;
  router_score: number | null;
  chooser_id: number | null;
  model_id: number | null;
  provider_id: number | null;
  provider_key_id: number | null;
  attempts: number;
  /** 0 or 1: SQLite has no boolean type, and one representation keeps both dialects alike. */
  stream: number;
  input_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  cost_nano_usd: number;
  latency_ms: number;
  ttfb_ms: number | null;
  status: number;
  error_code_id: number | null;
}

/**
 * Hourly sums kept forever (pruning removes raw rows only), so dashboards stay fast at millions of
 * requests. Key columns use 0 for "none" instead of NULL: NULLs never conflict in a unique index, which
 * would break the upsert.
 */
export type UsageHourlyTable = UsageHourlyKey & UsageHourlySums & { [K in LatencyBucketColumn]: number };

export interface UsageHourlyKey {
  /** Start of the UTC hour, ms. */
  hour_start: number;
  tenant_id: number;
  model_id: number;
  provider_id: number;
  tier_id: number;
  /** HTTP status / 100: 2 success, 4 client error, 5 server error. */
  status_class: number;
  error_code_id: number;
}

export interface UsageHourlySums {
  requests: number;
  attempts: number;
  input_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  cost_nano_usd: number;
  latency_ms_sum: number;
  ttfb_ms_sum: number;
  /** Requests that have a ttfb (streams and those that reached the provider): the divisor for ttfb_ms_sum. */
  ttfb_count: number;
}

export const USAGE_HOURLY_KEY_COLUMNS = [
  'hour_start',
  'tenant_id',
  'model_id',
  'provider_id',
  'tier_id',
  'status_class',
  'error_code_id',
] as const satisfies readonly (keyof UsageHourlyKey)[];

export const USAGE_HOURLY_SUM_COLUMNS = [
  'requests',
  'attempts',
  'input_tokens',
  'cached_input_tokens',
  'cache_write_tokens',
  'output_tokens',
  'reasoning_tokens',
  'cost_nano_usd',
  'latency_ms_sum',
  'ttfb_ms_sum',
  'ttfb_count',
] as const satisfies readonly (keyof UsageHourlySums)[];

/** A stored answer of the Responses API (migration 0004_stored_responses; src/store/stored-responses.ts). */
export interface StoredResponseTable {
  /** The Response's id, `resp_…`. */
  id: string;
  tenant_id: string;
  /** JSON: the conversation up to and including this answer, as internal messages (no `instructions`). */
  messages: string;
  /** JSON: the Response object as it was answered. */
  response: string;
  created_at: number;
  expires_at: number;
}

/** A tenant's file (migration 0013_files; src/store/files.ts); its bytes are on disk under a path of its id. */
export interface StoredFileTable {
  /** `file_` + a random UUID. */
  id: string;
  tenant_id: string;
  purpose: string;
  filename: string | null;
  content_type: string;
  bytes: number;
  /** Hex SHA-256 of the bytes. */
  sha256: string;
  created_at: number;
  /** ms epoch; null: kept until deleted. */
  expires_at: number | null;
}

/** An idempotency key of a tenant (migration 0014_idempotency_keys; src/store/idempotency-keys.ts). */
export interface IdempotencyKeyTable {
  tenant_id: string;
  key: string;
  /** Hex SHA-256 of method, path and body. */
  fingerprint: string;
  owner: string;
  /** null while the first request runs. */
  status: number | null;
  /** JSON object of the response headers kept. */
  headers: string | null;
  body: string | null;
  locked_until: number | null;
  created_at: number;
  expires_at: number;
}
