import type { ColumnDefinitionBuilder, CreateTableBuilder } from 'kysely';

export type SqlDialect = 'sqlite' | 'postgres';

/**
 * The one place where migrations branch on dialect; everything else is Kysely's schema builder, which
 * writes the same definition for both databases.
 */

/**
 * An auto-assigned integer primary key. SQLite: exactly `integer primary key`, which makes the column the
 * rowid (no extra index, no extra bytes). PostgreSQL: an identity column of the requested width.
 */
export function addIdColumn<TB extends string, C extends string>(
  table: CreateTableBuilder<TB, C>,
  name: string,
  width: 'integer' | 'bigint',
  dialect: SqlDialect,
): CreateTableBuilder<TB, C | string> {
  if (dialect === 'sqlite') return table.addColumn(name, 'integer', (c) => c.primaryKey());
  return table.addColumn(name, width, (c) => c.generatedByDefaultAsIdentity().primaryKey());
}

/** A count or sum that starts at zero. */
export function zeroed(c: ColumnDefinitionBuilder): ColumnDefinitionBuilder {
  return c.notNull().defaultTo(0);
}
