/** Self-service accounts (migration 0011_accounts; src/accounts/, docs/accounts.md). Times: ms since the epoch. */

/** The sign-in of a tenant that signed up at /console. */
export interface AccountLoginTable {
  tenant_id: string;
  /** Lower-cased; unique. */
  email: string;
  /** `scrypt$N$r$p$salt$hash` (src/tenancy/passwords.ts). */
  password_hash: string;
  /** null until the email's link is followed. */
  verified_at: number | null;
  created_at: number;
  updated_at: number;
}

export type AccountTokenPurpose = 'verify' | 'reset' | 'email';

/** A link mailed to an account: single use, expiring; only its SHA-256 is stored. */
export interface AccountTokenTable {
  /** SHA-256 of the token in the link, hex. */
  id: string;
  tenant_id: string;
  purpose: AccountTokenPurpose;
  /** The address the link was sent to (for `email`: the new address it confirms). */
  email: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}
