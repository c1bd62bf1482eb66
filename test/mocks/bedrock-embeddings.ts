/**
 * InvokeModel for the Bedrock mock's embedding models, in each family's native body:
 *
 * - Titan Text Embeddings V2 (`amazon.titan-embed-text-v2:0`): `{inputText, dimensions?, normalize?}` →
 *   `{embedding, embeddingsByType: {float}, inputTextTokenCount}`; dimensions 256, 512 or 1024 (default 1024).
 * - Cohere Embed v3 (`cohere.embed-*`): `{texts (1..96), input_type, embedding_types?}` → with
 *   `embedding_types: ['float']` `{id, texts, embeddings: {float: [...]}, response_type: 'embeddings_by_type'}`,
 *   without it `{..., embeddings: [[...]], response_type: 'embeddings_floats'}`; 1024 dimensions.
 *
 * Every answer carries `X-Amzn-Bedrock-Input-Token-Count`. Vectors are the OpenAI mock's deterministic ones
 * (`mockEmbedding(text, modelId, dimensions)`); bad bodies are ValidationException messages as Bedrock words them.
 * @see https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-embed-text.html
 * @see https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-embed.html
 */
import { randomUUID } from 'node:crypto';
import { answerImageInvoke, isBedrockImageModel } from './bedrock-images.ts';
import { mockEmbedding } from './openai-compatible/embeddings.ts';
import { countTokens } from './openai-compatible/tokens.ts';

type Json = Record<string, unknown>;

export const BEDROCK_EMBED_DIMENSIONS = 1024;
const INPUT_TYPES = ['search_document', 'search_query', 'classification', 'clustering'];

export type InvokeAnswer = { ok: true; body: Json; tokens: number } | { ok: false; message: string };

export function bedrockMockEmbedding(text: string, modelId: string, dimensions = BEDROCK_EMBED_DIMENSIONS): number[] {
  return mockEmbedding(text, modelId, dimensions);
}

export function answerInvokeModel(modelId: string, body: Json | undefined): InvokeAnswer {
  if (!body) return { ok: false, message: 'Malformed input request, please reformat your input and try again.' };
  if (/amazon\.titan-embed-text/.test(modelId)) return titan(modelId, body);
  if (/cohere\.embed-/.test(modelId)) return cohere(modelId, body);
  if (isBedrockImageModel(modelId)) return answerImageInvoke(modelId, body);
  return { ok: false, message: 'The provided model identifier is invalid.' };
}

function titan(modelId: string, body: Json): InvokeAnswer {
  const text = body['inputText'];
  if (typeof text !== 'string' || text === '') {
    return {
      ok: false,
      message:
        'Malformed input request: #: required key [inputText] not found, please reformat your input and try again.',
    };
  }
  const dimensions = body['dimensions'] ?? BEDROCK_EMBED_DIMENSIONS;
  if (typeof dimensions !== 'number' || ![256, 512, 1024].includes(dimensions)) {
    return {
      ok: false,
      message: `Malformed input request: #/dimensions: ${String(dimensions)} is not a valid enum value, please reformat your input and try again.`,
    };
  }
  const embedding = bedrockMockEmbedding(text, modelId, dimensions);
  const tokens = countTokens(text);
  return { ok: true, body: { embedding, embeddingsByType: { float: embedding }, inputTextTokenCount: tokens }, tokens };
}

function cohere(modelId: string, body: Json): InvokeAnswer {
  const texts = body['texts'];
  if (!Array.isArray(texts) || texts.length === 0 || !texts.every((t) => typeof t === 'string')) {
    return {
      ok: false,
      message: 'Malformed input request: #: required key [texts] not found, please reformat your input and try again.',
    };
  }
  if (texts.length > 96) {
    return {
      ok: false,
      message: `Malformed input request: #/texts: expected maximum item count: 96, found: ${texts.length}, please reformat your input and try again.`,
    };
  }
  if (!INPUT_TYPES.includes(String(body['input_type']))) {
    return {
      ok: false,
      message:
        'Malformed input request: #/input_type: is not a valid enum value, please reformat your input and try again.',
    };
  }
  const vectors = (texts as string[]).map((t) => bedrockMockEmbedding(t, modelId));
  const byType = Array.isArray(body['embedding_types']) && body['embedding_types'].includes('float');
  return {
    ok: true,
    body: {
      id: randomUUID(),
      texts,
      embeddings: byType ? { float: vectors } : vectors,
      response_type: byType ? 'embeddings_by_type' : 'embeddings_floats',
    },
    tokens: (texts as string[]).reduce((n, t) => n + countTokens(t), 0),
  };
}
