import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { GatewayError } from '../core/errors.ts';
import type { Database } from '../store/schema.ts';
import { hashPassword, MIN_PASSWORD_LENGTH, verifyPassword } from './passwords.ts';

/** Admin accounts: a username and a scrypt hash. Admins never share sessions or cookies with client pages. */
export interface AdminUser {
  id: string;
  username: string;
  createdAt: number;
  lastLoginAt: number | null;
}

export const USERNAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

export class AdminUsers {
  readonly #db: Kysely<Database>;
  readonly #now: () => number;

  constructor(db: Kysely<Database>, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
  }

  async count(): Promise<number> {
    const row = await this.#db
      .selectFrom('admin_user')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async list(): Promise<AdminUser[]> {
    const rows = await this.#db.selectFrom('admin_user').selectAll().orderBy('username').execute();
    return rows.map((r) => ({
      id: r.id,
      username: r.username,
      createdAt: Number(r.created_at),
      lastLoginAt: r.last_login_at === null ? null : Number(r.last_login_at),
    }));
  }

  /** Creates the user, or (with `replace`) sets the password of an existing one. */
  async upsert(username: string, password: string, options: { replace: boolean }): Promise<'created' | 'updated'> {
    if (!USERNAME.test(username)) {
      throw new GatewayError('invalid_request', 'Usernames are 1-64 letters, digits, _ . @ or -');
    }
    if (password.length < MIN_PASSWORD_LENGTH) {
      throw new GatewayError('invalid_request', `Passwords need at least ${MIN_PASSWORD_LENGTH} characters`);
    }
    const hash = await hashPassword(password);
    const existing = await this.#db
      .selectFrom('admin_user')
      .select('id')
      .where('username', '=', username)
      .executeTakeFirst();
    if (existing) {
      if (!options.replace) throw new GatewayError('invalid_request', `The admin user '${username}' already exists`);
      await this.#db.updateTable('admin_user').set({ password_hash: hash }).where('id', '=', existing.id).execute();
      return 'updated';
    }
    await this.#db
      .insertInto('admin_user')
      .values({
        id: `adm_${randomBytes(8).toString('hex')}`,
        username,
        password_hash: hash,
        created_at: this.#now(),
        last_login_at: null,
      })
      .execute();
    return 'created';
  }

  /** Whether a stored user has exactly this password (config bootstrap uses it to skip a rewrite). */
  async hasPassword(username: string, password: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('admin_user')
      .select('password_hash')
      .where('username', '=', username)
      .executeTakeFirst();
    return row ? verifyPassword(password, row.password_hash) : false;
  }

  /**
   * The user for valid credentials, else undefined. An unknown username still costs one scrypt run, so
   * response time does not tell which usernames exist.
   */
  async authenticate(username: string, password: string): Promise<AdminUser | undefined> {
    const row = await this.#db.selectFrom('admin_user').selectAll().where('username', '=', username).executeTakeFirst();
    const ok = await verifyPassword(password, row?.password_hash ?? (await dummyHash()));
    if (!row || !ok) return undefined;
    const now = this.#now();
    await this.#db.updateTable('admin_user').set({ last_login_at: now }).where('id', '=', row.id).execute();
    return { id: row.id, username: row.username, createdAt: Number(row.created_at), lastLoginAt: now };
  }

  async get(id: string): Promise<AdminUser | undefined> {
    const r = await this.#db.selectFrom('admin_user').selectAll().where('id', '=', id).executeTakeFirst();
    return r
      ? {
          id: r.id,
          username: r.username,
          createdAt: Number(r.created_at),
          lastLoginAt: r.last_login_at === null ? null : Number(r.last_login_at),
        }
      : undefined;
  }
}

let dummy: Promise<string> | undefined;

/** A valid scrypt hash of a random string: lets unknown usernames cost the same as known ones. */
function dummyHash(): Promise<string> {
  dummy ??= hashPassword(randomBytes(16).toString('hex'));
  return dummy;
}
