import type { EmbeddingEncoding, EmbeddingVector } from './ir.ts';

/**
 * A vector in the encoding the caller asked for. OpenAI's `base64` is the vector's little-endian float32
 * bytes, base64-encoded (what the openai SDKs decode with a Float32Array); `float` is JSON numbers. A vector
 * already in the asked encoding is returned as it came, never re-encoded.
 * @see https://platform.openai.com/docs/api-reference/embeddings/create#embeddings-create-encoding_format
 */
export function inEncoding(vector: EmbeddingVector, encoding: EmbeddingEncoding): EmbeddingVector {
  if (encoding === 'base64') return typeof vector === 'string' ? vector : floatsToBase64(vector);
  return typeof vector === 'string' ? base64ToFloats(vector) : vector;
}

export function floatsToBase64(values: readonly number[]): string {
  const bytes = Buffer.allocUnsafe(values.length * 4);
  for (let i = 0; i < values.length; i++) bytes.writeFloatLE(values[i]!, i * 4);
  return bytes.toString('base64');
}

/** Base64 of little-endian float32 → numbers (check it with isFloat32Base64 first when it comes from outside). */
export function base64ToFloats(base64: string): number[] {
  const bytes = Buffer.from(base64, 'base64');
  const out = new Array<number>(bytes.length >>> 2);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readFloatLE(i * 4);
  return out;
}

/** Whether a string is base64 of whole float32 values (an upstream's answer is checked before it is trusted). */
export function isFloat32Base64(value: string): boolean {
  return value.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(value) && Buffer.byteLength(value, 'base64') % 4 === 0;
}
