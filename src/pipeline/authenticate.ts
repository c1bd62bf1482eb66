import type { Caller } from './context.ts';

/**
 * The auth seam: request headers → the caller (tenant, key, routing policy). Implemented by tenancy
 * (configured keys, managed keys, bring-your-own-key; src/tenancy/authenticator.ts). Lookups are in memory, no I/O.
 */
export interface Authenticator {
  authenticate(headers: Readonly<Record<string, string | string[] | undefined>>): Caller | Promise<Caller>;
  /**
   * A request of this caller succeeded. `verified`: a provider accepted the caller's credential on a real
   * call (a completion), as opposed to an answer the gateway gave on its own (the model list, a local token
   * count). Returns headers to add to the response (the signed dashboard link). A bring-your-own-key tenant
   * is created, and gets a link, only after a verified success, so made-up keys create nothing. Never waits,
   * never throws.
   */
  onSuccess?(caller: Caller, verified: boolean): Record<string, string>;
  /**
   * False for a caller whose credential no provider has accepted yet (a new bring-your-own key): its request
   * body counts against the shared budget of unverified bytes. Absent or true: a known caller.
   */
  verified?(caller: Caller): boolean;
}

/**
 * Headers for a successful response of this caller (the dashboard link); never throws. `verified`: a
 * provider accepted the caller's credential on this request (see Authenticator.onSuccess).
 */
export function successHeaders(auth: Authenticator, caller: Caller, verified: boolean): Record<string, string> {
  try {
    return auth.onSuccess?.(caller, verified) ?? {};
  } catch {
    return {};
  }
}
