import type { ChatRequest } from '../../core/ir.ts';
import type { TokenCounter } from '../../router/token-counter.ts';
import { promptTokens } from '../../router/tokens.ts';
import { type AnthropicInboundHeaders, parseAnthropicRequest } from './parse-anthropic-request.ts';

/**
 * `POST /v1/messages/count_tokens`: the body is a Messages request without generation settings, the answer
 * `{"input_tokens": N}`. When the request would go to Anthropic, ask Anthropic (exact; see
 * `countAnthropicTokens` in providers/anthropic). Otherwise the count is an approximation: the prompt's
 * text (system, messages, tool calls, tool and output schemas) tokenized with gpt-tokenizer (o200k_base),
 * plus a fixed allowance per message and per image. Claude's tokenizer differs from o200k_base, so expect
 * a deviation of roughly ±20% on prose and more on code or non-Latin text; use it for budgeting, not billing.
 * The count runs off the event loop within `limits.tokenCountBudgetMs`; past it (a huge body, a busy
 * counter) the answer is an estimate of four bytes a token (router/tokens.ts says why an estimate).
 * @see https://platform.claude.com/docs/en/build-with-claude/token-counting
 */

export interface CountTokensResponse {
  input_tokens: number;
}

/** Validates a count_tokens body like a Messages body (max_tokens is not required there either). */
export function parseCountTokensRequest(raw: unknown, headers: AnthropicInboundHeaders = {}): ChatRequest {
  return parseAnthropicRequest(raw, headers);
}

export async function approximateInputTokens(
  counter: TokenCounter,
  request: ChatRequest,
): Promise<CountTokensResponse> {
  return { input_tokens: await promptTokens(counter, request) };
}
