import type { ModelCapabilities, ProviderKind } from '../providers/types.ts';

/**
 * The models Modro knows per provider kind before any configuration: what each can do and how good it is.
 * Prices are NOT here: they come from @pydantic/genai-prices (see prices.ts) so they follow the market.
 * `qualityRank` (0..100) is a coarse, arena-style ordering used by the presets; operators can override it.
 * Kinds without a list here (azure, ollama, vllm, llamacpp, openrouter, openai-compatible) serve the models
 * their configuration names.
 */
export interface KnownModel {
  name: string;
  contextWindow: number;
  maxOutputTokens: number;
  capabilities: ModelCapabilities;
  qualityRank: number;
}

const full: ModelCapabilities = { tools: true, vision: true, jsonSchema: true, streaming: true, reasoning: false };
const reasoning: ModelCapabilities = { ...full, reasoning: true };
const textTools: ModelCapabilities = { ...full, vision: false };
const textToolsReasoning: ModelCapabilities = { ...textTools, reasoning: true };

function m(
  name: string,
  contextWindow: number,
  maxOutputTokens: number,
  capabilities: ModelCapabilities,
  qualityRank: number,
): KnownModel {
  return { name, contextWindow, maxOutputTokens, capabilities, qualityRank };
}

export const KNOWN_MODELS: Partial<Record<ProviderKind, KnownModel[]>> = {
  openai: [
    m('gpt-5-nano', 400_000, 128_000, reasoning, 58),
    m('gpt-4.1-nano', 1_047_576, 32_768, full, 50),
    m('gpt-4o-mini', 128_000, 16_384, full, 55),
    m('gpt-4.1-mini', 1_047_576, 32_768, full, 68),
    m('gpt-5-mini', 400_000, 128_000, reasoning, 76),
    m('gpt-4.1', 1_047_576, 32_768, full, 78),
    m('gpt-5', 400_000, 128_000, reasoning, 90),
  ],
  anthropic: [
    m('claude-3-5-haiku-latest', 200_000, 8_192, full, 56),
    m('claude-haiku-4-5', 200_000, 64_000, reasoning, 72),
    m('claude-sonnet-4-5', 200_000, 64_000, reasoning, 91),
    m('claude-opus-4-1', 200_000, 32_000, reasoning, 92),
  ],
  gemini: [
    m('gemini-2.5-flash-lite', 1_048_576, 65_536, reasoning, 57),
    m('gemini-2.5-flash', 1_048_576, 65_536, reasoning, 74),
    m('gemini-2.5-pro', 1_048_576, 65_536, reasoning, 89),
  ],
  xai: [m('grok-4-fast', 2_000_000, 30_000, reasoning, 75), m('grok-4', 256_000, 64_000, reasoning, 87)],
  groq: [
    m('llama-3.1-8b-instant', 131_072, 131_072, { ...textTools, jsonSchema: false }, 40),
    m('openai/gpt-oss-20b', 131_072, 65_536, textToolsReasoning, 60),
    m('openai/gpt-oss-120b', 131_072, 65_536, textToolsReasoning, 71),
    m('llama-3.3-70b-versatile', 131_072, 32_768, { ...textTools, jsonSchema: false }, 62),
  ],
  cerebras: [
    m('llama3.1-8b', 32_768, 8_192, { ...textTools, jsonSchema: false }, 40),
    m('gpt-oss-120b', 131_072, 40_000, textToolsReasoning, 71),
  ],
  deepseek: [
    m('deepseek-chat', 128_000, 8_192, textTools, 73),
    m('deepseek-reasoner', 128_000, 64_000, { ...textToolsReasoning, tools: false }, 80),
  ],
  mistral: [
    m('mistral-small-latest', 128_000, 32_768, full, 58),
    m('mistral-medium-latest', 128_000, 32_768, full, 70),
    m('mistral-large-latest', 128_000, 32_768, textTools, 74),
  ],
  together: [
    m('meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo', 131_072, 8_192, { ...textTools, jsonSchema: false }, 40),
    m('meta-llama/Llama-3.3-70B-Instruct-Turbo', 131_072, 8_192, { ...textTools, jsonSchema: false }, 62),
  ],
  bedrock: [
    m('amazon.nova-micro-v1:0', 128_000, 10_000, { ...textTools, jsonSchema: false }, 45),
    m('amazon.nova-lite-v1:0', 300_000, 10_000, { ...full, jsonSchema: false }, 52),
    m('amazon.nova-pro-v1:0', 300_000, 10_000, { ...full, jsonSchema: false }, 64),
    m('anthropic.claude-haiku-4-5-20251001-v1:0', 200_000, 64_000, reasoning, 72),
    m('anthropic.claude-sonnet-4-5-20250929-v1:0', 200_000, 64_000, reasoning, 91),
  ],
};

/** The demo provider's three models: one per tier, priced apart so routing and cost are visible. */
export const DEMO_MODELS: Array<KnownModel & { price: { input: number; output: number } }> = [
  { ...m('demo-utility', 32_768, 4_096, full, 52), price: { input: 0.1, output: 0.4 } },
  { ...m('demo-fast', 128_000, 16_384, full, 70), price: { input: 1, output: 4 } },
  { ...m('demo-deep', 200_000, 32_768, reasoning, 90), price: { input: 5, output: 20 } },
];

/** genai-prices' provider id for each kind that has a price list there. */
export const PRICE_PROVIDER_IDS: Partial<Record<ProviderKind, string>> = {
  openai: 'openai',
  azure: 'azure',
  anthropic: 'anthropic',
  gemini: 'google',
  xai: 'x-ai',
  groq: 'groq',
  cerebras: 'cerebras',
  deepseek: 'deepseek',
  mistral: 'mistral',
  together: 'together',
  openrouter: 'openrouter',
  bedrock: 'aws',
};
