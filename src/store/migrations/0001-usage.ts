import type { Kysely } from 'kysely';
import { LATENCY_BUCKET_COLUMNS } from '../latency-buckets.ts';
import { addIdColumn, type SqlDialect, zeroed } from './column-types.ts';

/**
 * Usage: interned strings, one compact row per request, and hourly rollups for dashboards.
 * See docs/decisions/0001-storage.md.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and must not follow today's Database type.
export async function up(db: Kysely<any>, dialect: SqlDialect): Promise<void> {
  await addIdColumn(db.schema.createTable('usage_dim'), 'id', 'integer', dialect)
    .addColumn('value', 'text', (c) => c.notNull().unique())
    .execute();

  await addIdColumn(db.schema.createTable('usage_record'), 'id', 'bigint', dialect)
    .addColumn('request_id', 'text', (c) => c.notNull().unique())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('tenant_id', 'integer', (c) => c.notNull())
    .addColumn('key_id', 'integer')
    .addColumn('protocol_id', 'integer', (c) => c.notNull())
    .addColumn('requested_model_id', 'integer', (c) => c.notNull())
    .addColumn('tier_id', 'integer')
    .addColumn('preset_id', 'integer')
    .addColumn('router_score', 'double precision')
    .addColumn('chooser_id', 'integer')
    .addColumn('model_id', 'integer')
    .addColumn('provider_id', 'integer')
    .addColumn('provider_key_id', 'integer')
    .addColumn('attempts', 'smallint', (c) => c.notNull())
    .addColumn('stream', 'smallint', (c) => c.notNull())
    .addColumn('input_tokens', 'integer', (c) => c.notNull())
    .addColumn('cached_input_tokens', 'integer', (c) => c.notNull())
    .addColumn('cache_write_tokens', 'integer', (c) => c.notNull())
    .addColumn('output_tokens', 'integer', (c) => c.notNull())
    .addColumn('reasoning_tokens', 'integer', (c) => c.notNull())
    .addColumn('cost_nano_usd', 'bigint', (c) => c.notNull())
    .addColumn('latency_ms', 'integer', (c) => c.notNull())
    .addColumn('ttfb_ms', 'integer')
    .addColumn('status', 'smallint', (c) => c.notNull())
    .addColumn('error_code_id', 'integer')
    .execute();
  // A tenant's recent requests, newest first; `id` breaks ties between rows of the same millisecond.
  await db.schema.createIndex('usage_record_tenant_at').on('usage_record').columns(['tenant_id', 'at', 'id']).execute();
  // Retention deletes by age.
  await db.schema.createIndex('usage_record_at').on('usage_record').column('at').execute();

  let hourly = db.schema
    .createTable('usage_hourly')
    .addColumn('hour_start', 'bigint', (c) => c.notNull())
    .addColumn('tenant_id', 'integer', (c) => c.notNull())
    .addColumn('model_id', 'integer', (c) => c.notNull())
    .addColumn('provider_id', 'integer', (c) => c.notNull())
    .addColumn('tier_id', 'integer', (c) => c.notNull())
    .addColumn('status_class', 'smallint', (c) => c.notNull())
    .addColumn('error_code_id', 'integer', (c) => c.notNull())
    .addColumn('requests', 'bigint', zeroed)
    .addColumn('attempts', 'bigint', zeroed)
    .addColumn('input_tokens', 'bigint', zeroed)
    .addColumn('cached_input_tokens', 'bigint', zeroed)
    .addColumn('cache_write_tokens', 'bigint', zeroed)
    .addColumn('output_tokens', 'bigint', zeroed)
    .addColumn('reasoning_tokens', 'bigint', zeroed)
    .addColumn('cost_nano_usd', 'bigint', zeroed)
    .addColumn('latency_ms_sum', 'bigint', zeroed)
    .addColumn('ttfb_ms_sum', 'bigint', zeroed)
    .addColumn('ttfb_count', 'bigint', zeroed);
  for (const column of LATENCY_BUCKET_COLUMNS) hourly = hourly.addColumn(column, 'bigint', zeroed);
  await hourly
    .addPrimaryKeyConstraint('usage_hourly_pk', [
      'hour_start',
      'tenant_id',
      'model_id',
      'provider_id',
      'tier_id',
      'status_class',
      'error_code_id',
    ])
    .execute();
  await db.schema.createIndex('usage_hourly_tenant').on('usage_hourly').columns(['tenant_id', 'hour_start']).execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('usage_hourly').execute();
  await db.schema.dropTable('usage_record').execute();
  await db.schema.dropTable('usage_dim').execute();
}
