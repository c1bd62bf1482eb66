import type { FastifyInstance } from 'fastify';
import { settingsForm } from '../client/settings-page.ts';
import { registerSettingsPages } from '../client/settings-routes.ts';
import type { DashboardDeps } from '../deps.ts';
import { html } from '../html.ts';
import { noticeBox } from '../layout.ts';
import { consoleLayout } from './layout.ts';
import { consoleForForm, consoleForPage } from './session.ts';

/** `/console/settings`: the account's preset and per-tier models: the client dashboard's form and rules. */
export function registerConsoleSettings(app: FastifyInstance, deps: DashboardDeps): void {
  registerSettingsPages(app, deps, {
    base: '/console/settings',
    forPage: consoleForPage,
    forForm: consoleForForm,
    tenant: (ctx) => ctx.tenant,
    csrf: (ctx) => ctx.session.csrf,
    page: (ctx, input) =>
      consoleLayout('settings', ctx, {
        title: 'Routing',
        body: html`
<div class="page-head"><div><h1>Routing</h1><p>Changes apply to your next API request.</p></div></div>
${noticeBox(input.notice)}
${settingsForm(input, '/console/settings', '/console')}`,
      }),
  });
}
