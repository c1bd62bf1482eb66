import { GatewayError } from '../../core/errors.ts';
import type { ChatRequest } from '../../core/ir.ts';
import { releaseBody } from '../http.ts';
import { parseEventJSON, readSSE } from '../sse.ts';
import type {
  CallContext,
  PassthroughAdapter,
  PassthroughFrame,
  PassthroughResponse,
  UpstreamTarget,
} from '../types.ts';
import { postAnthropic, postAnthropicJSON } from './anthropic-http.ts';
import { DEFAULT_MAX_TOKENS } from './convert-anthropic-thinking.ts';
import { type AnthropicUsageCounters, convertAnthropicUsage, mergeAnthropicUsage } from './convert-anthropic-usage.ts';
import { mapAnthropicError, statusOfAnthropicErrorType } from './map-anthropic-error.ts';

/**
 * Anthropic-to-Anthropic fast path: the caller's body goes upstream with only `model` replaced by the
 * catalog's upstream name (plus `max_tokens` when the caller left it out, since Anthropic requires it, and
 * `stream` set to match the call), and the caller's `anthropic-beta` flags forwarded. The answer comes
 * back byte for byte; every frame is still parsed, to meter usage and to turn `error` events and cut
 * streams into GatewayErrors.
 */

type Json = Record<string, unknown>;

export function passthroughBody(request: ChatRequest, target: UpstreamTarget, stream: boolean): Json {
  const body: Json = { ...request.inbound.body, model: target.model.upstreamName };
  if (typeof body['max_tokens'] !== 'number') {
    const thinking = body['thinking'] as Json | undefined;
    const budget = typeof thinking?.['budget_tokens'] === 'number' ? thinking['budget_tokens'] : 0;
    const ceiling = target.model.maxOutputTokens > 0 ? target.model.maxOutputTokens : Number.POSITIVE_INFINITY;
    body['max_tokens'] = Math.min(DEFAULT_MAX_TOKENS + budget, ceiling);
  }
  if (stream) body['stream'] = true;
  else if ('stream' in body) delete body['stream'];
  return body;
}

async function complete(request: ChatRequest, target: UpstreamTarget, ctx: CallContext): Promise<PassthroughResponse> {
  const { bytes, json } = await postAnthropicJSON(target, ctx, '/messages', passthroughBody(request, target, false), {
    passthroughOf: request,
  });
  if (json['type'] !== 'message') {
    throw new GatewayError(
      'provider_unavailable',
      `Upstream ${target.provider.id} returned a body that is not a message`,
    );
  }
  return {
    body: bytes,
    json,
    usage: convertAnthropicUsage(json['usage']),
    model: typeof json['model'] === 'string' ? json['model'] : target.model.upstreamName,
  };
}

async function stream(
  request: ChatRequest,
  target: UpstreamTarget,
  ctx: CallContext,
): Promise<AsyncIterable<PassthroughFrame>> {
  const res = await postAnthropic(target, ctx, '/messages', passthroughBody(request, target, true), {
    stream: true,
    passthroughOf: request,
  });
  const label = target.provider.id;
  return (async function* () {
    let usage: AnthropicUsageCounters = {};
    let complete = false;
    try {
      for await (const message of readSSE(res.body, label, target.provider.limits)) {
        if (message.data === '') continue;
        const json = parseEventJSON(message.data, label);
        const type = json['type'] ?? message.event;
        if (type === 'error') {
          const error = json['error'] as Json | undefined;
          throw mapAnthropicError({
            status: statusOfAnthropicErrorType(error?.['type']),
            body: json,
            label,
            secret: target.key.secret,
          });
        }
        const frame: PassthroughFrame = { data: message.data, json };
        if (message.event !== undefined) frame.event = message.event;
        const delivered = deliveredText(json);
        if (delivered !== undefined) frame.delivered = delivered;
        const reported =
          type === 'message_start'
            ? (json['message'] as Json | undefined)?.['usage']
            : type === 'message_delta'
              ? json['usage']
              : undefined;
        if (reported !== undefined) {
          usage = mergeAnthropicUsage(usage, reported);
          frame.usage = convertAnthropicUsage(usage);
        }
        yield frame;
        if (type === 'message_stop') {
          complete = true;
          return;
        }
      }
      throw new GatewayError('provider_unavailable', `Upstream ${label} ended the stream before message_stop`);
    } finally {
      releaseBody(res.body, complete);
    }
  })();
}

/** The text a content_block_delta carries (text, tool input, thinking), for metering a stream cut short. */
function deliveredText(json: Json): string | undefined {
  const delta = json['delta'] as Json | undefined;
  if (!delta) return undefined;
  for (const field of ['text', 'partial_json', 'thinking'] as const) {
    if (typeof delta[field] === 'string') return delta[field] as string;
  }
  return undefined;
}

export const anthropicPassthrough: PassthroughAdapter = { protocol: 'anthropic-messages', complete, stream };
