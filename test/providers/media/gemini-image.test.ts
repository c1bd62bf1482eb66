import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { GatewayError } from '../../../src/core/errors.ts';
import { solidPng } from '../../../src/providers/demo/media.ts';
import { closeCallContexts } from '../../helpers/call-context.ts';
import {
  MOCK_GEMINI_MEDIA_KEY,
  MOCK_IMAGE_TOKENS,
  MOCK_INPUT_IMAGE_TOKENS,
  type MockGeminiImage,
  startMockGeminiImage,
} from '../../mocks/gemini-image.ts';
import { MemoryFiles, mediaRunnerFor, model, noUrlIn, runContext } from './support.ts';

/** Gemini image output through the media runner, against the Gemini image mock. */

describe('Gemini image runner', () => {
  let mock: MockGeminiImage;
  let runner: ReturnType<typeof mediaRunnerFor>['runner'];
  const id = 'gemini/gemini-2.5-flash-image';
  before(async () => {
    mock = await startMockGeminiImage();
    ({ runner } = mediaRunnerFor([{ id: 'gemini', kind: 'gemini', baseUrl: mock.url, keys: [MOCK_GEMINI_MEDIA_KEY] }]));
  });
  after(async () => {
    await mock.close();
    await closeCallContexts();
  });

  it('generateContent with IMAGE output: the key in x-goog-api-key, the size as an aspect ratio, n calls; cost in tokens', async () => {
    const files = new MemoryFiles();
    const result = await runner.run(
      model(id, 'image'),
      { prompt: 'a paper boat', n: 2, size: '1920x1080' },
      runContext(files),
    );
    const sent = mock.requests.slice(-2);
    assert.equal(sent[0]!.path, '/v1beta/models/gemini-2.5-flash-image:generateContent');
    assert.equal(sent[0]!.headers['x-goog-api-key'], MOCK_GEMINI_MEDIA_KEY);
    assert.ok(!sent[0]!.path.includes('key='), 'the key never goes in the URL');
    assert.deepEqual(sent[0]!.json, {
      contents: [{ role: 'user', parts: [{ text: 'a paper boat' }] }],
      generationConfig: { responseModalities: ['IMAGE'], imageConfig: { aspectRatio: '16:9' } },
    });
    assert.equal(result.output.files?.length, 2);
    const png = (await files.read('tenant-a', result.output.files![1]!))!;
    assert.equal(png.meta.contentType, 'image/png');
    assert.equal(Buffer.from(png.bytes).readUInt32BE(20), 36); // 16:9
    assert.deepEqual(result.usage, { inputTokens: 6, outputTokens: 2 * MOCK_IMAGE_TOKENS, images: 2 });
    // The price library: $0.30 per million input tokens, $30 per million output image tokens.
    assert.equal(result.costNanoUsd, Math.round(6 * 0.3 * 1000 + 2 * MOCK_IMAGE_TOKENS * 30 * 1000));
    assert.ok(noUrlIn(result));
    assert.ok(runner.estimateNanoUsd(model(id, 'image'), { prompt: 'a paper boat', n: 2 }) >= result.costNanoUsd);
  });

  it('an edit sends the input image as inlineData; its tokens are priced as input', async () => {
    const files = new MemoryFiles();
    const png = await solidPng(4, 4, [5, 5, 5]);
    const image = await files.upload('tenant-a', png, 'image/png');
    const result = await runner.run(model(id, 'image'), { prompt: 'make it blue', image }, runContext(files));
    const parts = (mock.requests.at(-1)!.json!['contents'] as Array<{ parts: Array<Record<string, unknown>> }>)[0]!
      .parts;
    assert.deepEqual(parts[1], { inlineData: { mimeType: 'image/png', data: Buffer.from(png).toString('base64') } });
    assert.equal(result.usage.inputTokens, 3 + MOCK_INPUT_IMAGE_TOKENS);
  });

  it('a blocked prompt and a withheld image are content_filtered; a 429 is rate_limited; sizes it cannot make are refused', async () => {
    await assert.rejects(
      runner.run(model(id, 'image'), { prompt: 'something forbidden' }, runContext(new MemoryFiles())),
      (err: GatewayError) => err.code === 'content_filtered' && /PROHIBITED_CONTENT/.test(err.message),
    );
    await assert.rejects(
      runner.run(model(id, 'image'), { prompt: 'an unsafe image' }, runContext(new MemoryFiles())),
      (err: GatewayError) => err.code === 'content_filtered' && /IMAGE_SAFETY/.test(err.message),
    );
    mock.faults.push({
      status: 429,
      body: {
        error: { code: 429, message: 'Resource has been exhausted (e.g. check quota).', status: 'RESOURCE_EXHAUSTED' },
      },
    });
    await assert.rejects(
      runner.run(model(id, 'image'), { prompt: 'x' }, runContext(new MemoryFiles())),
      (err: GatewayError) => err.code === 'rate_limited' && err.retryable,
    );
    assert.throws(
      () => runner.validate(model(id, 'image'), { prompt: 'x', size: '1000x100' }),
      (err: GatewayError) => err.param === 'input.size',
    );
    assert.throws(
      () => runner.validate(model(id, 'image'), { prompt: 'x', quality: 'hd' }),
      (err: GatewayError) => err.param === 'input.quality',
    );
  });
});
