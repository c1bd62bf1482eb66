import type {
  Candidate,
  Content,
  FunctionCall,
  GenerateContentResponseUsageMetadata,
  GenerationConfig,
  Part,
  SafetyRating,
} from '@google/genai';

/**
 * The Gemini API wire shapes this adapter sends and reads, taken from the official SDK's types. The SDK
 * types enum-valued fields (finish reasons, schema types, modes) as TypeScript enums, which a type-only
 * import cannot produce or compare at run time, so those few fields are re-typed here as their wire
 * strings; everything else is the SDK's own declaration.
 * @see https://ai.google.dev/api/generate-content
 */

export type GeminiPart = Part;
export type GeminiContent = Content;
export type GeminiFunctionCall = FunctionCall;

/** Gemini's OpenAPI-3.0 schema subset, as JSON. */
export type GeminiSchema = Record<string, unknown>;

export interface GeminiFunctionDeclaration {
  name: string;
  description?: string;
  /** The OpenAPI subset (works on every model and on Vertex). */
  parameters?: GeminiSchema;
  /** Full JSON Schema, used only when the subset cannot express the tool's schema (recursive `$ref`). */
  parametersJsonSchema?: unknown;
}

export interface GeminiTool {
  functionDeclarations: GeminiFunctionDeclaration[];
}

export type GeminiFunctionCallingMode = 'AUTO' | 'ANY' | 'NONE' | 'VALIDATED';

export interface GeminiToolConfig {
  functionCallingConfig: { mode: GeminiFunctionCallingMode; allowedFunctionNames?: string[] };
}

export type GeminiThinkingLevel = 'MINIMAL' | 'LOW' | 'MEDIUM' | 'HIGH';

export interface GeminiThinkingConfig {
  includeThoughts?: boolean;
  thinkingBudget?: number;
  thinkingLevel?: GeminiThinkingLevel;
}

export type GeminiGenerationConfig = Pick<
  GenerationConfig,
  | 'maxOutputTokens'
  | 'temperature'
  | 'topP'
  | 'topK'
  | 'stopSequences'
  | 'seed'
  | 'candidateCount'
  | 'responseMimeType'
  | 'responseJsonSchema'
> & {
  responseSchema?: GeminiSchema;
  thinkingConfig?: GeminiThinkingConfig;
};

export interface GeminiGenerateContentRequest {
  contents: GeminiContent[];
  systemInstruction?: GeminiContent;
  tools?: GeminiTool[];
  toolConfig?: GeminiToolConfig;
  generationConfig?: GeminiGenerationConfig;
}

export type GeminiCandidate = Omit<Candidate, 'finishReason' | 'safetyRatings'> & {
  finishReason?: string;
  safetyRatings?: Array<Omit<SafetyRating, 'category' | 'probability'> & { category?: string; probability?: string }>;
};

export type GeminiUsageMetadata = Omit<GenerateContentResponseUsageMetadata, 'trafficType'> & { trafficType?: string };

/** One generateContent response, or one streamGenerateContent chunk (the same shape). */
export interface GeminiResponse {
  candidates?: GeminiCandidate[];
  promptFeedback?: { blockReason?: string; blockReasonMessage?: string };
  usageMetadata?: GeminiUsageMetadata;
  modelVersion?: string;
  responseId?: string;
  createTime?: string;
}

/** Google's error envelope (google.rpc.Status as JSON). */
export interface GeminiErrorBody {
  error?: {
    code?: number;
    message?: string;
    status?: string;
    details?: Array<Record<string, unknown> & { '@type'?: string }>;
  };
}
