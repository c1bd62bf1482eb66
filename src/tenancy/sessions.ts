import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { sha256Hex } from './auth.ts';

/**
 * Dashboard sessions, client and admin, in the database (any node can serve any page). The cookie holds
 * 256 random bits; the table holds their SHA-256, so a copy of the database opens no session. Each
 * session has its own CSRF token for forms. A session is of one kind: a client session names one tenant
 * and is never accepted by admin pages, and the other way round.
 */
export type SessionKind = 'client' | 'admin' | 'console';

export interface Session {
  kind: SessionKind;
  tenantId: string | null;
  adminUserId: string | null;
  csrf: string;
  createdAt: number;
  expiresAt: number;
}

export class SessionStore {
  readonly #db: Kysely<Database>;
  readonly #now: () => number;

  constructor(db: Kysely<Database>, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
  }

  /** Returns the cookie value (shown to the browser once) and the session. */
  async create(input: {
    kind: SessionKind;
    tenantId?: string;
    adminUserId?: string;
    ttlMs: number;
  }): Promise<{ token: string; session: Session }> {
    const token = randomBytes(32).toString('base64url');
    const now = this.#now();
    const session: Session = {
      kind: input.kind,
      tenantId: input.tenantId ?? null,
      adminUserId: input.adminUserId ?? null,
      csrf: randomBytes(24).toString('base64url'),
      createdAt: now,
      expiresAt: now + input.ttlMs,
    };
    await this.#db
      .insertInto('dashboard_session')
      .values({
        id: sha256Hex(token),
        kind: session.kind,
        tenant_id: session.tenantId,
        admin_user_id: session.adminUserId,
        csrf: session.csrf,
        created_at: session.createdAt,
        expires_at: session.expiresAt,
      })
      .execute();
    return { token, session };
  }

  /** The live session of that kind for a cookie value, or undefined. */
  async find(token: string | undefined, kind: SessionKind): Promise<Session | undefined> {
    if (!token || token.length > 200) return undefined;
    const row = await this.#db
      .selectFrom('dashboard_session')
      .selectAll()
      .where('id', '=', sha256Hex(token))
      .executeTakeFirst();
    if (!row || row.kind !== kind || Number(row.expires_at) <= this.#now()) return undefined;
    return {
      kind: row.kind,
      tenantId: row.tenant_id,
      adminUserId: row.admin_user_id,
      csrf: row.csrf,
      createdAt: Number(row.created_at),
      expiresAt: Number(row.expires_at),
    };
  }

  async delete(token: string | undefined): Promise<void> {
    if (!token) return;
    await this.#db.deleteFrom('dashboard_session').where('id', '=', sha256Hex(token)).execute();
  }

  /** Drops expired sessions (called now and then, off the request path). */
  async prune(): Promise<number> {
    const result = await this.#db
      .deleteFrom('dashboard_session')
      .where('expires_at', '<=', this.#now())
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

/** Constant-time comparison of a submitted CSRF token with the session's. */
export function csrfMatches(session: Session, submitted: unknown): boolean {
  if (typeof submitted !== 'string') return false;
  const a = Buffer.from(submitted);
  const b = Buffer.from(session.csrf);
  return a.length === b.length && timingSafeEqual(a, b);
}
