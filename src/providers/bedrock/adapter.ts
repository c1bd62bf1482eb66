import type { GatewayError } from '../../core/errors.ts';
import type { ChatRequest, ChatResponse, StreamEvent } from '../../core/ir.ts';
import {
  discardBody,
  readBody,
  readJSONObject,
  retryAfterSeconds,
  type UpstreamResponse,
  upstreamFetch,
} from '../http.ts';
import type { CallContext, ProviderAdapter, UpstreamTarget } from '../types.ts';
import type { BedrockConverseResponse } from './bedrock-api-types.ts';
import { bedrockRegion, converseUrl } from './bedrock-endpoint.ts';
import { fetchImages } from './bedrock-images.ts';
import { bedrockModelFamily } from './bedrock-model-family.ts';
import { convertBedrockResponse } from './convert-bedrock-response.ts';
import { convertBedrockStream } from './convert-bedrock-stream.ts';
import { type BedrockRequestPlan, convertToBedrockRequest, type JsonSchemaMode } from './convert-to-bedrock-request.ts';
import { decodeEventStream } from './decode-event-stream.ts';
import { mapBedrockError } from './map-bedrock-error.ts';
import { authorizeBedrockRequest } from './sign-bedrock-request.ts';

/**
 * The AWS Bedrock Converse adapter: IR → Converse / ConverseStream → IR. Requests are signed with SigV4 (or
 * carry a Bedrock API key); stream bodies are AWS event-stream binary frames. No pass-through: no inbound
 * protocol speaks Converse. Provider options: `region`, `jsonSchemaMode` (`native` | `tool`),
 * `imageUrlAllowPrivate` (`true` to let image URLs reach private addresses). See docs/providers/bedrock.md.
 */

function label(target: UpstreamTarget): string {
  return target.provider.id;
}

function jsonSchemaMode(target: UpstreamTarget): JsonSchemaMode {
  return target.provider.options['jsonSchemaMode'] === 'tool' ? 'tool' : 'native';
}

async function plan(request: ChatRequest, target: UpstreamTarget, ctx: CallContext): Promise<BedrockRequestPlan> {
  const images = await fetchImages(request.messages, {
    signal: ctx.signal,
    allowPrivate: target.provider.options['imageUrlAllowPrivate'] === 'true',
  });
  return convertToBedrockRequest(request, target.model, {
    family: bedrockModelFamily(target.model.upstreamName),
    images,
    jsonSchemaMode: jsonSchemaMode(target),
  });
}

async function send(plan: BedrockRequestPlan, target: UpstreamTarget, ctx: CallContext, stream: boolean) {
  const url = converseUrl(target.provider, target.model.upstreamName, stream);
  const body = Buffer.from(JSON.stringify(plan.body), 'utf8');
  const headers = await authorizeBedrockRequest({
    url,
    body,
    headers: {
      'content-type': 'application/json',
      accept: stream ? 'application/vnd.amazon.eventstream' : 'application/json',
    },
    key: target.key,
    region: bedrockRegion(target.provider),
  });
  const res = await upstreamFetch({
    url,
    headers,
    body,
    timeouts: target.provider.timeouts,
    signal: ctx.signal,
    label: label(target),
  });
  if (res.status < 200 || res.status >= 300) throw await errorFrom(res, label(target));
  return res;
}

function header(res: UpstreamResponse, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function errorFrom(res: UpstreamResponse, label: string): Promise<GatewayError> {
  let body: Record<string, unknown> = {};
  try {
    const bytes = await readBody(res.body, label, 1024 * 1024);
    const parsed: unknown = JSON.parse(Buffer.from(bytes).toString('utf8'));
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
  } catch {
    discardBody(res.body);
  }
  const errorType =
    header(res, 'x-amzn-errortype') ?? (typeof body['__type'] === 'string' ? body['__type'] : undefined);
  return mapBedrockError({
    errorType,
    status: res.status,
    message: body['message'] ?? body['Message'],
    label,
    retryAfter: retryAfterSeconds(res.headers),
  });
}

function responseId(res: UpstreamResponse, ctx: CallContext): string {
  return header(res, 'x-amzn-requestid') ?? ctx.requestId;
}

export const bedrockAdapter: ProviderAdapter = {
  wire: 'bedrock',

  unsupportedReason(request) {
    if ((request.n ?? 1) > 1) return 'Bedrock Converse returns a single choice (n > 1)';
    if (request.logprobs || request.topLogprobs) return 'Bedrock Converse does not return logprobs';
    return undefined;
  },

  async complete(request: ChatRequest, target: UpstreamTarget, ctx: CallContext): Promise<ChatResponse> {
    const requestPlan = await plan(request, target, ctx);
    const res = await send(requestPlan, target, ctx, false);
    const { json } = await readJSONObject(res.body, label(target));
    return convertBedrockResponse(json as unknown as BedrockConverseResponse, {
      id: responseId(res, ctx),
      model: target.model.upstreamName,
      created: Math.floor(Date.now() / 1000),
      label: label(target),
      ...(requestPlan.jsonToolName ? { jsonToolName: requestPlan.jsonToolName } : {}),
    });
  },

  async stream(request: ChatRequest, target: UpstreamTarget, ctx: CallContext): Promise<AsyncIterable<StreamEvent>> {
    const requestPlan = await plan(request, target, ctx);
    const res = await send(requestPlan, target, ctx, true);
    return convertBedrockStream(decodeEventStream(res.body, label(target)), {
      id: responseId(res, ctx),
      model: target.model.upstreamName,
      created: Math.floor(Date.now() / 1000),
      label: label(target),
      ...(requestPlan.jsonToolName ? { jsonToolName: requestPlan.jsonToolName } : {}),
    });
  },
};
