import { createRequire } from 'node:module';
import type * as Undici from 'undici';

/**
 * The three parts of undici the gateway uses (Agent, the request API, its error classes), loaded from
 * undici's own modules instead of its index. The index also loads fetch, WebSocket, EventSource, the cache
 * stores, the mock and snapshot agents, the proxy agents and every interceptor: measured on Node 24, the
 * index adds 5.6 MB to the live V8 heap and these modules 2.7 MB. That heap stays for the life of the
 * process, and V8 sizes the old generation from it, so it shows in peak RSS under load (ADR 0015).
 *
 * The modules are undici's CommonJS sources (the package has no `exports` map, so these paths are public
 * in practice; a test loads them and checks they are the same classes the index exports). Types come from
 * undici's own declarations.
 */
const require = createRequire(import.meta.url);

const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as typeof Undici.Dispatcher;
// What undici's index does to give every dispatcher `.request()`, `.stream()` and the rest.
Object.assign(Dispatcher.prototype, require('undici/lib/api/index.js'));

export const Agent = require('undici/lib/dispatcher/agent.js') as typeof Undici.Agent;
export type Agent = Undici.Agent;
export const errors = require('undici/lib/core/errors.js') as typeof Undici.errors;
export type { Dispatcher } from 'undici';

export type RequestOptions = Omit<Undici.Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & {
  dispatcher: Undici.Dispatcher;
  method?: Undici.Dispatcher.HttpMethod;
};

/** undici's `request(url, options)` with an explicit dispatcher (never the global one). */
export function request(url: string | URL, options: RequestOptions): Promise<Undici.Dispatcher.ResponseData> {
  const { dispatcher, method, ...rest } = options;
  const parsed = typeof url === 'string' ? new URL(url) : url;
  return dispatcher.request({
    ...rest,
    origin: parsed.origin,
    path: `${parsed.pathname}${parsed.search}`,
    method: method ?? 'GET',
  });
}
