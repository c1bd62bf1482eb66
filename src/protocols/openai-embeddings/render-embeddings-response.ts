import type { CreateEmbeddingResponse } from 'openai/resources/embeddings';
import { inEncoding } from '../../core/embedding-vectors.ts';
import type { EmbeddingEncoding, EmbeddingResponse } from '../../core/ir.ts';

/**
 * The internal embeddings answer in OpenAI's shape (CreateEmbeddingResponse), each vector in the encoding the
 * caller asked for. The `embedding` field is a base64 string when `encoding_format` is base64, which the
 * SDK's type (number[]) does not say; the openai SDKs decode it.
 * @see https://platform.openai.com/docs/api-reference/embeddings/object
 */
export type WireEmbeddingResponse = Omit<CreateEmbeddingResponse, 'data'> & {
  data: Array<{ object: 'embedding'; index: number; embedding: number[] | string }>;
};

export function renderEmbeddingsResponse(
  response: EmbeddingResponse,
  encoding: EmbeddingEncoding,
): WireEmbeddingResponse {
  return {
    object: 'list',
    data: response.vectors.map((vector, index) => ({
      object: 'embedding',
      index,
      embedding: inEncoding(vector, encoding),
    })),
    model: response.model,
    usage: { prompt_tokens: response.usage.inputTokens, total_tokens: response.usage.inputTokens },
  };
}
