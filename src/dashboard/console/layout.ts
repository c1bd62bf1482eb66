import { html, type SafeHtml } from '../html.ts';
import { type PageInput, page } from '../layout.ts';
import type { ConsoleContext } from './session.ts';

/** The frame of every signed-in console page: the account's address under the brand, navigation, sign-out. */
export type ConsolePage = 'overview' | 'keys' | 'billing' | 'models' | 'settings' | 'webhooks' | 'account';

const NAV: Array<[ConsolePage, string, string]> = [
  ['overview', '/console', 'Overview'],
  ['keys', '/console/keys', 'API keys'],
  ['billing', '/console/billing', 'Billing'],
  ['models', '/console/models', 'Models'],
  ['settings', '/console/settings', 'Routing'],
  ['webhooks', '/console/webhooks', 'Webhooks'],
  ['account', '/console/account', 'Account'],
];

export function consoleLayout(
  active: ConsolePage,
  ctx: ConsoleContext,
  input: Omit<PageInput, 'scope' | 'nav' | 'signOut'>,
): SafeHtml {
  const unverified =
    ctx.account.verifiedAt === null
      ? html`<div class="notice bad" role="alert" id="unverified">Confirm your address: open the link we mailed to <strong>${ctx.account.email}</strong> to create API keys and add funds. <a href="/console/account">Send a new link</a></div>`
      : '';
  return page({
    ...input,
    body: html`${unverified}${input.body}`,
    scope: ctx.account.email,
    nav: NAV.map(([key, href, label]) => ({ href, label, active: key === active })),
    signOut: { action: '/console/logout', csrf: ctx.session.csrf },
  });
}

export const csrfField = (csrf: string) => html`<input type="hidden" name="_csrf" value="${csrf}">`;

/** The narrow pages of signing up and in (no navigation). */
export function authPage(title: string, body: SafeHtml): SafeHtml {
  return page({ title, width: 'narrow', body: html`<section class="card login">${body}</section>` });
}
