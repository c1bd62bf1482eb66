import type { GatewayError } from '../../core/errors.ts';
import type { ChatRequest, ChatResponse, StreamEvent } from '../../core/ir.ts';
import { errorTableMapper, releaseBody, upstreamJSON, upstreamRequest, upstreamStream } from '../http.ts';
import { parseEventJSON, readSSE } from '../sse.ts';
import type { CallContext, ProviderAdapter, UpstreamTarget } from '../types.ts';
import { convertGeminiResponse } from './convert-gemini-response.ts';
import { convertToGeminiRequest } from './convert-to-gemini-request.ts';
import type { GeminiErrorBody, GeminiResponse } from './gemini-api-types.ts';
import { geminiEmbeddings } from './gemini-embeddings.ts';
import { geminiEndpoint } from './gemini-endpoint.ts';
import { geminiModelFamily } from './gemini-model-family.ts';
import { GeminiStreamTranslator } from './gemini-stream-translator.ts';
import { listGeminiModels } from './list-gemini-models.ts';
import { mapGeminiError } from './map-gemini-error.ts';

/**
 * The Google Gemini API adapter (wire `gemini`): IR → generateContent / streamGenerateContent and back.
 * No pass-through: no inbound protocol speaks Gemini. See docs/providers/gemini.md.
 */

function call(request: ChatRequest, target: UpstreamTarget, ctx: CallContext, stream: boolean) {
  const { url, headers } = geminiEndpoint(target, stream);
  return upstreamRequest(target, ctx, {
    url,
    headers,
    body: JSON.stringify(convertToGeminiRequest(request, target.model)),
  });
}

/** A streaming call; resolves on 2xx with the body still a stream. */
function send(request: ChatRequest, target: UpstreamTarget, ctx: CallContext, stream: boolean) {
  return upstreamStream(
    call(request, target, ctx, stream),
    errorTableMapper(mapGeminiError, target.provider.id, target.key.secret),
  );
}

/** A non-streaming call, read whole. */
function sendWhole(request: ChatRequest, target: UpstreamTarget, ctx: CallContext) {
  return upstreamJSON(
    call(request, target, ctx, false),
    errorTableMapper(mapGeminiError, target.provider.id, target.key.secret),
  );
}

/** An error envelope inside a 200 body or a stream event, mapped by its own status code. */
function inBandError(json: Record<string, unknown>, target: UpstreamTarget): GatewayError | undefined {
  const error = (json as GeminiErrorBody).error;
  if (!error || typeof error !== 'object' || 'candidates' in json) return undefined;
  const status = typeof error.code === 'number' ? error.code : 500;
  return mapGeminiError({ status, body: json, label: target.provider.id, secret: target.key.secret });
}

async function complete(request: ChatRequest, target: UpstreamTarget, ctx: CallContext): Promise<ChatResponse> {
  const label = target.provider.id;
  const { json } = await sendWhole(request, target, ctx);
  const error = inBandError(json, target);
  if (error) throw error;
  return convertGeminiResponse(json as GeminiResponse, {
    label,
    upstreamModel: target.model.upstreamName,
    fallbackId: ctx.requestId,
  });
}

async function stream(
  request: ChatRequest,
  target: UpstreamTarget,
  ctx: CallContext,
): Promise<AsyncIterable<StreamEvent>> {
  const res = await send(request, target, ctx, true);
  const label = target.provider.id;
  const translator = new GeminiStreamTranslator({
    label,
    upstreamModel: target.model.upstreamName,
    fallbackId: ctx.requestId,
  });
  return (async function* () {
    let ended = false;
    try {
      for await (const message of readSSE(res.body, label, target.provider.limits)) {
        if (message.data.trim() === '') continue;
        const json = parseEventJSON(message.data, label);
        const error = inBandError(json, target);
        if (error) throw error;
        yield* translator.push(json as GeminiResponse);
      }
      ended = true;
    } finally {
      // Gemini's stream ends with the body; stopping before that (an error, the client gone) drops the connection.
      releaseBody(res.body, ended);
    }
    yield* translator.end(true);
  })();
}

/**
 * Requests this adapter would have to answer differently from the caller's expectation, so the gateway
 * tries another candidate instead: OpenAI logprobs (not translated), and on Gemini 2.x structured output
 * combined with tools (those models reject JSON mode with function calling).
 */
export function geminiUnsupportedReason(request: ChatRequest, target: UpstreamTarget): string | undefined {
  if (request.logprobs || request.topLogprobs !== undefined) return 'gemini does not support logprobs';
  const jsonOutput = request.responseFormat !== undefined && request.responseFormat.type !== 'text';
  if (jsonOutput && (request.tools?.length ?? 0) > 0 && !geminiModelFamily(target.model.upstreamName).modern) {
    return 'gemini 2.x does not support structured output together with tools';
  }
  return undefined;
}

export const geminiAdapter: ProviderAdapter = {
  wire: 'gemini',
  complete,
  stream,
  unsupportedReason: geminiUnsupportedReason,
  embeddings: geminiEmbeddings,
  listModels: listGeminiModels,
};
