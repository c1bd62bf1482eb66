import { createRequire } from 'node:module';
import type { ModelPrice, ProviderKind } from '../providers/types.ts';
import { PRICE_PROVIDER_IDS } from './known-models.ts';

/**
 * Catalog prices from @pydantic/genai-prices, resolved once when the catalog is built (never per request).
 * The library's per-million rates, including long-context tiers, become a plain ModelPrice; metering then
 * needs only multiplications (cost.ts).
 *
 * The library is a 480 KB bundle of every provider's price data. Imported as a module it would stay in the
 * heap for the life of the process (~3 MB of V8 heap, and V8 sizes the old generation from what is live:
 * ADR 0015), though nothing needs it after the catalog is built. So its CommonJS build is loaded with
 * `require` for the duration of `withPriceLibrary` and then dropped from the module cache, which lets the
 * garbage collector take it (a test checks that it does).
 */

type PriceLibrary = typeof import('@pydantic/genai-prices');
type CalcPrice = PriceLibrary['calcPrice'];

let loaded: PriceLibrary | undefined;
let holders = 0;

function priceLibrary(): PriceLibrary {
  // A fresh `require` each time: the module that loads another keeps it in its `children`, so the one
  // doing the loading must be as short-lived as the library.
  loaded ??= createRequire(import.meta.url)('@pydantic/genai-prices') as PriceLibrary;
  return loaded;
}

function unloadPriceLibrary(): void {
  if (!loaded) return;
  loaded = undefined;
  const require = createRequire(import.meta.url);
  delete require.cache[require.resolve('@pydantic/genai-prices')];
}

/** Runs `fn` with the price library loaded once for all its lookups, and unloads the library afterwards. */
export function withPriceLibrary<T>(fn: () => T): T {
  holders++;
  try {
    return fn();
  } finally {
    holders--;
    if (holders === 0) unloadPriceLibrary();
  }
}

function calcPrice(...args: Parameters<CalcPrice>): ReturnType<CalcPrice> {
  return withPriceLibrary(() => priceLibrary().calcPrice(...args));
}

/** Whether the library is in memory now (for tests). */
export function priceLibraryLoaded(): boolean {
  return loaded !== undefined;
}

type LibraryRate = number | { base: number; tiers: Array<{ start: number; price: number }> } | undefined;

function baseOf(rate: LibraryRate): number {
  if (rate === undefined) return 0;
  return typeof rate === 'number' ? rate : rate.base;
}

function rateAbove(rate: LibraryRate, threshold: number): number {
  if (rate === undefined) return 0;
  if (typeof rate === 'number') return rate;
  let price = rate.base;
  for (const tier of rate.tiers) if (threshold > tier.start) price = tier.price;
  return price;
}

/** Looks a model up in the price library; undefined when the library does not price it. */
export function libraryPrice(kind: ProviderKind, upstreamName: string, at = new Date()): ModelPrice | undefined {
  const providerId = PRICE_PROVIDER_IDS[kind];
  if (!providerId) return undefined;
  let result: ReturnType<typeof calcPrice>;
  try {
    result = calcPrice({ input_tokens: 1, output_tokens: 1 }, upstreamName, { providerId, timestamp: at });
  } catch {
    return undefined;
  }
  if (!result) return undefined;
  const rates = result.model_price as Record<string, LibraryRate>;
  const input = rates['input_mtok'];
  const cachedInput = rates['cache_read_mtok'] ?? input;
  // Without a cache-write rate, a cache write is charged as ordinary input.
  const cacheWrite = rates['cache_write_mtok'] ?? input;
  const output = rates['output_mtok'];
  const price: ModelPrice = {
    input: baseOf(input),
    cachedInput: baseOf(cachedInput),
    cacheWrite: baseOf(cacheWrite),
    output: baseOf(output),
  };
  const starts = new Set<number>();
  for (const rate of [input, cachedInput, cacheWrite, output]) {
    if (rate && typeof rate === 'object') for (const tier of rate.tiers) starts.add(tier.start);
  }
  if (starts.size > 0) {
    price.tiers = [...starts]
      .sort((a, b) => a - b)
      .map((start) => ({
        aboveInputTokens: start,
        input: rateAbove(input, start + 1),
        cachedInput: rateAbove(cachedInput, start + 1),
        cacheWrite: rateAbove(cacheWrite, start + 1),
        output: rateAbove(output, start + 1),
      }));
  }
  return price;
}

/** Context window as the price library knows it, when it does. */
export function libraryContextWindow(kind: ProviderKind, upstreamName: string): number | undefined {
  const providerId = PRICE_PROVIDER_IDS[kind];
  if (!providerId) return undefined;
  try {
    return calcPrice({ input_tokens: 1 }, upstreamName, { providerId })?.model.context_window;
  } catch {
    return undefined;
  }
}
