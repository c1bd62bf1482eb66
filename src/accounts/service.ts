import { randomBytes } from 'node:crypto';
import type { Ledger } from '../billing/ledger.ts';
import type { Catalog } from '../catalog/catalog.ts';
import { GatewayError } from '../core/errors.ts';
import type { Logger } from '../ops/logger.ts';
import { createTenant } from '../tenancy/admin-operations.ts';
import type { TenantDirectory } from '../tenancy/directory.ts';
import { hashPassword, verifyPassword } from '../tenancy/passwords.ts';
import type { TenancyRepository } from '../tenancy/repository.ts';
import { normalizeEmail } from './email-address.ts';
import type { Mail, Mailer } from './mailer.ts';
import { passwordProblem } from './password-rules.ts';
import { type Account, AccountRepository, type TokenCheck } from './repository.ts';

/**
 * Self-service accounts (docs/accounts.md). An account is a tenant of the tenancy model (created through the
 * same operation as the admin's, so policy, keys, usage and dashboards carry over) with a billed ledger account
 * and a sign-in row: email, scrypt password hash, verified flag.
 *
 * No answer tells whether an address has an account: a sign-up with a taken address and a reset for an unknown
 * one return exactly as a success does (the owner of a taken address is mailed a notice instead), every path
 * runs one scrypt, and mail leaves in the background so its timing shows nothing either.
 */
export interface AccountSettings {
  verifyTtlMs: number;
  resetTtlMs: number;
}

export interface AccountServiceOptions {
  db: ConstructorParameters<typeof AccountRepository>[0];
  tenancy: { repo: TenancyRepository; directory: TenantDirectory };
  catalog: Catalog;
  ledger: Pick<Ledger, 'openAccount'>;
  mailer: Mailer;
  logger: Pick<Logger, 'warn' | 'error'>;
  settings: AccountSettings;
  /** The gateway's public base URL (server.publicUrl, else where it listens), never a request's Host header. */
  baseUrl: () => string;
  now?: () => number;
}

export type SignInOutcome = { ok: true; account: Account } | { ok: false };

/** A hash of a random password, verified against when an address has no account (same cost as a real check). */
let decoyHash: Promise<string> | undefined;

export class AccountService {
  readonly repo: AccountRepository;
  readonly #o: AccountServiceOptions;
  readonly #pending = new Set<Promise<void>>();

  readonly #prune: NodeJS.Timeout;

  constructor(options: AccountServiceOptions) {
    this.#o = options;
    this.repo = new AccountRepository(options.db, options.now);
    // Spent and expired link tokens are dropped a day after they expire, off the request path.
    this.#prune = setInterval(() => {
      this.repo.prune().catch((err: unknown) => options.logger.warn({ err }, 'pruning account link tokens failed'));
    }, 3_600_000);
    this.#prune.unref();
  }

  get(tenantId: string): Promise<Account | undefined> {
    return this.repo.get(tenantId);
  }

  /**
   * Signs up: refuses an invalid address or a weak password (rules that do not depend on the address being
   * taken); otherwise answers the same whether or not the address is taken.
   */
  async signup(input: { email: unknown; password: unknown }): Promise<void> {
    const { email, password } = validSignup(input);
    // Hashed whether or not the address is taken: both answers take one scrypt.
    const passwordHash = await hashPassword(password);
    const existing = await this.repo.byEmail(email);
    if (existing) {
      await this.#takenNotice(existing);
      return;
    }
    const tenantId = `acct_${randomBytes(8).toString('hex')}`;
    await createTenant(this.#ops(), { id: tenantId, name: email });
    if (!(await this.repo.insert({ tenantId, email, passwordHash }))) {
      // Another sign-up took the address a moment ago: the tenant made for this one is deleted again.
      await this.repo.discardUnusedTenant(tenantId);
      const winner = await this.repo.byEmail(email);
      if (winner) await this.#takenNotice(winner);
      return;
    }
    await this.#o.ledger.openAccount(tenantId);
    await this.#sendVerification(tenantId, email);
  }

  /** Follows a verification link. */
  async verify(token: unknown): Promise<TokenCheck> {
    const check = await this.repo.consumeToken(token, 'verify');
    if (check.ok) await this.repo.setVerified(check.tenantId);
    return check;
  }

  /** A fresh verification link for a signed-in account that is not verified yet (earlier links stop working). */
  async resendVerification(tenantId: string): Promise<void> {
    const account = await this.repo.get(tenantId);
    if (!account || account.verifiedAt !== null) return;
    await this.#sendVerification(tenantId, account.email);
  }

  /** Email and password → the account, or not (the same answer, and the same work, for an unknown address). */
  async signIn(emailInput: unknown, passwordInput: unknown): Promise<SignInOutcome> {
    const email = normalizeEmail(emailInput);
    const password = typeof passwordInput === 'string' ? passwordInput.slice(0, 1024) : '';
    const account = email ? await this.repo.byEmail(email) : undefined;
    const ok = await verifyPassword(password, account?.passwordHash ?? (await decoy()));
    return ok && account ? { ok: true, account } : { ok: false };
  }

  /** Mails a reset link to an address that has an account; an unknown address gets nothing, and the same answer. */
  async requestReset(emailInput: unknown): Promise<void> {
    const email = normalizeEmail(emailInput);
    if (!email) throw new GatewayError('invalid_request', 'Enter a valid email address.', { param: 'email' });
    const account = await this.repo.byEmail(email);
    if (!account) return;
    await this.repo.retireTokens(account.tenantId, 'reset');
    const token = await this.repo.issueToken(account.tenantId, 'reset', email, this.#o.settings.resetTtlMs);
    const link = this.#link('/console/reset', token);
    this.#mail({
      to: email,
      subject: 'Reset your Modro password',
      link,
      text: `Someone (hopefully you) asked to reset the password of your Modro account.\n\nChoose a new password here (the link works once, for ${hours(this.#o.settings.resetTtlMs)}):\n${link}\n\nIf it was not you, ignore this message: your password stays as it is.\n`,
    });
  }

  /** Whether a reset link can still be used (the form is shown only then). */
  checkReset(token: unknown): Promise<TokenCheck> {
    return this.repo.peekToken(token, 'reset');
  }

  /** Sets a new password from a reset link; ends every console session of the account. */
  async resetPassword(token: unknown, passwordInput: unknown): Promise<TokenCheck> {
    const peek = await this.repo.peekToken(token, 'reset');
    if (!peek.ok) return peek;
    const password = typeof passwordInput === 'string' ? passwordInput : '';
    const problem = passwordProblem(password, peek.email);
    if (problem) throw new GatewayError('invalid_request', problem, { param: 'password' });
    const passwordHash = await hashPassword(password);
    const check = await this.repo.consumeToken(token, 'reset');
    if (!check.ok) return check;
    await this.repo.setPassword(check.tenantId, passwordHash);
    // Following the mailed link proves the address, too.
    await this.repo.setVerified(check.tenantId);
    await this.repo.endSessions(check.tenantId);
    return check;
  }

  /** Changes the password of a signed-in account (the current one is required); other sessions end. */
  async changePassword(
    tenantId: string,
    current: unknown,
    next: unknown,
    keepSessionHash: string | undefined,
  ): Promise<void> {
    const account = await this.repo.get(tenantId);
    if (!account) throw new GatewayError('not_found', 'No such account');
    const ok = await verifyPassword(typeof current === 'string' ? current.slice(0, 1024) : '', account.passwordHash);
    if (!ok) throw new GatewayError('invalid_request', 'The current password is wrong.', { param: 'current' });
    const password = typeof next === 'string' ? next : '';
    const problem = passwordProblem(password, account.email);
    if (problem) throw new GatewayError('invalid_request', problem, { param: 'password' });
    await this.repo.setPassword(tenantId, await hashPassword(password));
    await this.repo.retireTokens(tenantId, 'reset');
    await this.repo.endSessions(tenantId, keepSessionHash);
  }

  /**
   * Starts a change of address (the password is required): a link goes to the new address, and the address
   * changes only when it is followed. A new address that belongs to another account answers the same; that
   * account's owner is told instead.
   */
  async requestEmailChange(tenantId: string, password: unknown, newEmailInput: unknown): Promise<void> {
    const account = await this.repo.get(tenantId);
    if (!account) throw new GatewayError('not_found', 'No such account');
    const ok = await verifyPassword(typeof password === 'string' ? password.slice(0, 1024) : '', account.passwordHash);
    if (!ok) throw new GatewayError('invalid_request', 'The password is wrong.', { param: 'password' });
    const email = normalizeEmail(newEmailInput);
    if (!email) throw new GatewayError('invalid_request', 'Enter a valid email address.', { param: 'email' });
    if (email === account.email) {
      throw new GatewayError('invalid_request', 'That is already your address.', { param: 'email' });
    }
    const other = await this.repo.byEmail(email);
    if (other) {
      this.#mail({
        to: email,
        subject: 'Someone tried to move a Modro account to your address',
        text: 'Someone tried to change the address of a Modro account to this one, which already has an account. Nothing was changed. If it was you, sign in with this address instead.\n',
      });
      return;
    }
    await this.repo.retireTokens(tenantId, 'email');
    const token = await this.repo.issueToken(tenantId, 'email', email, this.#o.settings.verifyTtlMs);
    const link = this.#link('/console/confirm-email', token);
    this.#mail({
      to: email,
      subject: 'Confirm your new Modro address',
      link,
      text: `Confirm that this is the new address of your Modro account (the link works once, for ${hours(this.#o.settings.verifyTtlMs)}):\n${link}\n\nIf you did not ask for this, ignore this message.\n`,
    });
  }

  /** Follows a change-of-address link: the account's address becomes the new one (verified). */
  async confirmEmailChange(token: unknown): Promise<TokenCheck> {
    const check = await this.repo.consumeToken(token, 'email');
    if (!check.ok) return check;
    const before = await this.repo.get(check.tenantId);
    if (!(await this.repo.setEmail(check.tenantId, check.email))) return { ok: false, reason: 'invalid' };
    await this.#o.tenancy.repo.updateTenant(check.tenantId, { name: check.email });
    await this.#o.tenancy.directory.afterWrite();
    if (before) {
      this.#mail({
        to: before.email,
        subject: 'The address of your Modro account changed',
        text: `The address of your Modro account was changed to ${check.email}. If this was not you, reset your password at once and contact the operator.\n`,
      });
    }
    return check;
  }

  /** Waits for mail still being handed to the server (shutdown, tests). */
  async settle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** Stops the housekeeping; mail still being sent gets up to five seconds (a stuck server cannot hold the exit). */
  async close(): Promise<void> {
    clearInterval(this.#prune);
    const grace = new Promise<void>((resolve) => setTimeout(resolve, 5_000).unref());
    await Promise.race([this.settle(), grace]);
    this.#o.mailer.close();
  }

  async #sendVerification(tenantId: string, email: string): Promise<void> {
    await this.repo.retireTokens(tenantId, 'verify');
    const token = await this.repo.issueToken(tenantId, 'verify', email, this.#o.settings.verifyTtlMs);
    const link = this.#link('/console/verify', token);
    this.#mail({
      to: email,
      subject: 'Verify your Modro account',
      link,
      text: `Welcome to Modro. Confirm your address to create API keys and add funds (the link works once, for ${hours(this.#o.settings.verifyTtlMs)}):\n${link}\n\nIf you did not sign up, ignore this message.\n`,
    });
  }

  /** A sign-up with a taken address: its owner is told (with a fresh link if the account is not verified yet). */
  async #takenNotice(account: Account): Promise<void> {
    if (account.verifiedAt === null) {
      await this.#sendVerification(account.tenantId, account.email);
      return;
    }
    this.#mail({
      to: account.email,
      subject: 'Someone tried to sign up with your address',
      link: this.#link('/console/forgot'),
      text: `Someone (perhaps you) tried to create a Modro account with this address, which already has one. Nothing was changed.\n\nIf you forgot your password, reset it here:\n${this.#link('/console/forgot')}\n`,
    });
  }

  #link(path: string, token?: string): string {
    return `${this.#o.baseUrl()}${path}${token ? `?token=${token}` : ''}`;
  }

  /** Sends in the background: no answer waits for the mail server, and its timing tells nothing. */
  #mail(mail: Mail): void {
    const sending = this.#o.mailer
      .send(mail)
      .catch((err: unknown) => this.#o.logger.error({ err, subject: mail.subject }, 'sending mail failed'))
      .finally(() => this.#pending.delete(sending));
    this.#pending.add(sending);
  }

  #ops() {
    return { repo: this.#o.tenancy.repo, catalog: this.#o.catalog, directory: this.#o.tenancy.directory };
  }
}

/**
 * A sign-up's address and password, or the refusal of either (rules that never look at the database, so the
 * answer is the same whether or not the address has an account).
 */
export function validSignup(input: { email: unknown; password: unknown }): { email: string; password: string } {
  const email = normalizeEmail(input.email);
  if (!email) throw new GatewayError('invalid_request', 'Enter a valid email address.', { param: 'email' });
  const password = typeof input.password === 'string' ? input.password : '';
  const problem = passwordProblem(password, email);
  if (problem) throw new GatewayError('invalid_request', problem, { param: 'password' });
  return { email, password };
}

function decoy(): Promise<string> {
  decoyHash ??= hashPassword(randomBytes(18).toString('base64url'));
  return decoyHash;
}

function hours(ms: number): string {
  const h = ms / 3_600_000;
  return h === 1 ? '1 hour' : Number.isInteger(h) ? `${h} hours` : `${Math.round(ms / 60_000)} minutes`;
}
