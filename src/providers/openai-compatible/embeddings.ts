import { isFloat32Base64 } from '../../core/embedding-vectors.ts';
import { GatewayError } from '../../core/errors.ts';
import type { EmbeddingRequest, EmbeddingResponse, EmbeddingVector, Usage } from '../../core/ir.ts';
import { estimateEmbeddingUsage, inputUsage } from '../embedding-usage.ts';
import { errorTableMapper, upstreamJSON, upstreamRequest } from '../http.ts';
import type { CallContext, EmbeddingsAdapter, UpstreamTarget } from '../types.ts';
import { mapOpenAIError } from './map-openai-error.ts';
import { endpoint, familyMember } from './openai-endpoint.ts';

/**
 * The family's embeddings call (`POST {base}/embeddings`, Azure `/openai/deployments/{d}/embeddings`): the
 * caller's own body goes upstream with the model swapped, the kind's dropped fields removed and its embeddings
 * renames applied (Mistral's `output_dimension`), so fields Modro does not model (a server's own options) still
 * arrive.
 *
 * Upstream is asked for base64 whenever the kind accepts it, whatever the caller asked: a quarter of the
 * bytes of JSON floats, and the same float32 values (OpenAI's float answers are float32 values printed in
 * full), so a float caller gets exactly what the provider would have sent it. The codec converts.
 * @see https://platform.openai.com/docs/api-reference/embeddings/create
 */

type Json = Record<string, unknown>;

function requestBody(request: EmbeddingRequest, target: UpstreamTarget): Json {
  const { quirks } = familyMember(target);
  const body: Json =
    request.inbound.protocol === 'openai-embeddings'
      ? { ...request.inbound.body }
      : {
          input: request.input.kind === 'text' ? request.input.texts : request.input.tokens,
          ...(request.dimensions === undefined ? {} : { dimensions: request.dimensions }),
          ...(request.user === undefined ? {} : { user: request.user }),
        };
  body['model'] = target.model.upstreamName;
  body['encoding_format'] = quirks.embeddingsBase64 ? 'base64' : 'float';
  for (const name of quirks.dropped) delete body[name];
  for (const [from, to] of Object.entries(quirks.embeddingsRenamed)) {
    if (from in body) {
      body[to] = body[from];
      delete body[from];
    }
  }
  return body;
}

async function embed(request: EmbeddingRequest, target: UpstreamTarget, ctx: CallContext): Promise<EmbeddingResponse> {
  const label = target.provider.id;
  const { url, headers } = endpoint(target, familyMember(target), 'embeddings');
  const { json } = await upstreamJSON(
    upstreamRequest(target, ctx, { url, headers, body: JSON.stringify(requestBody(request, target)) }),
    errorTableMapper(mapOpenAIError, label, target.key.secret),
  );
  if (json['error'] && !json['data'])
    throw mapOpenAIError({ status: 500, body: json, label, secret: target.key.secret });
  const count = request.input.kind === 'text' ? request.input.texts.length : request.input.tokens.length;
  return {
    model: typeof json['model'] === 'string' ? json['model'] : target.model.upstreamName,
    vectors: vectorsOf(json['data'], count, label),
    usage: usageOf(json) ?? (await estimateEmbeddingUsage(request, ctx.tokens)),
  };
}

/** `data[]` → one vector per input in input order (by each item's `index`); anything else is the provider's fault. */
export function vectorsOf(data: unknown, count: number, label: string): EmbeddingVector[] {
  const malformed = (what: string) =>
    new GatewayError('provider_unavailable', `Upstream ${label} returned malformed embeddings (${what})`);
  if (!Array.isArray(data)) throw malformed('no data list');
  if (data.length !== count) throw malformed(`${data.length} vectors for ${count} inputs`);
  const vectors = new Array<EmbeddingVector | undefined>(count);
  data.forEach((item: unknown, position) => {
    const entry = (item ?? {}) as Json;
    const index = typeof entry['index'] === 'number' ? entry['index'] : position;
    if (!Number.isInteger(index) || index < 0 || index >= count || vectors[index] !== undefined) {
      throw malformed(`index ${String(entry['index'])}`);
    }
    const embedding = entry['embedding'];
    if (typeof embedding === 'string') {
      if (!isFloat32Base64(embedding)) throw malformed('base64 that is not float32 values');
      vectors[index] = embedding;
    } else if (Array.isArray(embedding) && embedding.every((v) => typeof v === 'number')) {
      vectors[index] = embedding as number[];
    } else {
      throw malformed('a vector that is neither numbers nor base64');
    }
  });
  return vectors as EmbeddingVector[];
}

function usageOf(json: Json): Usage | undefined {
  const usage = json['usage'] as Json | undefined;
  const prompt = usage?.['prompt_tokens'] ?? usage?.['total_tokens'];
  if (typeof prompt !== 'number' || !Number.isFinite(prompt) || prompt < 0) return undefined;
  return inputUsage(Math.round(prompt));
}

export const openAIEmbeddings: EmbeddingsAdapter = { embed };
