import type { GatewayError } from '../../core/errors.ts';
import type { ChatRequest } from '../../core/ir.ts';
import type { ProtocolCodec } from '../codec.ts';
import { bytesOf } from '../openai-chat/codec.ts';
import { anthropicOnlyFeatures } from './anthropic-only-features.ts';
import { AnthropicStreamEncoder } from './encode-stream.ts';
import { type AnthropicInboundHeaders, parseAnthropicRequest } from './parse-anthropic-request.ts';
import { renderAnthropicError, renderAnthropicStreamError } from './render-anthropic-error.ts';
import { renderAnthropicResponse } from './render-anthropic-response.ts';
import { formatAnthropicSSE } from './render-anthropic-stream.ts';

/**
 * Anthropic's Messages format: `POST /v1/messages` in and out, errors in Anthropic's envelope. A request that
 * uses what only Anthropic serves is marked so (`requires`), and admission keeps it on Anthropic providers.
 * @see https://platform.claude.com/docs/en/api/messages
 */
export const anthropicMessagesCodec: ProtocolCodec = {
  protocol: 'anthropic-messages',
  decode: (body, headers) => markAnthropicOnly(parseAnthropicRequest(body, protocolHeaders(headers)), body),
  encodeCompletion(done, requestId) {
    const body =
      done.mode === 'passthrough'
        ? bytesOf(done.response.body)
        : JSON.stringify(renderAnthropicResponse(done.response, done.served.target.model.upstreamName));
    return { body, headers: { 'content-type': 'application/json', 'request-id': requestId } };
  },
  // The Anthropic SDKs expose `request-id` as the response's requestID.
  answerHeaders: (requestId) => ({ 'request-id': requestId }),
  streamEncoder: (stream, request) => new AnthropicStreamEncoder(stream, request),
  encodeError(error: GatewayError, requestId: string) {
    const rendered = renderAnthropicError(error, requestId);
    return {
      status: rendered.status,
      body: JSON.stringify(rendered.body),
      headers: { ...rendered.headers, 'content-type': 'application/json; charset=utf-8' },
    };
  },
  encodeStreamError: (error, requestId) => formatAnthropicSSE(renderAnthropicStreamError(error, requestId)),
};

/** The caller's protocol headers that a pass-through forwards. */
export function protocolHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): AnthropicInboundHeaders {
  return { 'anthropic-beta': headers['anthropic-beta'], 'anthropic-version': headers['anthropic-version'] };
}

/** Features of the raw body that only an Anthropic provider can serve keep the request on Anthropic providers. */
export function markAnthropicOnly(request: ChatRequest, body: unknown): ChatRequest {
  const features = anthropicOnlyFeatures(body as Record<string, unknown>);
  if (features.length > 0) request.requires = { providerKinds: ['anthropic'], features };
  return request;
}
