import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { GatewayError } from '../../../src/core/errors.ts';
import { solidPng } from '../../../src/providers/demo/media.ts';
import { closeCallContexts } from '../../helpers/call-context.ts';
import {
  GPT_IMAGE_TOKENS,
  MOCK_INPUT_IMAGE_TOKENS,
  MOCK_MEDIA_KEY,
  type MockOpenAIMedia,
  RECORDED_IMAGE,
  startMockOpenAIMedia,
} from '../../mocks/openai-media.ts';
import { MemoryFiles, mediaRunnerFor, model, noUrlIn, runContext } from './support.ts';

/** OpenAI Images through the media runner, against the OpenAI media mock. */

describe('OpenAI Images runner', () => {
  let mock: MockOpenAIMedia;
  let runner: ReturnType<typeof mediaRunnerFor>['runner'];
  before(async () => {
    mock = await startMockOpenAIMedia();
    ({ runner } = mediaRunnerFor([{ id: 'openai', kind: 'openai', baseUrl: mock.baseUrl, keys: [MOCK_MEDIA_KEY] }]));
  });
  after(async () => {
    await mock.close();
    await closeCallContexts();
  });

  it('gpt-image-1: JSON generation without response_format, PNGs stored as the tenant’s files, cost from usage tokens', async () => {
    const files = new MemoryFiles();
    const input = { prompt: 'a red fox in snow', n: 2, size: '1024x1536', quality: 'low' };
    const result = await runner.run(model('openai/gpt-image-1', 'image'), input, runContext(files));
    const sent = mock.requests.at(-1)!;
    assert.equal(sent.path, '/v1/images/generations');
    assert.deepEqual(sent.json, {
      model: 'gpt-image-1',
      prompt: 'a red fox in snow',
      n: 2,
      size: '1024x1536',
      quality: 'low',
    });
    assert.equal(result.output.files?.length, 2);
    for (const id of result.output.files!) {
      const stored = await files.read('tenant-a', id);
      assert.equal(stored?.meta.contentType, 'image/png');
      assert.equal(stored?.meta.purpose, 'execution_output');
      assert.deepEqual([...stored!.bytes.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    }
    const outputTokens = 2 * GPT_IMAGE_TOKENS['low']!['1024x1536']!;
    assert.deepEqual(result.usage, { inputTokens: 5, outputTokens, images: 2 });
    // Price library: $5 per million text input tokens, $40 per million output (image) tokens.
    assert.equal(result.costNanoUsd, 5 * 5 * 1000 + outputTokens * 40 * 1000);
    assert.equal(result.servedBy, 'openai/gpt-image-1');
    assert.ok(noUrlIn(result));
  });

  it('dall-e-3: asks for b64_json, keeps the revised prompt, costs its per-image price by size and quality', async () => {
    const files = new MemoryFiles();
    const result = await runner.run(
      model('openai/dall-e-3', 'image'),
      { prompt: 'an otter', size: '1024x1792', quality: 'hd' },
      runContext(files),
    );
    assert.equal(mock.requests.at(-1)!.json!['response_format'], 'b64_json');
    assert.equal(
      result.output.data?.['revised_prompt'],
      (RECORDED_IMAGE['data'] as Array<{ revised_prompt: string }>)[0]!.revised_prompt,
    );
    assert.equal(result.costNanoUsd, 120_000_000); // $0.12: hd 1024x1792
    assert.equal(
      await runner
        .run(model('openai/dall-e-3', 'image'), { prompt: 'x' }, runContext(files))
        .then((r) => r.costNanoUsd),
      40_000_000, // $0.04: standard 1024x1024
    );
  });

  it('an edit sends the input file as the multipart image; the input image tokens cost the library’s image rate', async () => {
    const files = new MemoryFiles();
    const png = await solidPng(8, 8, [1, 2, 3]);
    const id = await files.upload('tenant-a', png, 'image/png', 'photo.png');
    const result = await runner.run(
      model('openai/gpt-image-1', 'image'),
      { prompt: 'add a hat', image: id, size: '1024x1024', quality: 'medium' },
      runContext(files),
    );
    const sent = mock.requests.at(-1)!;
    assert.equal(sent.path, '/v1/images/edits');
    const part = sent.form!['image'] as { filename: string; type: string; bytes: Uint8Array };
    assert.deepEqual({ filename: part.filename, type: part.type }, { filename: 'photo.png', type: 'image/png' });
    assert.deepEqual(Buffer.from(part.bytes), Buffer.from(png));
    assert.equal(sent.form!['model'], 'gpt-image-1');
    const out = GPT_IMAGE_TOKENS['medium']!['1024x1024']!;
    assert.equal(result.costNanoUsd, 3 * 5 * 1000 + MOCK_INPUT_IMAGE_TOKENS * 10 * 1000 + out * 40 * 1000);
  });

  it('another tenant’s file is not found (invalid_request naming input.image), and nothing is sent', async () => {
    const files = new MemoryFiles();
    const id = await files.upload('tenant-b', await solidPng(4, 4, [0, 0, 0]), 'image/png');
    const before = mock.requests.length;
    await assert.rejects(
      runner.run(model('openai/gpt-image-1', 'image'), { prompt: 'x', image: id }, runContext(files)),
      (err: GatewayError) => err.code === 'invalid_request' && err.param === 'input.image' && !err.retryable,
    );
    assert.equal(mock.requests.length, before);
  });

  it('validation names the field: missing prompt, unknown field, a size or n the model does not take', () => {
    const bad = (id: string, input: unknown, param: string) =>
      assert.throws(
        () => runner.validate(model(id, 'image'), input),
        (err: GatewayError) => err.code === 'invalid_request' && err.param === param,
      );
    bad('openai/gpt-image-1', { size: '1024x1024' }, 'input.prompt');
    bad('openai/gpt-image-1', { prompt: 'x', colour: 'red' }, 'input');
    bad('openai/gpt-image-1', { prompt: 'x', size: '1792x1024' }, 'input.size');
    bad('openai/dall-e-3', { prompt: 'x', n: 2 }, 'input.n');
    bad('openai/dall-e-3', { prompt: 'x', image: 'file_abc' }, 'input.image');
    bad('openai/gpt-image-1', { prompt: 'x', image: 'https://example.com/a.png' }, 'input.image');
    bad('openai/gpt-image-1', 'a string', 'input');
    assert.throws(() => runner.validate(model('openai/gpt-image-1', 'video'), { prompt: 'x' }), /not a video model/);
    assert.throws(
      () => runner.validate(model('openai/nope', 'image'), { prompt: 'x' }),
      (e: GatewayError) => e.code === 'not_found',
    );
  });

  it('the estimate covers the most a run can cost', async () => {
    const input = { prompt: 'a red fox in snow', n: 2, size: '1024x1536' };
    const estimate = runner.estimateNanoUsd(model('openai/gpt-image-1', 'image'), input);
    // Quality unspecified: held at high (6240 tokens an image).
    assert.ok(estimate >= 2 * 6240 * 40 * 1000, String(estimate));
    const result = await runner.run(model('openai/gpt-image-1', 'image'), input, runContext(new MemoryFiles()));
    assert.ok(estimate >= result.costNanoUsd);
    assert.equal(runner.estimateNanoUsd(model('openai/dall-e-3', 'image'), { prompt: 'x' }), 120_000_000); // the dearest variant
    assert.equal(
      runner.estimateNanoUsd(model('openai/dall-e-3', 'image'), {
        prompt: 'x',
        quality: 'standard',
        size: '1024x1024',
      }),
      40_000_000,
    );
  });

  it('provider errors map to the 12 codes with their retryable flags', async () => {
    const cases: Array<[number, unknown, Record<string, string>, string, boolean]> = [
      [
        429,
        { error: { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' } },
        { 'retry-after': '2' },
        'rate_limited',
        true,
      ],
      [500, { error: { message: 'The server had an error', type: 'server_error' } }, {}, 'provider_unavailable', true],
      [
        400,
        {
          error: {
            message: 'Your request was rejected as a result of our safety system.',
            type: 'image_generation_user_error',
            code: 'moderation_blocked',
          },
        },
        {},
        'content_filtered',
        false,
      ],
      [
        401,
        { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } },
        {},
        'authentication_failed',
        false,
      ],
    ];
    for (const [status, body, headers, code, retryable] of cases) {
      mock.faults.push({ status, body, headers });
      await assert.rejects(
        runner.run(model('openai/gpt-image-1', 'image'), { prompt: 'x' }, runContext(new MemoryFiles())),
        (err: GatewayError) => {
          assert.equal(err.code, code, `status ${status}`);
          assert.equal(err.retryable, retryable);
          return true;
        },
      );
    }
    // An upstream message that echoes the key never carries it on.
    mock.faults.push({
      status: 400,
      body: { error: { message: `Bad request for key ${MOCK_MEDIA_KEY}`, type: 'invalid_request_error', code: null } },
    });
    await assert.rejects(
      runner.run(model('openai/gpt-image-1', 'image'), { prompt: 'x' }, runContext(new MemoryFiles())),
      (err: GatewayError) => err.code === 'invalid_request' && !err.message.includes(MOCK_MEDIA_KEY),
    );
    mock.faults.push({ status: 200, body: { created: 1, data: [] } });
    await assert.rejects(
      runner.run(model('openai/gpt-image-1', 'image'), { prompt: 'x' }, runContext(new MemoryFiles())),
      (err: GatewayError) => err.code === 'provider_unavailable' && err.retryable,
    );
  });
});
