import type { ChatRequest, ChatResponse, StreamEvent } from '../../core/ir.ts';
import { releaseBody } from '../http.ts';
import { parseEventJSON, readSSE } from '../sse.ts';
import type { CallContext, ProviderAdapter, UpstreamTarget } from '../types.ts';
import { anthropicVersion } from './anthropic-endpoint.ts';
import { postAnthropic, postAnthropicJSON } from './anthropic-http.ts';
import { convertToAnthropicRequest } from './convert-to-anthropic-request.ts';
import { countAnthropicTokens } from './count-anthropic-tokens.ts';
import { listAnthropicModels } from './list-anthropic-models.ts';
import { parseAnthropicResponse } from './parse-anthropic-response.ts';
import { anthropicPassthrough } from './passthrough.ts';
import { AnthropicStreamTranslator } from './translate-anthropic-stream.ts';

/**
 * The Anthropic Messages API adapter (wire `anthropic`): IR → `POST {baseUrl}/v1/messages` → IR, with the
 * pass-through fast path for callers that speak Anthropic's format themselves.
 * @see https://platform.claude.com/docs/en/api/messages
 */

async function complete(request: ChatRequest, target: UpstreamTarget, ctx: CallContext): Promise<ChatResponse> {
  const plan = convertToAnthropicRequest(request, target.model, { apiVersion: anthropicVersion(target) });
  const { json } = await postAnthropicJSON(target, ctx, '/messages', { ...plan.body });
  return parseAnthropicResponse(
    json,
    target.provider.id,
    plan.jsonToolName === undefined ? {} : { jsonToolName: plan.jsonToolName },
  );
}

async function stream(
  request: ChatRequest,
  target: UpstreamTarget,
  ctx: CallContext,
): Promise<AsyncIterable<StreamEvent>> {
  const plan = convertToAnthropicRequest(request, target.model, { apiVersion: anthropicVersion(target) });
  const res = await postAnthropic(target, ctx, '/messages', { ...plan.body, stream: true }, { stream: true });
  const label = target.provider.id;
  const translator = new AnthropicStreamTranslator({
    label,
    secret: target.key.secret,
    ...(plan.jsonToolName === undefined ? {} : { jsonToolName: plan.jsonToolName }),
  });
  return (async function* () {
    try {
      for await (const message of readSSE(res.body, label, target.provider.limits)) {
        if (message.data === '') continue;
        yield* translator.push(parseEventJSON(message.data, label), message.event);
        if (translator.complete) return;
      }
      translator.end();
    } finally {
      releaseBody(res.body, translator.complete);
    }
  })();
}

/** Features Anthropic cannot provide: such a candidate is skipped rather than called and failed. */
export function anthropicUnsupportedReason(request: ChatRequest): string | undefined {
  if ((request.n ?? 1) > 1) return 'Anthropic returns a single choice (n > 1)';
  if (request.logprobs === true) return 'Anthropic does not return logprobs';
  return undefined;
}

/** Anthropic's exact count: the caller's own body when it speaks Anthropic's format, else the translated one. */
function countTokens(request: ChatRequest, target: UpstreamTarget, ctx: CallContext): Promise<number> {
  const body =
    request.inbound.protocol === 'anthropic-messages'
      ? request.inbound.body
      : { ...convertToAnthropicRequest(request, target.model, { apiVersion: anthropicVersion(target) }).body };
  return countAnthropicTokens(body, target, ctx);
}

export const anthropicAdapter: ProviderAdapter = {
  wire: 'anthropic',
  complete,
  stream,
  unsupportedReason: anthropicUnsupportedReason,
  passthroughs: [anthropicPassthrough],
  countTokens,
  listModels: listAnthropicModels,
};
