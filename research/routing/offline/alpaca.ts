import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { calcPrice } from '@pydantic/genai-prices';
import type { TierOutcome } from './three-tier.ts';

/**
 * AlpacaEval 2.0 preferences (805 prompts x 14 models; CC BY-NC 4.0): evaluation only. Nothing here is
 * trained on, and nothing derived from it ships in the product. Quality of a model on a prompt is the
 * judge's probability that its answer beats GPT-4-Turbo's (`p_win_vs_gpt4_turbo`).
 */

export interface AlpacaRow {
  id: number;
  instruction: string;
  dataset: string;
  p: Record<string, number>;
  outputChars: Record<string, number>;
}

export function loadAlpaca(dataDir: string): AlpacaRow[] {
  const text = readFileSync(join(dataDir, 'alpaca_eval', 'prefs_vs_gpt4_turbo.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const raw = JSON.parse(line) as {
        id: number;
        instruction: string;
        dataset: string;
        p_win_vs_gpt4_turbo: Record<string, number>;
        output_chars: Record<string, number>;
      };
      return {
        id: raw.id,
        instruction: raw.instruction,
        dataset: raw.dataset,
        p: raw.p_win_vs_gpt4_turbo,
        outputChars: raw.output_chars,
      };
    });
}

/** One tier's model: its AlpacaEval name and where its list price comes from. */
export interface PricedModel {
  tier: 'utility' | 'fast' | 'deep';
  alpacaName: string;
  /** Model id and provider in the price library (@pydantic/genai-prices, a Modro dependency). */
  priceModel: string;
  priceProvider: string;
  note?: string;
}

export interface Price {
  inputPerMillion: number;
  outputPerMillion: number;
}

export function listPrice(model: PricedModel): Price {
  const million = 1_000_000;
  const result = calcPrice({ input_tokens: million, output_tokens: million }, model.priceModel, {
    providerId: model.priceProvider,
  });
  if (!result) throw new Error(`no price for ${model.priceProvider}/${model.priceModel}`);
  return { inputPerMillion: result.input_price, outputPerMillion: result.output_price };
}

/**
 * Tokens are estimated as characters / 4 for prompt and answer alike: the data keeps answer lengths in
 * characters only, and one rule for all models keeps the comparison fair.
 */
export const CHARS_PER_TOKEN = 4;

export function tierOutcome(rows: readonly AlpacaRow[], model: PricedModel, price: Price): TierOutcome {
  const quality = new Float64Array(rows.length);
  const cost = new Float64Array(rows.length);
  rows.forEach((row, i) => {
    const p = row.p[model.alpacaName];
    const chars = row.outputChars[model.alpacaName];
    if (p === undefined || chars === undefined) throw new Error(`${model.alpacaName}: no outcome for prompt ${row.id}`);
    quality[i] = p;
    const inputTokens = row.instruction.length / CHARS_PER_TOKEN;
    const outputTokens = chars / CHARS_PER_TOKEN;
    cost[i] = (inputTokens * price.inputPerMillion + outputTokens * price.outputPerMillion) / 1_000_000;
  });
  return { quality, cost };
}
