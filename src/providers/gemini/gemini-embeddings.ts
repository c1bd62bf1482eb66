import { GatewayError } from '../../core/errors.ts';
import type { EmbeddingRequest, EmbeddingResponse } from '../../core/ir.ts';
import { inBatches } from '../embedding-batches.ts';
import { estimateEmbeddingUsage, inputUsage } from '../embedding-usage.ts';
import { errorTableMapper, upstreamJSON, upstreamRequest } from '../http.ts';
import type { CallContext, EmbeddingsAdapter, UpstreamTarget } from '../types.ts';
import type { GeminiErrorBody } from './gemini-api-types.ts';
import { geminiEndpoint } from './gemini-endpoint.ts';
import { mapGeminiError } from './map-gemini-error.ts';

/**
 * Embeddings on the Gemini API: `models/{model}:batchEmbedContents`, one request per input text
 * (`outputDimensionality` from `dimensions`), in batches of at most 100 (the API's limit), a few batches at a
 * time; the vectors come back in request order. Token-id inputs have no Gemini equivalent: such a request is
 * never routed here. The answer's `usageMetadata.promptTokenCount` is used when every batch carries it, else
 * the texts are counted locally (an estimate: Gemini's tokenizer is not OpenAI's).
 * @see https://ai.google.dev/api/embeddings#method:-models.batchembedcontents
 */

/** BatchEmbedContentsRequest.requests: at most 100 per call. */
export const GEMINI_EMBED_BATCH = 100;
/** Batches in flight at once for one request (2048 inputs = 21 batches). */
const PARALLEL_BATCHES = 4;

type Json = Record<string, unknown>;

interface BatchResult {
  vectors: number[][];
  promptTokens: number | undefined;
}

function batchBody(texts: string[], request: EmbeddingRequest, target: UpstreamTarget): Json {
  const model = `models/${target.model.upstreamName.replace(/^models\//, '')}`;
  return {
    requests: texts.map((text) => ({
      model,
      content: { parts: [{ text }] },
      ...(request.dimensions === undefined ? {} : { outputDimensionality: request.dimensions }),
    })),
  };
}

async function embedBatch(
  texts: string[],
  request: EmbeddingRequest,
  target: UpstreamTarget,
  ctx: CallContext,
): Promise<BatchResult> {
  const label = target.provider.id;
  const { url, headers } = geminiEndpoint(target, false, 'batchEmbedContents');
  const { json } = await upstreamJSON(
    upstreamRequest(target, ctx, { url, headers, body: JSON.stringify(batchBody(texts, request, target)) }),
    errorTableMapper(mapGeminiError, label, target.key.secret),
  );
  const error = (json as GeminiErrorBody).error;
  if (error && typeof error === 'object' && !('embeddings' in json)) {
    const status = typeof error.code === 'number' ? error.code : 500;
    throw mapGeminiError({ status, body: json, label, secret: target.key.secret });
  }
  const embeddings = json['embeddings'];
  const malformed = (what: string) =>
    new GatewayError('provider_unavailable', `Upstream ${label} returned malformed embeddings (${what})`);
  if (!Array.isArray(embeddings)) throw malformed('no embeddings list');
  if (embeddings.length !== texts.length) throw malformed(`${embeddings.length} vectors for ${texts.length} inputs`);
  const vectors = embeddings.map((item: unknown) => {
    const values = (item as Json | null)?.['values'];
    if (!Array.isArray(values) || !values.every((v) => typeof v === 'number'))
      throw malformed('a vector without values');
    return values as number[];
  });
  const prompt = (json['usageMetadata'] as Json | undefined)?.['promptTokenCount'];
  return { vectors, promptTokens: typeof prompt === 'number' && prompt >= 0 ? prompt : undefined };
}

async function embed(request: EmbeddingRequest, target: UpstreamTarget, ctx: CallContext): Promise<EmbeddingResponse> {
  if (request.input.kind !== 'text') {
    throw new GatewayError('invalid_request', 'Gemini embeds text, not token ids', { param: 'input' });
  }
  const results = await inBatches(
    request.input.texts,
    { size: GEMINI_EMBED_BATCH, parallel: PARALLEL_BATCHES, signal: ctx.signal },
    (texts, signal) => embedBatch(texts, request, target, { ...ctx, signal }),
  );
  const reported = results.every((r) => r.promptTokens !== undefined);
  return {
    model: target.model.upstreamName,
    vectors: results.flatMap((r) => r.vectors),
    usage: reported
      ? inputUsage(results.reduce((n, r) => n + r.promptTokens!, 0))
      : await estimateEmbeddingUsage(request, ctx.tokens),
  };
}

export const geminiEmbeddings: EmbeddingsAdapter = {
  embed,
  unsupportedReason: (request) =>
    request.input.kind === 'tokens' ? 'gemini embeds text, not token ids (send strings)' : undefined,
};
