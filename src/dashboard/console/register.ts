import type { FastifyInstance } from 'fastify';
import { normalizeEmail } from '../../accounts/email-address.ts';
import { INVALID_ACCOUNT, LoginThrottle } from '../admin/login-throttle.ts';
import { type DashboardDeps, sharedAttempts } from '../deps.ts';
import { registerConsoleAccount } from './account.ts';
import { registerConsoleAuth } from './auth-routes.ts';
import { registerConsoleBilling } from './billing.ts';
import { registerConsoleKeys } from './keys.ts';
import { registerConsoleModels } from './models.ts';
import { registerConsoleOverview } from './overview.ts';
import { registerConsoleSettings } from './settings.ts';
import { registerConsoleWebhooks } from './webhooks.ts';

/**
 * Attempts counted per client address and per account or recipient (the admin login's throttle): sign-ins, and
 * everything that sends mail (sign-up, reset, a new confirmation link, a change of address), so no form can
 * flood a mailbox.
 */
export interface ConsoleThrottles {
  logins: LoginThrottle;
  mails: LoginThrottle;
}

const emailKey = (email: string) => normalizeEmail(email) ?? INVALID_ACCOUNT;

/** `/console`: self-service accounts (docs/accounts.md). */
export function registerConsole(app: FastifyInstance, deps: DashboardDeps): void {
  const throttles: ConsoleThrottles = {
    logins: new LoginThrottle({ accountKey: emailKey, shared: sharedAttempts(deps, 'console-login') }),
    mails: new LoginThrottle({ accountKey: emailKey, shared: sharedAttempts(deps, 'console-mail') }),
  };
  registerConsoleAuth(app, deps, throttles);
  registerConsoleOverview(app, deps);
  registerConsoleKeys(app, deps);
  registerConsoleBilling(app, deps);
  registerConsoleModels(app, deps);
  registerConsoleSettings(app, deps);
  registerConsoleWebhooks(app, deps);
  registerConsoleAccount(app, deps, throttles);
}
