export function adminNav(active: 'overview' | 'tenants' | 'keys') {
  return [
    { href: '/admin', label: 'Analytics', active: active === 'overview' },
    { href: '/admin/tenants', label: 'Tenants', active: active === 'tenants' },
    { href: '/admin/keys', label: 'API keys', active: active === 'keys' },
  ];
}
