import type { FastifyInstance } from 'fastify';
import type { DashboardDeps } from '../deps.ts';
import { registerConsoleAccount } from './account.ts';
import { registerConsoleAuth } from './auth-routes.ts';
import { registerConsoleBilling } from './billing.ts';
import { registerConsoleKeys } from './keys.ts';
import { registerConsoleModels } from './models.ts';
import { registerConsoleOverview } from './overview.ts';
import { registerConsoleSettings } from './settings.ts';

/** `/console`: self-service accounts (docs/accounts.md). */
export function registerConsole(app: FastifyInstance, deps: DashboardDeps): void {
  registerConsoleAuth(app, deps);
  registerConsoleOverview(app, deps);
  registerConsoleKeys(app, deps);
  registerConsoleBilling(app, deps);
  registerConsoleModels(app, deps);
  registerConsoleSettings(app, deps);
  registerConsoleAccount(app, deps);
}
