import type { CatalogModel, MediaRate } from './catalog-types.ts';

/**
 * Cost of a media execution in integer nano-dollars: what the provider reported (tokens, images, seconds,
 * characters) at the model's prices (CatalogModel.price for text tokens, CatalogModel.mediaPrice for the rest).
 * Rounded once, as chat costs are (cost.ts).
 */

/** What one media run consumed, as far as its provider tells (or the runner can count). */
export interface MediaMeter {
  images?: number;
  /** Seconds of input audio, output video or provider run time (whichever the model's perSecond prices). */
  seconds?: number;
  /** Characters of input text (speech). */
  characters?: number;
  /** The variant, for rates keyed by size and quality. */
  size?: string | undefined;
  quality?: string | undefined;
  /** Token-metered models (gpt-image-1, gpt-4o-transcribe). */
  textInputTokens?: number;
  imageInputTokens?: number;
  audioInputTokens?: number;
  outputTokens?: number;
  outputImageTokens?: number;
}

/**
 * The rate for this variant: `size/quality`, then `size`, then `quality`, then `*`. A variant none of them names
 * takes the highest rate among those that fit what is known of it (never a silent zero: a hold covers the most a
 * run can cost, and a run the price table does not know is charged at its dearest fitting rate).
 */
export function mediaRate(rate: MediaRate | undefined, size?: string, quality?: string): number {
  if (rate === undefined) return 0;
  if (typeof rate === 'number') return rate;
  const keys = [size && quality ? `${size}/${quality}` : undefined, size, quality, '*'];
  for (const key of keys) if (key !== undefined && rate[key] !== undefined) return rate[key];
  const fitting = Object.entries(rate).filter(
    ([key]) => (!size || key.startsWith(`${size}/`)) && (!quality || key.endsWith(`/${quality}`)),
  );
  const values = (fitting.length > 0 ? fitting : Object.entries(rate)).map(([, v]) => v);
  return values.length > 0 ? Math.max(...values) : 0;
}

/** Nano-dollars of this meter at this model's prices. */
export function mediaCostNanoUsd(meter: MediaMeter, model: Pick<CatalogModel, 'price' | 'mediaPrice'>): number {
  const media = model.mediaPrice ?? {};
  const price = model.price;
  // Rates per million tokens (or characters): 1000 nano-USD per unit per unit of rate.
  const perMillion =
    (meter.textInputTokens ?? 0) * price.input +
    (meter.imageInputTokens ?? 0) * (media.inputImageTokens ?? price.input) +
    (meter.audioInputTokens ?? 0) * (media.inputAudioTokens ?? price.input) +
    (meter.outputTokens ?? 0) * price.output +
    (meter.outputImageTokens ?? 0) * (media.outputImageTokens ?? price.output) +
    (meter.characters ?? 0) * (media.perMillionCharacters ?? 0);
  // Per-unit rates in USD: 1e9 nano-USD per unit.
  const perUnit =
    (meter.images ?? 0) * mediaRate(media.perImage, meter.size, meter.quality) +
    (meter.seconds ?? 0) * mediaRate(media.perSecond, meter.size, meter.quality);
  return Math.round(perMillion * 1000 + perUnit * 1e9);
}
