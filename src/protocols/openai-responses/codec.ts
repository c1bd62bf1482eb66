import { openAIErrorBody } from '../../core/errors.ts';
import type { ProtocolCodec } from '../codec.ts';
import { ResponsesStreamEncoder } from './encode-stream.ts';
import { parseResponsesRequest } from './parse-responses-request.ts';
import { renderResponse, responseId, responseObject } from './render-response.ts';

/**
 * OpenAI's Responses API: `POST /v1/responses` in and out, translated to and from the internal representation
 * for every provider kind (docs/responses.md).
 * @see https://platform.openai.com/docs/api-reference/responses
 */
export const openAIResponsesCodec: ProtocolCodec = {
  protocol: 'openai-responses',
  decode: (body) => parseResponsesRequest(body),
  encodeCompletion(done, requestId, request) {
    // No adapter passes Responses through yet, so a completion here is always the internal form.
    const body =
      done.mode === 'ir'
        ? renderResponse(done.response, request, requestId, done.costNano)
        : responseObject({
            id: responseId(requestId),
            createdAt: Math.floor(Date.now() / 1000),
            model: done.served.target.model.upstreamName,
            request,
            status: 'failed',
            output: [],
            error: { code: 'internal_error', message: 'a pass-through answer cannot be rendered as a Response' },
          });
    return { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } };
  },
  answerHeaders: () => ({}),
  streamEncoder: (stream, request) => new ResponsesStreamEncoder(stream, request),
  encodeError: (error) => ({
    status: error.status,
    body: JSON.stringify(openAIErrorBody(error)),
    headers: { 'content-type': 'application/json; charset=utf-8' },
  }),
  // Used only before an encoder exists (a stream interrupted at its very start): OpenAI's error event.
  encodeStreamError: (error) =>
    `event: error\ndata: ${JSON.stringify({ type: 'error', sequence_number: 0, code: error.code, message: error.message, param: null, error: { type: error.code, code: error.code, message: error.message, param: null } })}\n\n`,
};
