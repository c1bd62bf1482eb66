/**
 * `POST /v1/messages/count_tokens`: the body is a Messages request (decoded by the Messages codec; max_tokens
 * is optional there too), the answer `{"input_tokens": N}`. The pipeline asks the routed provider when it
 * counts itself (Anthropic: exact), else counts locally: the prompt's text (system, messages, tool calls, tool
 * and output schemas) tokenized with o200k_base, plus a fixed allowance per message and per image. Claude's
 * tokenizer differs from o200k_base, so expect a deviation of roughly ±20% on prose and more on code or
 * non-Latin text; use it for budgeting, not billing.
 * @see https://platform.claude.com/docs/en/build-with-claude/token-counting
 */
export interface CountTokensResponse {
  input_tokens: number;
}

export function encodeCountTokens(inputTokens: number): string {
  return JSON.stringify({ input_tokens: inputTokens } satisfies CountTokensResponse);
}
