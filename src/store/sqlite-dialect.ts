import { DatabaseSync, type SQLInputValue, type SQLOutputValue, type StatementSync } from 'node:sqlite';
import { type SqliteDatabase, SqliteDialect, type SqliteStatement } from 'kysely';

/**
 * Kysely over Node's built-in `node:sqlite`: no native addon to build, nothing to download.
 *
 * Kysely's SqliteDialect expects a better-sqlite3-like `database` (`prepare()` returning a statement with
 * `reader`, `all`, `run`, `iterate`, parameters passed as one array); `DatabaseSync` is close enough that a
 * thin wrapper does it. `StatementSync.columns()` is non-empty exactly for statements that return rows
 * (SELECT, PRAGMA, and INSERT/UPDATE/DELETE with RETURNING), which is what `reader` must say.
 *
 * node:sqlite is synchronous: every call blocks the event loop for its duration. That is acceptable only
 * because nothing on the request path touches the database: usage rows are written in batches by
 * UsageWriter off the request path, reads serve dashboards. Keep each statement small (bounded batches,
 * chunked deletes) so no single call holds the loop for long.
 *
 * @see https://nodejs.org/api/sqlite.html
 * @see https://github.com/WiseLibs/better-sqlite3/blob/master/docs/api.md
 */

/** How long a writer waits for another connection's lock (e.g. a CLI next to the server) before failing. */
const BUSY_TIMEOUT_MS = 5000;
/** Kysely emits the same SQL text for same-shaped queries; re-preparing it each time costs more than the query. */
const STATEMENT_CACHE_SIZE = 200;

export class NodeSqliteDatabase implements SqliteDatabase {
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();

  constructor(path: string) {
    this.#db = new DatabaseSync(path, { enableForeignKeyConstraints: true, timeout: BUSY_TIMEOUT_MS });
    // WAL lets dashboard reads run while a batch is being written; NORMAL skips an fsync per commit
    // (a commit can be lost on power loss, never on a process crash, and the file is never corrupted).
    this.#db.exec('PRAGMA journal_mode = WAL');
    this.#db.exec('PRAGMA synchronous = NORMAL');
    this.#db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    this.#db.exec('PRAGMA foreign_keys = ON');
  }

  prepare(sql: string): SqliteStatement {
    // Kysely opens transactions with a deferred `begin`: one that reads and then writes can fail at once with
    // SQLITE_BUSY ("database is locked", busy_timeout does not apply) when another process (the CLI beside a
    // running gateway) committed in between. Every transaction here writes, so each takes the write lock at
    // its start, where busy_timeout waits for the other writer instead.
    const stmt = this.#statement(sql === 'begin' ? 'begin immediate' : sql);
    return {
      reader: stmt.columns().length > 0,
      all: (parameters) => stmt.all(...(parameters as SQLInputValue[])).map(plain),
      run: (parameters) => stmt.run(...(parameters as SQLInputValue[])),
      iterate: (parameters) => plainRows(stmt.iterate(...(parameters as SQLInputValue[]))),
    };
  }

  close(): void {
    this.#statements.clear();
    if (this.#db.isOpen) this.#db.close();
  }

  #statement(sql: string): StatementSync {
    const cached = this.#statements.get(sql);
    if (cached) {
      // Re-insert to keep the map in least-recently-used order.
      this.#statements.delete(sql);
      this.#statements.set(sql, cached);
      return cached;
    }
    const stmt = this.#db.prepare(sql);
    this.#statements.set(sql, stmt);
    if (this.#statements.size > STATEMENT_CACHE_SIZE) {
      const oldest = this.#statements.keys().next().value;
      if (oldest !== undefined) this.#statements.delete(oldest);
    }
    return stmt;
  }
}

/** Opens the file now (so a bad path fails here, not at the first query) and wraps it for Kysely. */
/**
 * node:sqlite returns rows with a null prototype; pg returns plain objects. Copying keeps both dialects'
 * rows alike (deepStrictEqual, `row.hasOwnProperty`, serializers that expect Object), at a negligible cost.
 */
function plain(row: Record<string, SQLOutputValue>): Record<string, SQLOutputValue> {
  return { ...row };
}

function* plainRows(rows: Iterable<Record<string, SQLOutputValue>>): IterableIterator<Record<string, SQLOutputValue>> {
  for (const row of rows) yield plain(row);
}

export function createSqliteDialect(path: string): SqliteDialect {
  return new SqliteDialect({ database: new NodeSqliteDatabase(path) });
}
