/**
 * The Gemini mock's embedding methods, as the Gemini API answers them:
 *
 * - `POST /v1beta/models/{model}:embedContent` `{content: {parts: [{text}]}, taskType?, outputDimensionality?}`
 *   → `{embedding: {values: [...]}}`.
 * - `POST /v1beta/models/{model}:batchEmbedContents` `{requests: [{model: 'models/{model}', content, …}]}` →
 *   `{embeddings: [{values}], usageMetadata?}` in request order; at most 100 requests per batch, each naming the
 *   model of the URL.
 *
 * Vectors are the OpenAI mock's deterministic ones (`mockEmbedding`), 3072 values unless outputDimensionality
 * says otherwise, so a test can recompute them.
 * @see https://ai.google.dev/api/embeddings
 */
import { mockEmbedding } from './openai-compatible/embeddings.ts';

type Json = Record<string, unknown>;

export const GEMINI_EMBEDDING_DIMENSIONS = 3072;
export const GEMINI_MAX_BATCH = 100;

/** The mock's vector for a text embedded by a Gemini model. */
export function geminiMockEmbedding(text: string, model: string, dimensions = GEMINI_EMBEDDING_DIMENSIONS): number[] {
  return mockEmbedding(text, model, dimensions);
}

/** The mock's token count for an embedded text (a word-ish count, as the answer's usageMetadata says). */
export function geminiEmbeddingTokens(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

export function answerEmbedding(
  action: 'embedContent' | 'batchEmbedContents',
  body: Json,
  model: string,
  withUsage: boolean,
): { status: number; message?: string; body?: Json } {
  if (action === 'embedContent') {
    const one = embedOne(body, model);
    if ('message' in one) return { status: 400, message: one.message };
    return { status: 200, body: { embedding: { values: one.values } } };
  }
  const requests = body['requests'];
  if (!Array.isArray(requests) || requests.length === 0) {
    return { status: 400, message: '* BatchEmbedContentsRequest.requests: contents is not specified\n' };
  }
  if (requests.length > GEMINI_MAX_BATCH) {
    return {
      status: 400,
      message: `* BatchEmbedContentsRequest.requests: at most ${GEMINI_MAX_BATCH} requests can be in one batch\n`,
    };
  }
  const embeddings: Json[] = [];
  let tokens = 0;
  for (const [i, request] of (requests as Json[]).entries()) {
    if (request?.['model'] !== `models/${model}`) {
      return {
        status: 400,
        message: `Model names in the requests[${i}] must match the model in the URL: models/${model}`,
      };
    }
    const one = embedOne(request, model);
    if ('message' in one) return { status: 400, message: one.message };
    embeddings.push({ values: one.values });
    tokens += one.tokens;
  }
  return {
    status: 200,
    body: {
      embeddings,
      ...(withUsage ? { usageMetadata: { promptTokenCount: tokens, totalTokenCount: tokens } } : {}),
    },
  };
}

function embedOne(request: Json, model: string): { values: number[]; tokens: number } | { message: string } {
  const parts = (request['content'] as Json | undefined)?.['parts'];
  if (!Array.isArray(parts) || parts.length === 0)
    return { message: '* EmbedContentRequest.content: contents is not specified\n' };
  const text = (parts as Json[]).map((p) => (typeof p['text'] === 'string' ? p['text'] : '')).join('');
  if (text === '')
    return {
      message:
        "* EmbedContentRequest.content.parts[0].data: required oneof field 'data' must have one initialized field\n",
    };
  const dims = request['outputDimensionality'];
  if (dims !== undefined && (typeof dims !== 'number' || !Number.isInteger(dims) || dims < 1)) {
    return { message: "Invalid value at 'output_dimensionality'" };
  }
  return {
    values: geminiMockEmbedding(text, model, typeof dims === 'number' ? dims : undefined),
    tokens: geminiEmbeddingTokens(text),
  };
}
