import type { Usage } from '../core/ir.ts';
import type { ModelPrice } from './catalog-types.ts';

/**
 * Cost of one request in integer nano-dollars (1e-9 USD). Each token class is charged at its own rate:
 * uncached input, cache reads, cache writes, output (reasoning tokens are output and priced as such).
 * Rounded once per request, so sums of many requests are exact integers with no float drift.
 */
export function costNanoUsd(usage: Usage, price: ModelPrice): number {
  let rates: Omit<ModelPrice, 'tiers'> = price;
  if (price.tiers) for (const tier of price.tiers) if (usage.inputTokens > tier.aboveInputTokens) rates = tier;
  const cached = Math.min(usage.cachedInputTokens, usage.inputTokens);
  const written = Math.min(usage.cacheWriteTokens, usage.inputTokens - cached);
  const uncached = usage.inputTokens - cached - written;
  // Rates are USD per million tokens: USD/1e6 per token = 1000 nano-USD per token per unit of rate.
  const nano =
    (uncached * rates.input +
      cached * rates.cachedInput +
      written * rates.cacheWrite +
      usage.outputTokens * rates.output) *
    1000;
  return Math.round(nano);
}

/** Nano-dollars as a USD number for JSON (`usage.cost`). */
export function nanoToUsd(nano: number): number {
  return nano / 1e9;
}

/** Nano-dollars as a fixed-point USD string for headers, e.g. `0.000123450`. */
export function formatUsd(nano: number): string {
  const sign = nano < 0 ? '-' : '';
  const abs = Math.abs(Math.round(nano));
  const whole = Math.floor(abs / 1e9);
  const frac = String(abs % 1e9).padStart(9, '0');
  return `${sign}${whole}.${frac}`;
}
