import type { ChatRequest, ChatResponse, StreamEvent } from '../../core/ir.ts';
import { type UpstreamResponse, upstreamJSON, upstreamRequest, upstreamStream } from '../http.ts';
import type { CallContext, ProviderAdapter, UpstreamTarget } from '../types.ts';
import type { BedrockConverseResponse } from './bedrock-api-types.ts';
import { bedrockEmbeddings } from './bedrock-embeddings.ts';
import { bedrockRegion, converseUrl } from './bedrock-endpoint.ts';
import { fetchImages } from './bedrock-images.ts';
import { bedrockModelFamily } from './bedrock-model-family.ts';
import { convertBedrockResponse } from './convert-bedrock-response.ts';
import { convertBedrockStream } from './convert-bedrock-stream.ts';
import { type BedrockRequestPlan, convertToBedrockRequest, type JsonSchemaMode } from './convert-to-bedrock-request.ts';
import { decodeEventStream } from './decode-event-stream.ts';
import { bedrockErrorMapper, header } from './map-bedrock-error.ts';
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
    pool: ctx.pool,
    allowPrivate: target.provider.options['imageUrlAllowPrivate'] === 'true',
  });
  return convertToBedrockRequest(request, target.model, {
    family: bedrockModelFamily(target.model.upstreamName),
    images,
    jsonSchemaMode: jsonSchemaMode(target),
  });
}

/** The signed call, ready for upstreamStream or upstreamJSON. */
async function call(plan: BedrockRequestPlan, target: UpstreamTarget, ctx: CallContext, stream: boolean) {
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
  return upstreamRequest(target, ctx, { url, headers, body, label: label(target) });
}

/** A streaming call; resolves on 2xx with the body still a stream. */
async function send(plan: BedrockRequestPlan, target: UpstreamTarget, ctx: CallContext) {
  return upstreamStream(await call(plan, target, ctx, true), bedrockErrorMapper(label(target)));
}

/** A non-streaming call, read whole. */
async function sendWhole(plan: BedrockRequestPlan, target: UpstreamTarget, ctx: CallContext) {
  return upstreamJSON(await call(plan, target, ctx, false), bedrockErrorMapper(label(target)));
}

function responseId(headers: UpstreamResponse['headers'], ctx: CallContext): string {
  return header(headers, 'x-amzn-requestid') ?? ctx.requestId;
}

export const bedrockAdapter: ProviderAdapter = {
  wire: 'bedrock',
  embeddings: bedrockEmbeddings,

  unsupportedReason(request) {
    if ((request.n ?? 1) > 1) return 'Bedrock Converse returns a single choice (n > 1)';
    if (request.logprobs || request.topLogprobs) return 'Bedrock Converse does not return logprobs';
    return undefined;
  },

  async complete(request: ChatRequest, target: UpstreamTarget, ctx: CallContext): Promise<ChatResponse> {
    const requestPlan = await plan(request, target, ctx);
    const { headers, json } = await sendWhole(requestPlan, target, ctx);
    return convertBedrockResponse(json as unknown as BedrockConverseResponse, {
      id: responseId(headers, ctx),
      model: target.model.upstreamName,
      created: Math.floor(Date.now() / 1000),
      label: label(target),
      ...(requestPlan.jsonToolName ? { jsonToolName: requestPlan.jsonToolName } : {}),
    });
  },

  async stream(request: ChatRequest, target: UpstreamTarget, ctx: CallContext): Promise<AsyncIterable<StreamEvent>> {
    const requestPlan = await plan(request, target, ctx);
    const res = await send(requestPlan, target, ctx);
    return convertBedrockStream(decodeEventStream(res.body, label(target), target.provider.limits), {
      id: responseId(res.headers, ctx),
      model: target.model.upstreamName,
      created: Math.floor(Date.now() / 1000),
      label: label(target),
      ...(requestPlan.jsonToolName ? { jsonToolName: requestPlan.jsonToolName } : {}),
    });
  },
};
