import type { Tenant } from '../../tenancy/tenant.ts';
import type { SafeHtml } from '../html.ts';
import { type PageInput, page } from '../layout.ts';

/** The frame of every client page: the tenant's name under the brand, the client navigation, sign-out. */
export function clientLayout(
  active: 'overview' | 'settings' | 'webhooks',
  tenant: Tenant,
  csrf: string,
  input: Omit<PageInput, 'scope' | 'nav' | 'signOut'>,
): SafeHtml {
  return page({
    ...input,
    scope: tenant.name,
    nav: [
      { href: '/client', label: 'Overview', active: active === 'overview' },
      { href: '/client/settings', label: 'Routing settings', active: active === 'settings' },
      { href: '/client/webhooks', label: 'Webhooks', active: active === 'webhooks' },
    ],
    signOut: { action: '/client/logout', csrf },
  });
}
