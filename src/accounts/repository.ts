import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AccountTokenPurpose } from '../store/account-tables.ts';
import type { Database } from '../store/schema.ts';
import { sha256Hex } from '../tenancy/auth.ts';

/** A self-service account: a tenant with an email and a password (docs/accounts.md). */
export interface Account {
  tenantId: string;
  email: string;
  passwordHash: string;
  verifiedAt: number | null;
  createdAt: number;
}

/** What following a link found: its account and address, or why it cannot be used. */
export type TokenCheck =
  | { ok: true; tenantId: string; email: string }
  | { ok: false; reason: 'invalid' | 'expired' | 'used' };

/** Account rows and link tokens. Tokens are 256 random bits; only their SHA-256 is stored. */
export class AccountRepository {
  readonly #db: Kysely<Database>;
  readonly #now: () => number;

  constructor(db: Kysely<Database>, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
  }

  async byEmail(email: string): Promise<Account | undefined> {
    const row = await this.#db.selectFrom('account_login').selectAll().where('email', '=', email).executeTakeFirst();
    return row ? accountOf(row) : undefined;
  }

  async get(tenantId: string): Promise<Account | undefined> {
    const row = await this.#db
      .selectFrom('account_login')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .executeTakeFirst();
    return row ? accountOf(row) : undefined;
  }

  /** Inserts an account; false when the email is taken (unique index: two sign-ups racing get one account). */
  async insert(input: { tenantId: string; email: string; passwordHash: string }): Promise<boolean> {
    const now = this.#now();
    const result = await this.#db
      .insertInto('account_login')
      .values({
        tenant_id: input.tenantId,
        email: input.email,
        password_hash: input.passwordHash,
        verified_at: null,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.column('email').doNothing())
      .returning('tenant_id')
      .executeTakeFirst();
    return result !== undefined;
  }

  /**
   * Deletes the tenant a sign-up made for itself when it lost the race for its address: made a moment ago under
   * a random id, it has no keys, settings or usage. Only when no account names it.
   */
  async discardUnusedTenant(tenantId: string): Promise<void> {
    await this.#db
      .deleteFrom('tenant')
      .where('id', '=', tenantId)
      .where((eb) =>
        eb.not(eb.exists(eb.selectFrom('account_login').select('tenant_id').where('tenant_id', '=', tenantId))),
      )
      .execute();
  }

  async setVerified(tenantId: string): Promise<void> {
    const now = this.#now();
    await this.#db
      .updateTable('account_login')
      .set({ verified_at: now, updated_at: now })
      .where('tenant_id', '=', tenantId)
      .where('verified_at', 'is', null)
      .execute();
  }

  async setPassword(tenantId: string, passwordHash: string): Promise<void> {
    await this.#db
      .updateTable('account_login')
      .set({ password_hash: passwordHash, updated_at: this.#now() })
      .where('tenant_id', '=', tenantId)
      .execute();
  }

  /** Moves an account to a new (verified) address; false when another account took it meanwhile. */
  async setEmail(tenantId: string, email: string): Promise<boolean> {
    const now = this.#now();
    try {
      const result = await this.#db
        .updateTable('account_login')
        .set({ email, verified_at: now, updated_at: now })
        .where('tenant_id', '=', tenantId)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    } catch {
      // The unique index on email: another account has it.
      return false;
    }
  }

  /** A new link token for an account (the returned value goes in the link, only its hash is kept). */
  async issueToken(tenantId: string, purpose: AccountTokenPurpose, email: string, ttlMs: number): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    const now = this.#now();
    await this.#db
      .insertInto('account_token')
      .values({
        id: sha256Hex(token),
        tenant_id: tenantId,
        purpose,
        email,
        created_at: now,
        expires_at: now + ttlMs,
        used_at: null,
      })
      .execute();
    return token;
  }

  /** What a token is, without using it (a reset form is shown before it is submitted). */
  async peekToken(token: unknown, purpose: AccountTokenPurpose): Promise<TokenCheck> {
    if (typeof token !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(token)) return { ok: false, reason: 'invalid' };
    const row = await this.#db
      .selectFrom('account_token')
      .selectAll()
      .where('id', '=', sha256Hex(token))
      .executeTakeFirst();
    if (!row || row.purpose !== purpose) return { ok: false, reason: 'invalid' };
    if (row.used_at !== null) return { ok: false, reason: 'used' };
    if (Number(row.expires_at) <= this.#now()) return { ok: false, reason: 'expired' };
    return { ok: true, tenantId: row.tenant_id, email: row.email };
  }

  /** Uses a token: one conditional update, so of two requests racing with the same link one wins. */
  async consumeToken(token: unknown, purpose: AccountTokenPurpose): Promise<TokenCheck> {
    const check = await this.peekToken(token, purpose);
    if (!check.ok) return check;
    const now = this.#now();
    const result = await this.#db
      .updateTable('account_token')
      .set({ used_at: now })
      .where('id', '=', sha256Hex(token as string))
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1 ? check : { ok: false, reason: 'used' };
  }

  /** Makes every open link of an account for a purpose unusable (a newer one was sent, or the password changed). */
  async retireTokens(tenantId: string, purpose: AccountTokenPurpose): Promise<void> {
    await this.#db
      .updateTable('account_token')
      .set({ used_at: this.#now() })
      .where('tenant_id', '=', tenantId)
      .where('purpose', '=', purpose)
      .where('used_at', 'is', null)
      .execute();
  }

  /** Ends every console session of an account (after a password reset or change). */
  async endSessions(tenantId: string, exceptSessionHash?: string): Promise<void> {
    let query = this.#db
      .deleteFrom('dashboard_session')
      .where('tenant_id', '=', tenantId)
      .where('kind', '=', 'console');
    if (exceptSessionHash) query = query.where('id', '!=', exceptSessionHash);
    await query.execute();
  }

  /** Drops tokens that expired more than a day ago (housekeeping, off the request path). */
  async prune(): Promise<void> {
    await this.#db
      .deleteFrom('account_token')
      .where('expires_at', '<', this.#now() - 86_400_000)
      .execute();
  }
}

function accountOf(row: {
  tenant_id: string;
  email: string;
  password_hash: string;
  verified_at: number | null;
  created_at: number;
}): Account {
  return {
    tenantId: row.tenant_id,
    email: row.email,
    passwordHash: row.password_hash,
    verifiedAt: row.verified_at === null ? null : Number(row.verified_at),
    createdAt: Number(row.created_at),
  };
}
