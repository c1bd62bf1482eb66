import type { PricedModel } from './alpaca.ts';

/**
 * Tier trios for the three-tier experiment on AlpacaEval: one model per tier, each with a list price from
 * @pydantic/genai-prices. Several trios, not one picked to pass: whether the target can be met depends
 * mostly on how close the fast tier's quality is to the deep tier's, which the "random mix" baseline shows.
 * The FuseChat models are fine-tunes served by no provider; they are priced at their base model's list
 * price on one provider (Groq), which is what hosting such a fine-tune costs at best.
 */
export interface Trio {
  name: string;
  note: string;
  models: [PricedModel, PricedModel, PricedModel];
}

const GEMMA_7B: PricedModel = {
  tier: 'utility',
  alpacaName: 'gemma-7b-it',
  priceModel: 'gemma-7b-it',
  priceProvider: 'groq',
};
const MIXTRAL_FAST: PricedModel = {
  tier: 'fast',
  alpacaName: 'Mixtral-8x7B-Instruct-v0.1_concise',
  priceModel: 'mixtral-8x7b-32768',
  priceProvider: 'groq',
  note: 'AlpacaEval ran Mixtral-8x7B-Instruct with a "be concise" prompt',
};
const CLAUDE_DEEP: PricedModel = {
  tier: 'deep',
  alpacaName: 'claude-2.1',
  priceModel: 'claude-2.1',
  priceProvider: 'anthropic',
};

export const TRIOS: readonly Trio[] = [
  { name: 'A', note: 'v1 trio A: open models on Groq, Claude 2.1 deep', models: [GEMMA_7B, MIXTRAL_FAST, CLAUDE_DEEP] },
  {
    name: 'B',
    note: 'v1 trio B: GPT-3.5 Turbo fast',
    models: [
      GEMMA_7B,
      { tier: 'fast', alpacaName: 'gpt-3.5-turbo-1106', priceModel: 'gpt-3.5-turbo-1106', priceProvider: 'openai' },
      CLAUDE_DEEP,
    ],
  },
  {
    name: 'C',
    note: 'OpenHermes-2.5 (Novita) utility',
    models: [
      {
        tier: 'utility',
        alpacaName: 'OpenHermes-2.5-Mistral-7B',
        priceModel: 'teknium/openhermes-2.5-mistral-7b',
        priceProvider: 'novita',
      },
      MIXTRAL_FAST,
      CLAUDE_DEEP,
    ],
  },
  {
    name: 'D',
    note: 'one small-model family on Groq: FuseChat Llama-3.2-1B / Llama-3.1-8B / Gemma-2-9B at base prices',
    models: [
      {
        tier: 'utility',
        alpacaName: 'FuseChat-Llama-3.2-1B-Instruct',
        priceModel: 'llama-3.2-1b-preview',
        priceProvider: 'groq',
      },
      {
        tier: 'fast',
        alpacaName: 'FuseChat-Llama-3.1-8B-Instruct',
        priceModel: 'llama-3.1-8b-instant',
        priceProvider: 'groq',
      },
      { tier: 'deep', alpacaName: 'FuseChat-Gemma-2-9B-Instruct', priceModel: 'gemma2-9b-it', priceProvider: 'groq' },
    ],
  },
  {
    name: 'E',
    note: 'Gemma-7B utility, FuseChat Llama-3.2-3B fast, FuseChat Gemma-2-9B deep (Groq base prices)',
    models: [
      GEMMA_7B,
      {
        tier: 'fast',
        alpacaName: 'FuseChat-Llama-3.2-3B-Instruct',
        priceModel: 'llama-3.2-3b-preview',
        priceProvider: 'groq',
      },
      { tier: 'deep', alpacaName: 'FuseChat-Gemma-2-9B-Instruct', priceModel: 'gemma2-9b-it', priceProvider: 'groq' },
    ],
  },
];
