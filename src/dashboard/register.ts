import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { GatewayError } from '../core/errors.ts';
import { toClientError } from '../http/client-errors.ts';
import { registerJsonBodyParser } from '../http/json-body.ts';
import { registerAdminAccounts } from './admin/account-routes.ts';
import { registerAdminApiAnalytics } from './admin/api/analytics-routes.ts';
import { registerAdminApiChannels } from './admin/api/channel-routes.ts';
import { registerAdminApiKeys } from './admin/api/key-routes.ts';
import { registerAdminApiLedger } from './admin/api/ledger-routes.ts';
import { registerAdminApiPresets } from './admin/api/preset-routes.ts';
import { registerAdminApiSession } from './admin/api/session-routes.ts';
import { registerAdminApiTenants } from './admin/api/tenant-routes.ts';
import { registerAdminApiUpstreamCancels } from './admin/api/upstream-cancel-routes.ts';
import { registerAdminChannels } from './admin/channel-routes.ts';
import { registerAdminKeys } from './admin/key-routes.ts';
import { registerAdminLogin } from './admin/login-routes.ts';
import { LoginThrottle } from './admin/login-throttle.ts';
import { registerAdminOverview } from './admin/overview-routes.ts';
import { registerAdminTenantDetail } from './admin/tenant-detail-routes.ts';
import { registerAdminTenantList } from './admin/tenant-list-routes.ts';
import { registerClientOverview } from './client/overview-routes.ts';
import { registerClientSession } from './client/session-routes.ts';
import { registerClientSettings } from './client/settings-routes.ts';
import { registerClientWebhooks } from './client/webhooks-routes.ts';
import { registerConsole } from './console/register.ts';
import { type DashboardDeps, sharedAttempts } from './deps.ts';
import { parseForm, SECURITY_HEADERS } from './http.ts';
import { messagePage } from './layout.ts';
import { sendHtml } from './respond.ts';

const CSS = readFileSync(new URL('./assets/modro.css', import.meta.url), 'utf8');

/**
 * The dashboards: `/client` (a tenant's own pages, reached through a signed link), `/admin` (operator
 * analytics and management, separate login) and `/admin/api` (the same management as JSON). Registered in
 * their own Fastify scope, so the form parser and the HTML error pages never touch `/v1`. The admin login
 * page and the API's sign-in share one throttle, so each address and account has one budget of attempts.
 */
export function registerDashboard(app: FastifyInstance, deps: DashboardDeps): void {
  app.get('/assets/modro.css', async (_req, reply) =>
    reply
      .type('text/css; charset=utf-8')
      .header('cache-control', 'public, max-age=3600')
      .header('x-content-type-options', 'nosniff')
      .send(CSS),
  );

  app.register(async (scope) => {
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 64 * 1024 },
      (_req, body, done) => done(null, parseForm(body as string)),
    );
    // The admin JSON API's bodies are small; read before the session is checked, so kept to 1 MB.
    scope.removeContentTypeParser('application/json');
    registerJsonBodyParser(scope, { maxDepth: deps.config.limits.maxJsonDepth, bodyLimit: 1024 * 1024 });
    scope.addHook('onSend', async (_req, reply, payload) => {
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
        // A page may set a narrower or wider policy of its own (the console's deposit form posts to Stripe).
        if (!reply.hasHeader(name)) reply.header(name, value);
      }
      return payload;
    });
    scope.setErrorHandler((err, req, reply) => {
      const error = err instanceof GatewayError ? err : toClientError(err);
      if (error.code === 'internal_error') deps.logger.error({ err, url: req.url }, 'dashboard error');
      if (req.url.startsWith('/admin/api/')) {
        return reply
          .code(error.status)
          .send({ error: { code: error.code, message: error.message, param: error.param } });
      }
      return sendHtml(reply, error.status, messagePage('Something went wrong', error.message, 'error'));
    });
    registerClientSession(scope, deps);
    registerClientOverview(scope, deps);
    registerClientSettings(scope, deps);
    registerConsole(scope, deps);
    registerClientWebhooks(scope, deps);

    const loginThrottle = new LoginThrottle({ shared: sharedAttempts(deps, 'admin-login') });
    registerAdminLogin(scope, deps, loginThrottle);
    registerAdminOverview(scope, deps);
    registerAdminTenantList(scope, deps);
    registerAdminTenantDetail(scope, deps);
    registerAdminAccounts(scope, deps);
    registerAdminKeys(scope, deps);
    registerAdminChannels(scope, deps);

    registerAdminApiSession(scope, deps, loginThrottle);
    registerAdminApiTenants(scope, deps);
    registerAdminApiKeys(scope, deps);
    registerAdminApiLedger(scope, deps);
    registerAdminApiPresets(scope, deps);
    registerAdminApiAnalytics(scope, deps);
    registerAdminApiChannels(scope, deps);
    registerAdminApiUpstreamCancels(scope, deps);
  });
}
