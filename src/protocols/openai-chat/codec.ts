import { openAIErrorBody } from '../../core/errors.ts';
import { sseData } from '../../core/sse-text.ts';
import type { ProtocolCodec } from '../codec.ts';
import { OpenAIStreamEncoder } from './encode-stream.ts';
import { parseOpenAIRequest } from './parse-openai-request.ts';
import { renderOpenAIResponse } from './render-openai-response.ts';

/**
 * OpenAI's Chat Completions format: `POST /v1/chat/completions` in and out.
 * @see https://platform.openai.com/docs/api-reference/chat
 */
export const openAIChatCodec: ProtocolCodec = {
  protocol: 'openai-chat',
  decode: (body) => parseOpenAIRequest(body),
  encodeCompletion(done) {
    const body =
      done.mode === 'passthrough' ? bytesOf(done.response.body) : JSON.stringify(renderOpenAIResponse(done.response));
    return { body, headers: { 'content-type': 'application/json' } };
  },
  answerHeaders: () => ({}),
  streamEncoder: (stream, request) => new OpenAIStreamEncoder(stream, request),
  encodeError: (error) => ({
    status: error.status,
    body: JSON.stringify(openAIErrorBody(error)),
    headers: { 'content-type': 'application/json; charset=utf-8' },
  }),
  // After the first byte there is no status code to change: one error event, and no [DONE].
  encodeStreamError: (error) => sseData(JSON.stringify(openAIErrorBody(error))),
};

/** A pass-through body as a Buffer view (no copy). */
export function bytesOf(body: Uint8Array): Buffer {
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}
