import type { CatalogModel } from '../../billing/catalog-types.ts';
import type { ChatRequest, ReasoningOptions, ResponseFormat } from '../../core/ir.ts';
import { convertJsonSchemaToGeminiSchema } from './convert-json-schema-to-gemini-schema.ts';
import type { GeminiGenerationConfig, GeminiThinkingConfig, GeminiThinkingLevel } from './gemini-api-types.ts';
import { geminiModelFamily } from './gemini-model-family.ts';

/**
 * IR sampling, output and reasoning options → Gemini `generationConfig`.
 *
 * max_tokens → maxOutputTokens, temperature, top_p → topP, top_k → topK, stop → stopSequences, seed,
 * n → candidateCount, response_format json_object → responseMimeType application/json, json_schema → that
 * plus responseSchema (or responseJsonSchema when the schema is recursive), reasoning → thinkingConfig.
 *
 * Not sent: presence/frequency penalties (most Gemini models answer 400 "Penalty is not enabled"; they are
 * hints, so they are dropped rather than failing the request), logit_bias, user.
 * @see https://ai.google.dev/api/generate-content#generationconfig
 */
export function convertGenerationConfig(request: ChatRequest, model: CatalogModel): GeminiGenerationConfig | undefined {
  const config: GeminiGenerationConfig = {};
  if (request.maxTokens !== undefined) config.maxOutputTokens = request.maxTokens;
  if (request.temperature !== undefined) config.temperature = request.temperature;
  if (request.topP !== undefined) config.topP = request.topP;
  if (request.topK !== undefined) config.topK = request.topK;
  if (request.stop && request.stop.length > 0) config.stopSequences = request.stop;
  if (request.seed !== undefined) config.seed = request.seed;
  if (request.n !== undefined && request.n > 1) config.candidateCount = request.n;
  Object.assign(config, convertResponseFormat(request.responseFormat));
  const thinking = convertThinkingConfig(request.reasoning, model);
  if (thinking) config.thinkingConfig = thinking;
  return Object.keys(config).length > 0 ? config : undefined;
}

function convertResponseFormat(format: ResponseFormat | undefined): GeminiGenerationConfig {
  if (!format || format.type === 'text') return {};
  if (format.type === 'json_object') return { responseMimeType: 'application/json' };
  const converted = convertJsonSchemaToGeminiSchema(format.schema);
  return converted.kind === 'schema'
    ? { responseMimeType: 'application/json', responseSchema: converted.schema }
    : { responseMimeType: 'application/json', responseJsonSchema: converted.schema };
}

/** Gemini 2.5 budgets for OpenAI-style efforts (Flash tops out at 24,576, Pro at 32,768). */
const BUDGETS = { low: 1024, medium: 8192, high: 24576 } as const;

/**
 * reasoning → thinkingConfig, only for models the catalog marks as reasoning (others answer 400 to any
 * thinkingConfig). Thoughts are always asked for (`includeThoughts`) so they reach the caller as reasoning.
 * An explicit budget is sent as thinkingBudget (every thinking model accepts it). An effort becomes a
 * thinkingLevel on Gemini 3 (Pro knows only LOW and HIGH) and a budget on Gemini 2.5, where `minimal` turns
 * thinking off on Flash and is the smallest budget (128) on Pro, which cannot turn it off.
 * @see https://ai.google.dev/gemini-api/docs/thinking
 */
export function convertThinkingConfig(
  reasoning: ReasoningOptions | undefined,
  model: CatalogModel,
): GeminiThinkingConfig | undefined {
  if (!reasoning || !model.capabilities.reasoning) return undefined;
  const family = geminiModelFamily(model.upstreamName);
  const config: GeminiThinkingConfig = { includeThoughts: true };
  if (reasoning.budgetTokens !== undefined) {
    config.thinkingBudget = reasoning.budgetTokens;
  } else if (reasoning.effort !== undefined) {
    if (family.modern) {
      config.thinkingLevel = thinkingLevel(reasoning.effort, family.pro);
    } else if (reasoning.effort === 'minimal') {
      config.thinkingBudget = family.canDisableThinking ? 0 : 128;
      if (config.thinkingBudget === 0) config.includeThoughts = false;
    } else {
      config.thinkingBudget = BUDGETS[reasoning.effort];
    }
  }
  return config;
}

function thinkingLevel(effort: NonNullable<ReasoningOptions['effort']>, pro: boolean): GeminiThinkingLevel {
  if (pro) return effort === 'minimal' || effort === 'low' ? 'LOW' : 'HIGH';
  return effort.toUpperCase() as GeminiThinkingLevel;
}
