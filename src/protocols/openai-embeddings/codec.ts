import type { EmbeddingsCodec } from '../codec.ts';
import { openAIChatCodec } from '../openai-chat/codec.ts';
import { parseEmbeddingsRequest } from './parse-embeddings-request.ts';
import { renderEmbeddingsResponse } from './render-embeddings-response.ts';

/**
 * OpenAI's embeddings format: `POST /v1/embeddings` in and out, errors in OpenAI's envelope (as chat
 * completions). Whatever encoding the upstream answered in, the caller gets the one it asked for.
 * @see https://platform.openai.com/docs/api-reference/embeddings
 */
export const openAIEmbeddingsCodec: EmbeddingsCodec = {
  protocol: 'openai-embeddings',
  decode: (body) => parseEmbeddingsRequest(body),
  encode: (done, request) => ({
    body: JSON.stringify(renderEmbeddingsResponse(done.response, request.encodingFormat)),
    headers: { 'content-type': 'application/json' },
  }),
  encodeError: openAIChatCodec.encodeError,
};
