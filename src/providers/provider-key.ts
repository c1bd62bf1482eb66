import type { ProviderKey } from './types.ts';

/**
 * A provider credential whose secret parts cannot be serialised by accident: `secret`, `secretAccessKey` and
 * `sessionToken` are non-enumerable, so JSON.stringify, pino and util.inspect skip them, and an object that
 * merely holds a key (an upstream target on an error, a caller, a provider spec) can be logged without leaking
 * it. Only code that reads the property by name (an adapter building its auth header) sees the value.
 * Every key the gateway holds is made here: configured keys (catalog/catalog.ts) and callers' own keys.
 */
export function providerKey(
  id: string,
  secret: string,
  extra: { secretAccessKey?: string | undefined; sessionToken?: string | undefined } = {},
): ProviderKey {
  const key = { id } as ProviderKey;
  hide(key, 'secret', secret);
  if (extra.secretAccessKey !== undefined) hide(key, 'secretAccessKey', extra.secretAccessKey);
  if (extra.sessionToken !== undefined) hide(key, 'sessionToken', extra.sessionToken);
  return key;
}

function hide(key: ProviderKey, name: 'secret' | 'secretAccessKey' | 'sessionToken', value: string): void {
  Object.defineProperty(key, name, { value, enumerable: false, writable: false, configurable: false });
}
