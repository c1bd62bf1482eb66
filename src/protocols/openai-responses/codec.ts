import { openAIErrorBody } from '../../core/errors.ts';
import type { ProtocolCodec } from '../codec.ts';
import { bytesOf } from '../openai-chat/codec.ts';
import { ResponsesStreamEncoder } from './encode-stream.ts';
import { parseResponsesRequest } from './parse-responses-request.ts';
import { type ResponseState, renderResponse, UNSTORED } from './render-response.ts';

/**
 * OpenAI's Responses API: `POST /v1/responses` in and out, translated to and from the internal representation
 * for every provider kind (docs/responses.md). This is the codec of a gateway that stores no responses;
 * `responsesCodec(state)` is the one of a request whose answer is stored or continues a stored one.
 * @see https://platform.openai.com/docs/api-reference/responses
 */
export const openAIResponsesCodec: ProtocolCodec = responsesCodec(UNSTORED);

/** The codec with a request's stored-response state: echoed in its Response, told when it has finished. */
export function responsesCodec(state: ResponseState): ProtocolCodec {
  return {
    protocol: 'openai-responses',
    decode: (body) => parseResponsesRequest(body),
    encodeCompletion(done, requestId, request) {
      // A pass-through answer goes out as the upstream's bytes (never for a stored request: see prepare.ts).
      if (done.mode === 'passthrough') {
        return { body: bytesOf(done.response.body), headers: { 'content-type': 'application/json' } };
      }
      const body = renderResponse(done.response, request, requestId, done.costNano, state);
      state.onFinished?.(body);
      return { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } };
    },
    answerHeaders: () => ({}),
    streamEncoder: (stream, request) => new ResponsesStreamEncoder(stream, request, state),
    encodeError: (error) => ({
      status: error.status,
      body: JSON.stringify(openAIErrorBody(error)),
      headers: { 'content-type': 'application/json; charset=utf-8' },
    }),
    // Used only before an encoder exists (a stream interrupted at its very start): OpenAI's error event.
    encodeStreamError: (error) =>
      `event: error\ndata: ${JSON.stringify({ type: 'error', sequence_number: 0, code: error.code, message: error.message, param: null, error: { type: error.code, code: error.code, message: error.message, param: null } })}\n\n`,
  };
}
