import type { FastifyInstance } from 'fastify';
import { webhooksBody } from '../client/webhooks-page.ts';
import { registerWebhooksPages } from '../client/webhooks-routes.ts';
import type { DashboardDeps } from '../deps.ts';
import { consoleLayout } from './layout.ts';
import { consoleForForm, consoleForPage } from './session.ts';

/**
 * `/console/webhooks`: the account's webhook signing secret (shown, rotated) and its deliveries with every
 * attempt (redeliver), the same page as the client dashboard's (docs/executions.md, "Webhooks").
 */
export function registerConsoleWebhooks(app: FastifyInstance, deps: DashboardDeps): void {
  registerWebhooksPages(app, deps, {
    base: '/console/webhooks',
    forPage: consoleForPage,
    forForm: consoleForForm,
    tenant: (ctx) => ctx.tenant,
    csrf: (ctx) => ctx.session.csrf,
    page: (ctx, input) => consoleLayout('webhooks', ctx, { title: 'Webhooks', body: webhooksBody(input) }),
  });
}
