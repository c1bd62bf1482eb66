/**
 * The embeddings endpoint of the OpenAI mock (`POST /v1/embeddings`, Azure `/openai/deployments/{d}/embeddings`):
 * OpenAI's request checks and answer shape, with deterministic unit vectors a test can recompute
 * (`mockEmbedding`). Values are float32, as OpenAI's are; `encoding_format: base64` answers each vector as its
 * little-endian float32 bytes in base64, as OpenAI does.
 * @see https://platform.openai.com/docs/api-reference/embeddings/create
 */
import { countTokens } from './tokens.ts';

export interface EmbeddingsOptions {
  /** Answer floats whatever `encoding_format` says (servers that ignore the field). */
  ignoreEncodingFormat?: boolean;
  /** Leave `usage` out of the answer (some local servers). */
  omitUsage?: boolean;
}

type Input = string | number[];

/** The vector the mock answers for one input: a pseudo-random unit vector seeded by the input and model. */
export function mockEmbedding(input: Input, model: string, dimensions = defaultDimensions(model)): number[] {
  let seed = 2166136261;
  const text = typeof input === 'string' ? input : input.join(',');
  for (const char of `${model}\u0000${text}`) seed = Math.imul(seed ^ char.codePointAt(0)!, 16777619) >>> 0;
  const raw = new Array<number>(dimensions);
  let norm = 0;
  for (let i = 0; i < dimensions; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    raw[i] = seed / 2 ** 31 - 1;
    norm += raw[i]! * raw[i]!;
  }
  const scale = 1 / Math.sqrt(norm || 1);
  return raw.map((v) => Math.fround(v * scale));
}

export function defaultDimensions(model: string): number {
  return model.includes('large') ? 3072 : 1536;
}

export function embeddingTokens(input: Input): number {
  return typeof input === 'string' ? countTokens(input) : input.length;
}

const invalidInput = {
  error: {
    message: "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
    type: 'invalid_request_error',
    param: null,
    code: null,
  },
};

/** OpenAI's answer (status and body) to an embeddings request body. */
export function answerEmbeddings(
  body: Record<string, unknown>,
  model: string,
  options: EmbeddingsOptions,
): { status: number; body: unknown } {
  const input = body['input'];
  if (input === undefined) {
    return {
      status: 400,
      body: {
        error: { message: "'input' is a required property", type: 'invalid_request_error', param: null, code: null },
      },
    };
  }
  let inputs: Input[];
  if (typeof input === 'string') inputs = [input];
  else if (Array.isArray(input) && input.length > 0 && input.every((v) => typeof v === 'number')) inputs = [input];
  else if (Array.isArray(input) && input.length > 0 && input.length <= 2048) inputs = input as Input[];
  else return { status: 400, body: invalidInput };
  if (inputs.some((v) => v === '' || (Array.isArray(v) && v.length === 0))) return { status: 400, body: invalidInput };
  // Mistral's name for it (codestral-embed).
  const dimensions = body['dimensions'] ?? body['output_dimension'];
  if (dimensions !== undefined && model === 'text-embedding-ada-002') {
    return {
      status: 400,
      body: {
        error: {
          message: 'This model does not support specifying dimensions.',
          type: 'invalid_request_error',
          param: null,
          code: null,
        },
      },
    };
  }
  const base64 = body['encoding_format'] === 'base64' && !options.ignoreEncodingFormat;
  const tokens = inputs.reduce((n, v) => n + embeddingTokens(v), 0);
  return {
    status: 200,
    body: {
      object: 'list',
      data: inputs.map((v, index) => {
        const vector = mockEmbedding(v, model, typeof dimensions === 'number' ? dimensions : undefined);
        return { object: 'embedding', index, embedding: base64 ? toBase64(vector) : vector };
      }),
      model,
      ...(options.omitUsage ? {} : { usage: { prompt_tokens: tokens, total_tokens: tokens } }),
    },
  };
}

function toBase64(vector: number[]): string {
  return Buffer.from(new Float32Array(vector).buffer).toString('base64');
}
