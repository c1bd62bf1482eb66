export { anthropicOnlyFeatures } from './anthropic-only-features.ts';
export { anthropicMessagesCodec } from './codec.ts';
export { withCost } from './convert-usage.ts';
export { type CountTokensResponse, encodeCountTokens } from './count-tokens.ts';
export { type AnthropicInboundHeaders, parseAnthropicRequest } from './parse-anthropic-request.ts';
export {
  type AnthropicErrorResponse,
  anthropicErrorBody,
  renderAnthropicError,
  renderAnthropicStreamError,
} from './render-anthropic-error.ts';
export { renderAnthropicResponse } from './render-anthropic-response.ts';
export {
  type AnthropicSSEFrame,
  AnthropicStreamRenderer,
  formatAnthropicSSE,
  PING_FRAME,
} from './render-anthropic-stream.ts';
