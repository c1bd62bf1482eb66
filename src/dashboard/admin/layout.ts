import type { SafeHtml } from '../html.ts';
import { type PageInput, page } from '../layout.ts';

/** The frame of every signed-in admin page: "Admin" under the brand, the admin navigation, sign-out. */
export function adminLayout(
  active: 'overview' | 'tenants' | 'accounts' | 'keys' | 'channels',
  csrf: string,
  input: Omit<PageInput, 'scope' | 'nav' | 'signOut'>,
): SafeHtml {
  return page({
    ...input,
    scope: 'Admin',
    nav: [
      { href: '/admin', label: 'Analytics', active: active === 'overview' },
      { href: '/admin/tenants', label: 'Tenants', active: active === 'tenants' },
      { href: '/admin/accounts', label: 'Accounts', active: active === 'accounts' },
      { href: '/admin/keys', label: 'API keys', active: active === 'keys' },
      { href: '/admin/channels', label: 'Channels', active: active === 'channels' },
    ],
    signOut: { action: '/admin/logout', csrf },
  });
}
