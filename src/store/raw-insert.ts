import type { Kysely } from 'kysely';

/**
 * Multi-row INSERT statements as plain SQL, for the two writes that run on every usage batch (raw rows and
 * hourly rollups). The query builder would rebuild and recompile a statement of hundreds of parameters per
 * batch; here the text for a given table, column list, row count and placeholder style is built once and
 * cached (and SQLite's prepared statement with it, since the text is identical).
 */

export type PlaceholderStyle = 'numbered' | 'question';

// biome-ignore lint/suspicious/noExplicitAny: only the dialect's compiler is used.
const styles = new WeakMap<Kysely<any>, PlaceholderStyle>();

/** PostgreSQL numbers its parameters ($1), SQLite takes `?`: read off a compiled query once per database. */
// biome-ignore lint/suspicious/noExplicitAny: only the dialect's compiler is used.
export function placeholderStyle(db: Kysely<any>): PlaceholderStyle {
  let style = styles.get(db);
  if (!style) {
    style = db.selectFrom('probe').select('x').where('x', '=', 0).compile().sql.includes('$1')
      ? 'numbered'
      : 'question';
    styles.set(db, style);
  }
  return style;
}

const cache = new Map<string, string>();

/**
 * `insert into "table" ("a", "b") values (?, ?), (?, ?) <suffix>`; `suffix` is the conflict clause.
 * Parameters go row after row, in `columns` order.
 */
export function multiRowInsertSql(
  table: string,
  columns: readonly string[],
  rows: number,
  style: PlaceholderStyle,
  suffix: string,
): string {
  const key = `${table}\u0000${rows}\u0000${style}\u0000${suffix}`;
  let text = cache.get(key);
  if (!text) {
    const width = columns.length;
    const tuples: string[] = [];
    for (let r = 0; r < rows; r++) {
      const marks: string[] = [];
      for (let c = 1; c <= width; c++) marks.push(style === 'numbered' ? `$${r * width + c}` : '?');
      tuples.push(`(${marks.join(', ')})`);
    }
    text = `insert into "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) values ${tuples.join(', ')} ${suffix}`;
    cache.set(key, text);
  }
  return text;
}
