import type { CatalogModel } from '../billing/catalog-types.ts';
import { GatewayError } from '../core/errors.ts';
import { SlidingWindow } from './sliding-window.ts';

/**
 * Free models (docs/billing.md, "Free models"): a model priced at zero (a local server, a provider's free tier,
 * OpenRouter's `:free` models) is routable for a billed account whatever its balance, with no hold, under its
 * own per-key rates: `limits.free.rpm` a minute and `limits.free.rpd` a day (0: none), OpenRouter's convention.
 * Counted in this node's memory with the same sliding windows as key rates (sliding-window.ts): with several
 * replicas each node counts its own share (docs/limits.md).
 */

export interface FreeLimitSettings {
  rpm: number;
  rpd: number;
}

/** Whether every candidate of a routed request costs nothing (so the request holds and charges nothing). */
export function allFree(candidates: readonly CatalogModel[]): boolean {
  return (
    candidates.length > 0 &&
    candidates.every(
      ({ price }) =>
        price.input === 0 &&
        price.output === 0 &&
        price.cachedInput === 0 &&
        price.cacheWrite === 0 &&
        !price.tiers?.some((t) => t.input > 0 || t.output > 0),
    )
  );
}

const MINUTE = 60_000;
const DAY = 86_400_000;

export class FreeModelLimiter {
  readonly #settings: FreeLimitSettings;
  readonly #now: () => number;
  readonly #windows = new Map<string, { minute: SlidingWindow; day: SlidingWindow }>();

  constructor(settings: FreeLimitSettings, now: () => number = Date.now) {
    this.#settings = settings;
    this.#now = now;
  }

  /** Counts one free request of `who` (a key id), or the refusal when a rate is used up (nothing counted). */
  take(who: string): GatewayError | undefined {
    const { rpm, rpd } = this.#settings;
    if (rpm === 0 && rpd === 0) return undefined;
    const now = this.#now();
    let w = this.#windows.get(who);
    if (!w) {
      if (this.#windows.size >= 10_000) this.#sweep(now);
      w = { minute: new SlidingWindow(MINUTE), day: new SlidingWindow(DAY, MINUTE) };
      this.#windows.set(who, w);
    }
    w.minute.prune(now);
    w.day.prune(now);
    const over = (limit: number, window: SlidingWindow) => limit > 0 && window.sum >= limit;
    if (over(rpm, w.minute) || over(rpd, w.day)) {
      const perDay = over(rpd, w.day);
      const waitMs = perDay ? w.day.untilSumAtMost(rpd - 1, now) : w.minute.untilSumAtMost(rpm - 1, now);
      return new GatewayError(
        'rate_limited',
        perDay
          ? `Free-model limit reached: ${rpd} requests a day for this key`
          : `Free-model limit reached: ${rpm} requests a minute for this key`,
        { retryAfter: Math.max(1, Math.ceil(waitMs / 1000)) },
      );
    }
    w.minute.add(now, 1);
    w.day.add(now, 1);
    return undefined;
  }

  /** Forgets keys with nothing left in their day (bounded memory under many keys). */
  #sweep(now: number): void {
    for (const [who, w] of this.#windows) {
      w.day.prune(now);
      if (w.day.empty) this.#windows.delete(who);
    }
  }
}
