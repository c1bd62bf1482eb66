import { GatewayError } from '../../core/errors.ts';
import type { ChatRequest, ChatResponse, StreamEvent } from '../../core/ir.ts';
import type { TokenCounter } from '../../tokens/token-counter.ts';
import { promptTokens, textTokens } from '../../tokens/tokens.ts';
import {
  errorTableMapper,
  releaseBody,
  type UpstreamResponse,
  upstreamJSON,
  upstreamRequest,
  upstreamStream,
} from '../http.ts';
import { parseEventJSON, readSSE } from '../sse.ts';
import type { CallContext, PassthroughFrame, PassthroughResponse, ProviderAdapter, UpstreamTarget } from '../types.ts';
import { convertToOpenAIRequest } from './convert-to-openai-request.ts';
import { openAIEmbeddings } from './embeddings.ts';
import { listOpenAIModels } from './list-openai-models.ts';
import { mapOpenAIError } from './map-openai-error.ts';
import { endpoint, familyMember } from './openai-endpoint.ts';
import { parseOpenAIChunk, parseOpenAIResponse, usageOf } from './parse-openai-response.ts';
import { type OpenAIQuirks, unsupportedFeatureUsed } from './quirks.ts';
import { openAIResponsesPassthrough } from './responses-passthrough.ts';

/**
 * One adapter for the whole OpenAI-compatible family; what differs per provider is its descriptor's quirks
 * (src/providers/kinds/, quirks.ts).
 * OpenAI-format callers take `passthrough`: their own body goes upstream with the model swapped and the
 * family's quirks applied, and the answer comes back as the upstream's bytes.
 */

type Json = Record<string, unknown>;

/** Applies the provider's quirks to an OpenAI body in place (the body is always our own copy). */
export function applyQuirks(body: Json, quirks: OpenAIQuirks, upstreamModel: string): void {
  body['model'] = upstreamModel;
  for (const name of quirks.dropped) delete body[name];
  for (const [from, to] of Object.entries(quirks.renamed)) {
    if (from in body) {
      body[to] = body[from];
      delete body[from];
    }
  }
  if (body['stream'] === true) {
    if (quirks.streamOptions) {
      // Usage is always requested upstream so every stream is metered; the client sees it only if it asked.
      const options = body['stream_options'];
      body['stream_options'] = { ...(options && typeof options === 'object' ? options : {}), include_usage: true };
    } else {
      delete body['stream_options'];
    }
  } else {
    delete body['stream_options'];
  }
  if (quirks.reasoningModelPattern?.test(upstreamModel)) {
    if (body['max_tokens'] != null && body['max_completion_tokens'] == null) {
      body['max_completion_tokens'] = body['max_tokens'];
    }
    delete body['max_tokens'];
    for (const name of [
      'temperature',
      'top_p',
      'presence_penalty',
      'frequency_penalty',
      'logprobs',
      'top_logprobs',
      'logit_bias',
    ]) {
      delete body[name];
    }
  }
  if (quirks.dropsMessageName && Array.isArray(body['messages'])) {
    body['messages'] = (body['messages'] as Json[]).map((message) => {
      if (message && typeof message === 'object' && 'name' in message) {
        const { name: _name, ...rest } = message;
        return rest;
      }
      return message;
    });
  }
}

function requestBody(request: ChatRequest, target: UpstreamTarget, quirks: OpenAIQuirks, passthrough: boolean): string {
  const body: Json = passthrough
    ? { ...request.inbound.body }
    : convertToOpenAIRequest(request, target.model.upstreamName);
  applyQuirks(body, quirks, target.model.upstreamName);
  return JSON.stringify(body);
}

function call(request: ChatRequest, target: UpstreamTarget, ctx: CallContext, passthrough: boolean) {
  const kind = familyMember(target);
  const { url, headers } = endpoint(target, kind);
  if (request.stream) headers['accept'] = 'text/event-stream';
  return upstreamRequest(target, ctx, { url, headers, body: requestBody(request, target, kind.quirks, passthrough) });
}

/** A streaming call; resolves on 2xx with the body still a stream. */
function send(request: ChatRequest, target: UpstreamTarget, ctx: CallContext, passthrough: boolean) {
  return upstreamStream(
    call(request, target, ctx, passthrough),
    errorTableMapper(mapOpenAIError, target.provider.id, target.key.secret),
  );
}

/** A non-streaming call, read whole; a 200 carrying an error envelope (some servers do) is that error. */
async function sendWhole(
  request: ChatRequest,
  target: UpstreamTarget,
  ctx: CallContext,
  passthrough: boolean,
): Promise<{ bytes: Uint8Array; json: Json }> {
  const label = target.provider.id;
  const { bytes, json } = await upstreamJSON(
    call(request, target, ctx, passthrough),
    errorTableMapper(mapOpenAIError, label, target.key.secret),
  );
  if (json['error'] && !json['choices']) throw mapOpenAIError({ status: 500, body: json, label });
  return { bytes, json };
}

/**
 * The upstream's SSE frames as parsed JSON objects. Complete only when every choice index seen has its
 * `finish_reason` (servers may omit `[DONE]`, and with n > 1 the choices finish one by one); a stream that
 * ends before that, with `[DONE]` or not, is an error, never a silent short answer.
 */
async function* frames(res: UpstreamResponse, target: UpstreamTarget): AsyncGenerator<{ data: string; json: Json }> {
  const label = target.provider.id;
  /** Choice index → whether it has finished. */
  const choiceFinished = new Map<number, boolean>();
  let ended = false;
  try {
    for await (const message of readSSE(res.body, label, target.provider.limits)) {
      if (message.data === '[DONE]') break;
      if (message.data === '') continue;
      const json = parseEventJSON(message.data, label);
      if (json['error'] && !json['choices']) throw mapOpenAIError({ status: 500, body: json, label });
      const choices = json['choices'];
      if (Array.isArray(choices)) {
        for (const choice of choices as Json[]) {
          const index = typeof choice?.['index'] === 'number' ? choice['index'] : 0;
          if (choice?.['finish_reason'] != null) choiceFinished.set(index, true);
          else if (!choiceFinished.has(index)) choiceFinished.set(index, false);
        }
      }
      yield { data: message.data, json };
    }
    ended = true;
  } finally {
    releaseBody(res.body, ended);
  }
  if (choiceFinished.size === 0 || [...choiceFinished.values()].includes(false)) {
    throw new GatewayError('provider_unavailable', `Upstream ${label} ended the stream before finishing`);
  }
}

async function complete(request: ChatRequest, target: UpstreamTarget, ctx: CallContext): Promise<ChatResponse> {
  const { json } = await sendWhole(request, target, ctx, false);
  const response = parseOpenAIResponse(json, target.provider.id);
  if (!usageOf(json)) response.usage = await estimateUsage(request, response, ctx.tokens);
  return response;
}

/**
 * Usage for a response that reported none: the prompt and the generated text, tokenized within the budget,
 * else estimated (tokens/tokens.ts).
 */
async function estimateUsage(request: ChatRequest, response: ChatResponse, tokens: TokenCounter) {
  let text = '';
  for (const choice of response.choices) {
    text += choice.message.content ?? '';
    for (const call of choice.message.toolCalls ?? []) text += call.name + call.arguments;
  }
  const [inputTokens, outputTokens] = await Promise.all([promptTokens(tokens, request), textTokens(tokens, [text])]);
  return { inputTokens, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens, reasoningTokens: 0 };
}

async function stream(
  request: ChatRequest,
  target: UpstreamTarget,
  ctx: CallContext,
): Promise<AsyncIterable<StreamEvent>> {
  const res = await send(request, target, ctx, false);
  return (async function* () {
    let started = false;
    const out: StreamEvent[] = [];
    for await (const frame of frames(res, target)) {
      if (!started) {
        started = true;
        yield {
          type: 'start',
          id: typeof frame.json['id'] === 'string' ? frame.json['id'] : '',
          model: typeof frame.json['model'] === 'string' ? frame.json['model'] : target.model.upstreamName,
          created: typeof frame.json['created'] === 'number' ? frame.json['created'] : Math.floor(Date.now() / 1000),
        };
      }
      out.length = 0;
      parseOpenAIChunk(frame.json, out);
      yield* out;
    }
  })();
}

async function passthroughComplete(
  request: ChatRequest,
  target: UpstreamTarget,
  ctx: CallContext,
): Promise<PassthroughResponse> {
  const { bytes, json } = await sendWhole(request, target, ctx, true);
  if (!Array.isArray(json['choices'])) {
    throw new GatewayError(
      'provider_unavailable',
      `Upstream ${target.provider.id} returned a response without choices`,
    );
  }
  return {
    body: bytes,
    json,
    // A server that leaves usage out (some local ones) is still metered: tokenized from what it sent.
    usage: usageOf(json) ?? (await estimateUsage(request, parseOpenAIResponse(json, target.provider.id), ctx.tokens)),
    model: typeof json['model'] === 'string' ? json['model'] : target.model.upstreamName,
  };
}

async function passthroughStream(
  request: ChatRequest,
  target: UpstreamTarget,
  ctx: CallContext,
): Promise<AsyncIterable<PassthroughFrame>> {
  const res = await send(request, target, ctx, true);
  return (async function* () {
    for await (const frame of frames(res, target)) yield passthroughFrame(frame.data, frame.json);
  })();
}

/**
 * A chunk as the pass-through forwards it: what it delivered (for metering a cut stream), and its usage.
 * A chunk that mixes content and usage (Groq's `x_groq.usage`, some servers' last content chunk) is forwarded
 * without the usage, which the client gets once, in the gateway's own final usage chunk with the cost.
 */
function passthroughFrame(data: string, json: Record<string, unknown>): PassthroughFrame {
  const frame: PassthroughFrame = { data, json };
  const choices = json['choices'];
  let delivered = '';
  if (Array.isArray(choices)) {
    for (const choice of choices) {
      const delta = (choice as Record<string, unknown> | null)?.['delta'] as Record<string, unknown> | undefined;
      if (!delta) continue;
      if (typeof delta['content'] === 'string') delivered += delta['content'];
      const calls = delta['tool_calls'];
      if (Array.isArray(calls)) {
        for (const call of calls) {
          const fn = (call as Record<string, unknown>)['function'] as Record<string, unknown> | undefined;
          if (typeof fn?.['arguments'] === 'string') delivered += fn['arguments'];
        }
      }
    }
  }
  if (delivered !== '') frame.delivered = delivered;
  const usage = usageOf(json);
  if (!usage) return frame;
  frame.usage = usage;
  const groq = json['x_groq'] as Record<string, unknown> | undefined;
  frame.upstreamUsage = (json['usage'] ?? groq?.['usage']) as Record<string, unknown>;
  if (Array.isArray(choices) && choices.length > 0) {
    const { usage: _usage, x_groq: _groq, ...content } = json;
    frame.data = JSON.stringify(content);
  } else {
    frame.usageOnly = true;
  }
  return frame;
}

/** Why this provider cannot serve the request (a feature it lacks), or undefined. */
export function openAIUnsupportedReason(request: ChatRequest, target: UpstreamTarget): string | undefined {
  const feature = unsupportedFeatureUsed(familyMember(target).quirks, request);
  return feature ? `${target.provider.kind} does not support ${feature}` : undefined;
}

export const openAICompatibleAdapter: ProviderAdapter = {
  wire: 'openai-compatible',
  complete,
  stream,
  unsupportedReason: openAIUnsupportedReason,
  embeddings: openAIEmbeddings,
  listModels: listOpenAIModels,
  passthroughs: [
    { protocol: 'openai-chat', complete: passthroughComplete, stream: passthroughStream },
    openAIResponsesPassthrough,
  ],
};
