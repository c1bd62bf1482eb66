import type { AdminUser, AdminUsers } from '../../tenancy/admin-users.ts';
import type { LoginThrottle } from './login-throttle.ts';

export type LoginOutcome =
  | { kind: 'signed-in'; user: AdminUser }
  | { kind: 'wrong' }
  | { kind: 'throttled'; retryAfterSeconds: number };

/**
 * One admin sign-in, the same for the login page and the JSON API: the attempt is counted before the
 * password hash runs (an asynchronous scrypt, so counting after it would let parallel attempts through).
 */
export async function attemptLogin(
  admins: AdminUsers,
  throttle: LoginThrottle,
  address: string,
  username: string,
  password: string,
): Promise<LoginOutcome> {
  const slot = await throttle.reserve(address, username);
  if (!slot.allowed) return { kind: 'throttled', retryAfterSeconds: slot.retryAfterSeconds };
  const user = await admins.authenticate(username, password);
  if (!user) return { kind: 'wrong' };
  throttle.succeeded(address, username);
  return { kind: 'signed-in', user };
}
