import { GatewayError } from '../../core/errors.ts';
import type { EmbeddingRequest, EmbeddingResponse } from '../../core/ir.ts';
import { inBatches } from '../embedding-batches.ts';
import { estimateEmbeddingUsage, inputUsage } from '../embedding-usage.ts';
import { upstreamJSON, upstreamRequest } from '../http.ts';
import type { CallContext, EmbeddingsAdapter, UpstreamTarget } from '../types.ts';
import { bedrockRegion, invokeUrl } from './bedrock-endpoint.ts';
import { bedrockErrorMapper, header } from './map-bedrock-error.ts';
import { authorizeBedrockRequest } from './sign-bedrock-request.ts';

/**
 * Embeddings on Bedrock through InvokeModel (`POST /model/{modelId}/invoke`, signed like Converse), in each model
 * family's own body:
 *
 * - Amazon Titan Text Embeddings (`amazon.titan-embed-text-v2:0`, `-v1`): one text per call
 *   (`{inputText, dimensions?, normalize}` → `{embedding, inputTextTokenCount}`), eight calls in flight; v2
 *   takes `dimensions` 256, 512 or 1024, v1 none.
 * - Cohere Embed (`cohere.embed-english-v3`, `cohere.embed-multilingual-v3`, `cohere.embed-v4:0`): up to 96 texts
 *   per call (`{texts, input_type, embedding_types: ['float']}` → `{embeddings: {float: [...]}}`). `input_type`
 *   is the caller's own `input_type` field when it sends one (`search_query`, `classification`…), else
 *   `search_document`. Cohere takes no `dimensions` (v4: `output_dimension`, not mapped).
 *
 * Input tokens come from the `X-Amzn-Bedrock-Input-Token-Count` header (Titan also has them in its body), else
 * they are counted locally. Token-id inputs have no Bedrock equivalent: such a request is never routed here.
 * @see https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-embed-text.html
 * @see https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-embed.html
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModel.html
 */

type Json = Record<string, unknown>;
type Family = 'titan-v2' | 'titan-v1' | 'cohere';

/** Cohere Embed on Bedrock: at most 96 texts per call. */
export const COHERE_EMBED_BATCH = 96;
const TITAN_DIMENSIONS = [256, 512, 1024];
const TITAN_PARALLEL = 8;
const COHERE_PARALLEL = 4;

/** The family from the model id (an inference profile's region prefix, `us.cohere.embed-v4:0`, allowed). */
export function bedrockEmbeddingFamily(modelId: string): Family | undefined {
  if (/(^|\.)amazon\.titan-embed-text-v2/.test(modelId)) return 'titan-v2';
  if (/(^|\.)amazon\.titan-embed-text-v1/.test(modelId)) return 'titan-v1';
  if (/(^|\.)cohere\.embed-/.test(modelId)) return 'cohere';
  return undefined;
}

interface Called {
  vectors: number[][];
  tokens: number | undefined;
}

async function invoke(body: Json, target: UpstreamTarget, ctx: CallContext): Promise<{ json: Json; tokens?: number }> {
  const url = invokeUrl(target.provider, target.model.upstreamName);
  const bytes = Buffer.from(JSON.stringify(body), 'utf8');
  const headers = await authorizeBedrockRequest({
    url,
    body: bytes,
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    key: target.key,
    region: bedrockRegion(target.provider),
  });
  const label = target.provider.id;
  const answer = await upstreamJSON(
    upstreamRequest(target, ctx, { url, headers, body: bytes, label }),
    bedrockErrorMapper(label),
  );
  const counted = Number(header(answer.headers, 'x-amzn-bedrock-input-token-count'));
  return { json: answer.json, ...(Number.isFinite(counted) && counted >= 0 ? { tokens: counted } : {}) };
}

function numbers(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'number');
}

function malformed(target: UpstreamTarget, what: string): GatewayError {
  return new GatewayError(
    'provider_unavailable',
    `Upstream ${target.provider.id} returned malformed embeddings (${what})`,
  );
}

async function titan(
  text: string,
  family: Family,
  request: EmbeddingRequest,
  target: UpstreamTarget,
  ctx: CallContext,
) {
  const body: Json = { inputText: text };
  if (family === 'titan-v2') {
    body['normalize'] = true;
    if (request.dimensions !== undefined) body['dimensions'] = request.dimensions;
  }
  const { json, tokens } = await invoke(body, target, ctx);
  if (!numbers(json['embedding'])) throw malformed(target, 'no embedding');
  const inBody = json['inputTextTokenCount'];
  return { vectors: [json['embedding']], tokens: tokens ?? (typeof inBody === 'number' ? inBody : undefined) };
}

async function cohere(texts: string[], request: EmbeddingRequest, target: UpstreamTarget, ctx: CallContext) {
  const asked = request.inbound.body['input_type'];
  const body: Json = {
    texts,
    input_type: typeof asked === 'string' ? asked : 'search_document',
    embedding_types: ['float'],
  };
  const { json, tokens } = await invoke(body, target, ctx);
  const embeddings = json['embeddings'];
  // `embedding_types` asks for `{float: [...]}`; an answer without it is the plain list.
  const vectors = Array.isArray(embeddings) ? embeddings : (embeddings as Json | undefined)?.['float'];
  if (!Array.isArray(vectors) || !vectors.every(numbers)) throw malformed(target, 'no float embeddings');
  if (vectors.length !== texts.length) throw malformed(target, `${vectors.length} vectors for ${texts.length} inputs`);
  return { vectors: vectors as number[][], tokens };
}

async function embed(request: EmbeddingRequest, target: UpstreamTarget, ctx: CallContext): Promise<EmbeddingResponse> {
  const family = bedrockEmbeddingFamily(target.model.upstreamName);
  if (request.input.kind !== 'text' || !family) {
    throw new GatewayError('invalid_request', unsupported(request, target) ?? 'Not a Bedrock embedding request');
  }
  const cohereFamily = family === 'cohere';
  const results: Called[] = await inBatches(
    request.input.texts,
    {
      size: cohereFamily ? COHERE_EMBED_BATCH : 1,
      parallel: cohereFamily ? COHERE_PARALLEL : TITAN_PARALLEL,
      signal: ctx.signal,
    },
    (texts, signal) =>
      cohereFamily
        ? cohere(texts, request, target, { ...ctx, signal })
        : titan(texts[0]!, family, request, target, { ...ctx, signal }),
  );
  const reported = results.every((r) => r.tokens !== undefined);
  return {
    model: target.model.upstreamName,
    vectors: results.flatMap((r) => r.vectors),
    usage: reported
      ? inputUsage(results.reduce((n, r) => n + r.tokens!, 0))
      : await estimateEmbeddingUsage(request, ctx.tokens),
  };
}

function unsupported(request: EmbeddingRequest, target: UpstreamTarget): string | undefined {
  const family = bedrockEmbeddingFamily(target.model.upstreamName);
  if (!family) return `Bedrock model ${target.model.upstreamName} is not a known embedding family (Titan, Cohere)`;
  if (request.input.kind === 'tokens') return 'Bedrock embeds text, not token ids (send strings)';
  if (request.dimensions !== undefined) {
    if (family === 'titan-v2' && !TITAN_DIMENSIONS.includes(request.dimensions)) {
      return `Titan Text Embeddings V2 takes dimensions ${TITAN_DIMENSIONS.join(', ')}`;
    }
    if (family !== 'titan-v2') return `${target.model.upstreamName} does not take dimensions`;
  }
  return undefined;
}

export const bedrockEmbeddings: EmbeddingsAdapter = { embed, unsupportedReason: unsupported };
