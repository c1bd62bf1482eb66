import type { Kysely } from 'kysely';
import type { SqlDialect } from './column-types.ts';

/**
 * Asynchronous executions (docs/executions.md, decision 0030): one row per execution, which is also its place
 * in the durable queue. A worker claims PENDING rows whose `run_after` has come (PostgreSQL: `for update skip
 * locked`; SQLite: one statement under the write lock), holds them with a lease it renews, and writes the
 * terminal state once (a conditional update on the status and the lease owner). Inputs stay in the row and
 * are read only for the rows a worker claims.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and must not follow today's Database type.
export async function up(db: Kysely<any>, _dialect: SqlDialect): Promise<void> {
  await db.schema
    .createTable('execution')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('key_id', 'text')
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('resolved_model', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('provider', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('input', 'text', (c) => c.notNull())
    .addColumn('caller', 'text', (c) => c.notNull())
    .addColumn('webhook_url', 'text')
    .addColumn('metadata', 'text')
    .addColumn('estimated_nano', 'bigint', (c) => c.notNull())
    .addColumn('held_nano', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('run_after', 'bigint', (c) => c.notNull())
    .addColumn('deadline_at', 'bigint', (c) => c.notNull())
    .addColumn('lease_owner', 'text')
    .addColumn('lease_until', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('started_at', 'bigint')
    .addColumn('completed_at', 'bigint')
    .addColumn('output', 'text')
    .addColumn('usage', 'text')
    .addColumn('cost_nano', 'bigint')
    .addColumn('served_by', 'text')
    .addColumn('error_code', 'text')
    .addColumn('error_message', 'text')
    .execute();
  // The claim: the oldest due PENDING rows. The reaper reads the PROCESSING rows through the same index's
  // status prefix (there are only as many as workers run at once); no index of its own to write per insert.
  await db.schema.createIndex('execution_queue').on('execution').columns(['status', 'run_after', 'id']).execute();
  // A tenant's list, newest first (ids are ordered by time).
  await db.schema.createIndex('execution_tenant').on('execution').columns(['tenant_id', 'id']).execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('execution').execute();
}
