import { transientModule } from '../core/transient-module.ts';
import type { MediaPrice, ModelPrice } from './catalog-types.ts';

/**
 * Catalog prices from @pydantic/genai-prices, resolved once when the catalog is built (never per request).
 * The library's per-million rates, including long-context tiers, become a plain ModelPrice; metering then
 * needs only multiplications (cost.ts).
 *
 * The library (a 480 KB bundle of every provider's prices, ~3 MB of V8 heap once loaded) is needed only
 * while the catalog is built: it is loaded on the first lookup and dropped afterwards (transient-module.ts).
 */
const priceLibrary = transientModule<typeof import('@pydantic/genai-prices')>('@pydantic/genai-prices');

/**
 * Price data fetched at runtime (src/catalog/price-refresh.ts), in the library's own format (an array of
 * providers, the shape of its published data.json). Kept as text, not parsed: a string is far smaller than the
 * objects, and it is parsed only while a catalog is built, when the library is loaded anyway.
 */
let refreshed: { text: string; fetchedAt: number } | undefined;

/** Uses this data, already checked by `checkPriceData`, for every later catalog build. */
export function usePriceData(text: string, fetchedAt: number): void {
  refreshed = { text, fetchedAt };
}

/** When the price data in use was fetched (ms since the epoch); undefined: the bundled data is in use. */
export function priceDataFetchedAt(): number | undefined {
  return refreshed?.fetchedAt;
}

/** Back to the bundled data (tests). */
export function resetPriceData(): void {
  refreshed = undefined;
}

export class PriceDataError extends Error {
  override name = 'PriceDataError';
}

/**
 * Checks a price data file before it is used: JSON, a non-empty list of providers each with an id and a list of
 * models, accepted by the library itself (which checks every price constraint), and pricing at least one model.
 * Throws PriceDataError with a short reason (never the data).
 */
export function checkPriceData(text: string): void {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new PriceDataError('not JSON');
  }
  if (!Array.isArray(data) || data.length === 0) throw new PriceDataError('not a non-empty list of providers');
  for (const [i, provider] of data.entries()) {
    const p = provider as { id?: unknown; models?: unknown } | null;
    if (!p || typeof p !== 'object' || typeof p.id !== 'string' || !Array.isArray(p.models)) {
      throw new PriceDataError(`provider ${i} has no id or no list of models`);
    }
  }
  priceLibrary.use((library) => {
    try {
      library.updatePrices(({ setProviderData }) => setProviderData(data as never));
    } catch (err) {
      throw new PriceDataError(`rejected by the price library: ${String((err as Error).message).slice(0, 200)}`);
    }
    const providers = data as Array<{ id: string; models: Array<{ id?: unknown }> }>;
    const priced = providers.some((p) => p.models.some((m) => typeof m.id === 'string' && libraryPrice(p.id, m.id)));
    if (!priced) throw new PriceDataError('no model of it can be priced');
  });
}

/** Runs `fn` with one load of the price library for all its lookups, unloaded afterwards. */
export function withPriceLibrary<T>(fn: () => T): T {
  return priceLibrary.scope(() => {
    // The library is loaded afresh for every build (it was unloaded after the last one), with its bundled data:
    // refreshed data replaces that for this load.
    const data = refreshed;
    if (data) {
      priceLibrary.use((library) =>
        library.updatePrices(({ setProviderData }) => setProviderData(JSON.parse(data.text) as never)),
      );
    }
    return fn();
  });
}

/** Whether the library is in memory now (for tests). */
export function priceLibraryLoaded(): boolean {
  return priceLibrary.loaded();
}

type CalcPrice = typeof import('@pydantic/genai-prices')['calcPrice'];
function calcPrice(...args: Parameters<CalcPrice>): ReturnType<CalcPrice> {
  return priceLibrary.use((library) => library.calcPrice(...args));
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

/**
 * Looks a model up in the price library under its provider id (a descriptor's `priceProvider`, e.g. `google`);
 * undefined when the library does not price it.
 */
export function libraryPrice(providerId: string, upstreamName: string, at = new Date()): ModelPrice | undefined {
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
export function libraryContextWindow(providerId: string, upstreamName: string): number | undefined {
  try {
    return calcPrice({ input_tokens: 1 }, upstreamName, { providerId })?.model.context_window;
  } catch {
    return undefined;
  }
}

/**
 * A media model's per-unit rates as the price library knows them, when it does: audio hours (whisper-1) as a
 * per-second rate, and image or audio tokens priced apart from text (gpt-image-1, gpt-4o-transcribe). Undefined
 * when the library has none of them (the descriptor or the configuration then prices the model).
 */
export function libraryMediaPrice(providerId: string, upstreamName: string, at = new Date()): MediaPrice | undefined {
  let result: ReturnType<typeof calcPrice>;
  try {
    result = calcPrice({ input_tokens: 1, output_tokens: 1 }, upstreamName, { providerId, timestamp: at });
  } catch {
    return undefined;
  }
  if (!result) return undefined;
  const rates = result.model_price as Record<string, LibraryRate>;
  const hours = rates['input_audio_hours'] ?? rates['audio_hours'];
  const price: { -readonly [K in keyof MediaPrice]: MediaPrice[K] } = {};
  // Rounded to 12 significant digits: 0.36 / 3600 is 0.0001, not 0.00009999999999999999.
  if (hours !== undefined) price.perSecond = Number((baseOf(hours) / 3600).toPrecision(12));
  if (rates['input_image_mtok'] !== undefined) price.inputImageTokens = baseOf(rates['input_image_mtok']);
  if (rates['input_audio_mtok'] !== undefined) price.inputAudioTokens = baseOf(rates['input_audio_mtok']);
  if (rates['output_image_mtok'] !== undefined) price.outputImageTokens = baseOf(rates['output_image_mtok']);
  return Object.keys(price).length > 0 ? price : undefined;
}
