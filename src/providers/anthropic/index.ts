export { anthropicAdapter, anthropicUnsupportedReason } from './adapter.ts';
export { ANTHROPIC_VERSION } from './anthropic-endpoint.ts';
export { DEFAULT_MAX_TOKENS } from './convert-anthropic-thinking.ts';
export { countAnthropicTokens } from './count-anthropic-tokens.ts';
export { mapAnthropicError } from './map-anthropic-error.ts';
