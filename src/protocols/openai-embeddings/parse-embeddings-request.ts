import { z } from 'zod';
import { GatewayError } from '../../core/errors.ts';
import type { EmbeddingInput, EmbeddingRequest } from '../../core/ir.ts';
import { parseWith } from '../../core/validation.ts';
import { modelNameSchema } from '../model-name.ts';

/**
 * An inbound OpenAI embeddings body → the internal request, validated once at the edge. Unknown fields are
 * kept in `inbound.body` and reach OpenAI-compatible upstreams untouched (as on chat completions).
 * @see https://platform.openai.com/docs/api-reference/embeddings/create (CreateEmbeddingRequest)
 */

/** OpenAI's limit on inputs per request (`maxItems` in its API description). */
export const MAX_EMBEDDING_INPUTS = 2048;

const bodySchema = z.looseObject({
  model: modelNameSchema,
  input: z.unknown().optional(),
  encoding_format: z.enum(['float', 'base64']).optional(),
  dimensions: z.int().positive().max(65_536).optional(),
  user: z.string().max(256).optional(),
});

export function parseEmbeddingsRequest(raw: unknown): EmbeddingRequest {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new GatewayError('invalid_request', 'Request body must be a JSON object');
  }
  const body = parseWith(bodySchema, raw);
  if (body.input === undefined) throw invalid("'input' is required", 'input');
  const request: EmbeddingRequest = {
    model: body.model,
    input: parseInput(body.input),
    encodingFormat: body.encoding_format ?? 'float',
    inbound: { protocol: 'openai-embeddings', body: raw as Record<string, unknown> },
  };
  if (body.dimensions !== undefined) request.dimensions = body.dimensions;
  if (body.user !== undefined) request.user = body.user;
  return request;
}

/** `input`: a string, an array of strings, an array of token ids (one input), or an array of token arrays. */
function parseInput(input: unknown): EmbeddingInput {
  if (typeof input === 'string') {
    if (input === '') throw invalid("'input' must not be an empty string", 'input');
    return { kind: 'text', texts: [input] };
  }
  if (!Array.isArray(input)) {
    throw invalid(
      "'input' must be a string, an array of strings, an array of token ids or an array of token arrays",
      'input',
    );
  }
  if (input.length === 0) throw invalid("'input' must not be an empty array", 'input');
  const first = input[0];
  if (typeof first === 'number') return { kind: 'tokens', tokens: [tokenArray(input, 'input')] };
  if (input.length > MAX_EMBEDDING_INPUTS) {
    throw invalid(
      `'input' has ${input.length} items; at most ${MAX_EMBEDDING_INPUTS} inputs fit in one request (split it)`,
      'input',
    );
  }
  if (typeof first === 'string') {
    input.forEach((text, i) => {
      if (typeof text !== 'string') throw invalid(`'input[${i}]' must be a string like the other items`, `input[${i}]`);
      if (text === '') throw invalid(`'input[${i}]' must not be an empty string`, `input[${i}]`);
    });
    return { kind: 'text', texts: input as string[] };
  }
  if (Array.isArray(first)) {
    return { kind: 'tokens', tokens: input.map((tokens, i) => tokenArray(tokens, `input[${i}]`)) };
  }
  throw invalid("'input[0]' must be a string, a token id or an array of token ids", 'input[0]');
}

function tokenArray(value: unknown, param: string): number[] {
  if (!Array.isArray(value)) throw invalid(`'${param}' must be an array of token ids like the other items`, param);
  if (value.length === 0) throw invalid(`'${param}' must not be an empty array`, param);
  for (let i = 0; i < value.length; i++) {
    const token = value[i];
    if (typeof token !== 'number' || !Number.isSafeInteger(token) || token < 0) {
      throw invalid(`'${param}[${i}]' must be a token id (an integer from 0)`, `${param}[${i}]`);
    }
  }
  return value as number[];
}

function invalid(message: string, param: string): GatewayError {
  return new GatewayError('invalid_request', message, { param });
}
