import type { Kysely } from 'kysely';
import type { SqlDialect } from './column-types.ts';

/**
 * The upstream job of an execution (decision 0038): a long-running provider job (an OpenAI video, a Replicate
 * prediction) is written on the execution's row as soon as the provider accepts it, before the first poll, so a
 * worker that takes the row over after a crash polls that job instead of creating (and paying for) another.
 * JSON `{ provider, model, key, id, created_at }`; `key` is the provider key's id, never its secret. Null when
 * no job is under way.
 */
// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and must not follow today's Database type.
export async function up(db: Kysely<any>, _dialect: SqlDialect): Promise<void> {
  await db.schema.alterTable('execution').addColumn('upstream_job', 'text').execute();
}

// biome-ignore lint/suspicious/noExplicitAny: see up().
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('execution').dropColumn('upstream_job').execute();
}
