import { GatewayError } from '../../core/errors.ts';
import type { ChatRequest, Usage } from '../../core/ir.ts';
import {
  errorTableMapper,
  releaseBody,
  type UpstreamResponse,
  upstreamJSON,
  upstreamRequest,
  upstreamStream,
} from '../http.ts';
import { parseEventJSON, readSSE } from '../sse.ts';
import type {
  CallContext,
  PassthroughAdapter,
  PassthroughFrame,
  PassthroughResponse,
  UpstreamTarget,
} from '../types.ts';
import { mapOpenAIError } from './map-openai-error.ts';
import { endpoint, familyMember } from './openai-endpoint.ts';

/**
 * `/v1/responses` to an upstream that serves OpenAI's Responses API itself (a kind whose quirks say
 * `responsesApi`): the caller's body goes to `POST {base}/responses` with the model swapped and `store: false`
 * (a response kept at one provider could not be continued after a failover, and Modro keeps its own store,
 * docs/responses.md), and the answer comes back as the upstream's bytes and events. Requests the gateway must
 * read or complete itself (stored, or continuing a stored conversation) are translated instead
 * (`inbound.passthrough: false`), as are those naming a `previous_response_id` the upstream never saw.
 * @see https://platform.openai.com/docs/api-reference/responses/create
 */

type Json = Record<string, unknown>;

function serves(request: ChatRequest, target: UpstreamTarget): boolean {
  return familyMember(target).quirks.responsesApi && request.inbound.body['previous_response_id'] == null;
}

function call(request: ChatRequest, target: UpstreamTarget, ctx: CallContext) {
  const { url, headers } = endpoint(target, familyMember(target), 'responses');
  if (request.stream) headers['accept'] = 'text/event-stream';
  const body = { ...request.inbound.body, model: target.model.upstreamName, store: false };
  return upstreamRequest(target, ctx, { url, headers, body: JSON.stringify(body) });
}

const mapper = (target: UpstreamTarget) => errorTableMapper(mapOpenAIError, target.provider.id, target.key.secret);

/** Usage of a Response object (`usage` with its details), in the internal form. */
export function responsesUsage(response: unknown): Usage | undefined {
  const usage = (response as Json | null)?.['usage'] as Json | null | undefined;
  if (!usage || typeof usage['input_tokens'] !== 'number' || typeof usage['output_tokens'] !== 'number') {
    return undefined;
  }
  const input = usage['input_tokens_details'] as Json | undefined;
  const output = usage['output_tokens_details'] as Json | undefined;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0);
  return {
    inputTokens: num(usage['input_tokens']),
    cachedInputTokens: num(input?.['cached_tokens']),
    cacheWriteTokens: num(input?.['cache_write_tokens']),
    outputTokens: num(usage['output_tokens']),
    reasoningTokens: num(output?.['reasoning_tokens']),
  };
}

/** A failed Response (status `failed`, or an error event) as the gateway's error, through OpenAI's table. */
function failure(error: unknown, label: string): GatewayError {
  return mapOpenAIError({ status: 500, body: { error: error ?? { message: 'the response failed' } }, label });
}

async function complete(request: ChatRequest, target: UpstreamTarget, ctx: CallContext): Promise<PassthroughResponse> {
  const label = target.provider.id;
  const { bytes, json } = await upstreamJSON(call(request, target, ctx), mapper(target));
  if (json['status'] === 'failed' || (json['error'] && !Array.isArray(json['output']))) {
    throw failure(json['error'], label);
  }
  const usage = responsesUsage(json);
  if (!Array.isArray(json['output']) || !usage) {
    throw new GatewayError('provider_unavailable', `Upstream ${label} returned a response without output or usage`);
  }
  return {
    body: bytes,
    json,
    usage,
    model: typeof json['model'] === 'string' ? json['model'] : target.model.upstreamName,
  };
}

/** Event types whose `delta` is text the client received (for metering a stream cut short). */
const DELIVERING = new Set([
  'response.output_text.delta',
  'response.refusal.delta',
  'response.function_call_arguments.delta',
  'response.reasoning_summary_text.delta',
  'response.reasoning_text.delta',
]);
const TERMINAL = new Set(['response.completed', 'response.incomplete']);

async function stream(
  request: ChatRequest,
  target: UpstreamTarget,
  ctx: CallContext,
): Promise<AsyncIterable<PassthroughFrame>> {
  const res = await upstreamStream(call(request, target, ctx), mapper(target));
  return events(res, target);
}

/**
 * The upstream's events, each as it came. Complete only with `response.completed` or `response.incomplete`;
 * an `error` or `response.failed` event, or an end before either, is an error (the codec then ends the
 * client's stream with its own `error` and `response.failed`), never a silent short answer.
 */
async function* events(res: UpstreamResponse, target: UpstreamTarget): AsyncGenerator<PassthroughFrame> {
  const label = target.provider.id;
  let ended = false;
  let finished = false;
  try {
    for await (const message of readSSE(res.body, label, target.provider.limits)) {
      if (message.data === '' || message.data === '[DONE]') continue;
      const json = parseEventJSON(message.data, label);
      const type = json['type'];
      if (type === 'error') throw failure(json['error'] ?? json, label);
      if (type === 'response.failed') throw failure((json['response'] as Json | undefined)?.['error'], label);
      const frame: PassthroughFrame = { data: message.data, json };
      if (typeof type === 'string' && DELIVERING.has(type) && typeof json['delta'] === 'string') {
        frame.delivered = json['delta'];
      }
      if (typeof type === 'string' && TERMINAL.has(type)) {
        const usage = responsesUsage(json['response']);
        if (usage) frame.usage = usage;
        finished = true;
      }
      yield frame;
      if (finished) break;
    }
    ended = true;
  } finally {
    releaseBody(res.body, ended && finished);
  }
  if (!finished) throw new GatewayError('provider_unavailable', `Upstream ${label} ended the stream before finishing`);
}

export const openAIResponsesPassthrough: PassthroughAdapter = {
  protocol: 'openai-responses',
  serves,
  complete,
  stream,
};
