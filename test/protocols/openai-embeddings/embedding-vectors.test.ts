import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { base64ToFloats, floatsToBase64, inEncoding, isFloat32Base64 } from '../../../src/core/embedding-vectors.ts';
import { parseEmbeddingsRequest } from '../../../src/protocols/openai-embeddings/parse-embeddings-request.ts';
import { renderEmbeddingsResponse } from '../../../src/protocols/openai-embeddings/render-embeddings-response.ts';
import { vectorsOf } from '../../../src/providers/openai-compatible/embeddings.ts';

describe('embedding vectors: OpenAI base64 is little-endian float32', () => {
  test('known bytes: 1.0 is 00 00 80 3F, -2.0 is 00 00 00 C0', () => {
    assert.equal(floatsToBase64([1, -2]), Buffer.from([0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0]).toString('base64'));
    assert.deepEqual(base64ToFloats('AACAPwAAAMA='), [1, -2]);
  });

  test('round trip keeps float32 values exactly; a float64 value comes back rounded to float32', () => {
    const values = [0.1, -0.0023064255, 3.4e38, 1e-45, 0];
    const back = base64ToFloats(floatsToBase64(values));
    assert.deepEqual(
      back,
      values.map((v) => Math.fround(v)),
    );
    // What the openai SDK decodes with.
    const bytes = Buffer.from(floatsToBase64(values), 'base64');
    assert.deepEqual(Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4)), back);
  });

  test('a vector already in the asked encoding is passed on as it came', () => {
    const floats = [0.5, 0.25];
    assert.equal(inEncoding(floats, 'float'), floats);
    const encoded = floatsToBase64(floats);
    assert.equal(inEncoding(encoded, 'base64'), encoded);
    assert.deepEqual(inEncoding(encoded, 'float'), floats);
    assert.equal(inEncoding(floats, 'base64'), encoded);
  });

  test('isFloat32Base64 refuses what is not whole float32 values', () => {
    assert.ok(isFloat32Base64(floatsToBase64([1, 2, 3])));
    assert.ok(isFloat32Base64(''));
    assert.ok(!isFloat32Base64('AAAA')); // 3 bytes
    assert.ok(!isFloat32Base64('AACAP'));
    assert.ok(!isFloat32Base64('AACA Pw=='));
    assert.ok(!isFloat32Base64('not base64!'));
  });
});

describe('embeddings codec pieces', () => {
  test('decode: defaults, token arrays, and the original body kept for pass-through', () => {
    const body = { model: 'm', input: 'hi', extra_server_option: 1 };
    const request = parseEmbeddingsRequest(body);
    assert.deepEqual(request.input, { kind: 'text', texts: ['hi'] });
    assert.equal(request.encodingFormat, 'float', "OpenAI's default");
    assert.equal(request.inbound.body, body);
    assert.deepEqual(parseEmbeddingsRequest({ model: 'm', input: [1, 2] }).input, { kind: 'tokens', tokens: [[1, 2]] });
    assert.deepEqual(parseEmbeddingsRequest({ model: 'm', input: [[1], [2, 3]] }).input, {
      kind: 'tokens',
      tokens: [[1], [2, 3]],
    });
    const full = parseEmbeddingsRequest({
      model: 'm',
      input: ['a'],
      dimensions: 3,
      encoding_format: 'base64',
      user: 'u',
    });
    assert.equal(full.dimensions, 3);
    assert.equal(full.encodingFormat, 'base64');
    assert.equal(full.user, 'u');
  });

  test('decode: 2048 inputs fit, 2049 do not; a token array is one input whatever its length', () => {
    assert.equal(parseEmbeddingsRequest({ model: 'm', input: Array(2048).fill('x') }).input.kind, 'text');
    assert.throws(() => parseEmbeddingsRequest({ model: 'm', input: Array(2049).fill('x') }), /at most 2048/);
    assert.equal(parseEmbeddingsRequest({ model: 'm', input: Array(5000).fill(7) }).input.kind, 'tokens');
    assert.throws(() => parseEmbeddingsRequest(['not', 'an', 'object']), /JSON object/);
  });

  test('render: OpenAI’s shape, each vector in the asked encoding, usage from input tokens', () => {
    const response = {
      model: 'up-model',
      vectors: [[1, 2], floatsToBase64([3, 4])],
      usage: { inputTokens: 7, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 0, reasoningTokens: 0 },
    };
    assert.deepEqual(renderEmbeddingsResponse(response, 'float'), {
      object: 'list',
      data: [
        { object: 'embedding', index: 0, embedding: [1, 2] },
        { object: 'embedding', index: 1, embedding: [3, 4] },
      ],
      model: 'up-model',
      usage: { prompt_tokens: 7, total_tokens: 7 },
    });
    assert.deepEqual(
      renderEmbeddingsResponse(response, 'base64').data.map((d) => d.embedding),
      [floatsToBase64([1, 2]), floatsToBase64([3, 4])],
    );
  });

  test('an upstream’s data list is put in input order by index; malformed lists are the provider’s fault', () => {
    const data = [
      { object: 'embedding', index: 1, embedding: [2] },
      { object: 'embedding', index: 0, embedding: floatsToBase64([1]) },
    ];
    assert.deepEqual(vectorsOf(data, 2, 'up'), [floatsToBase64([1]), [2]]);
    const fails = (value: unknown, count: number) =>
      assert.throws(
        () => vectorsOf(value, count, 'up'),
        (err: Error & { code?: string }) =>
          err.code === 'provider_unavailable' && /malformed embeddings/.test(err.message),
      );
    fails(undefined, 1);
    fails(data, 3);
    fails(
      [
        { index: 0, embedding: [1] },
        { index: 0, embedding: [2] },
      ],
      2,
    );
    fails([{ index: 5, embedding: [1] }], 1);
    fails([{ index: 0, embedding: 'AAAA' }], 1);
    fails([{ index: 0, embedding: ['1'] }], 1);
  });
});
