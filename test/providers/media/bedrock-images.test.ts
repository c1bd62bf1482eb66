import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { GatewayError } from '../../../src/core/errors.ts';
import { solidPng } from '../../../src/providers/demo/media.ts';
import { closeCallContexts } from '../../helpers/call-context.ts';
import { MOCK_BEDROCK_CREDENTIALS, type MockBedrock, startMockBedrock } from '../../mocks/bedrock.ts';
import { BEDROCK_MOCK_PNG } from '../../mocks/bedrock-images.ts';
import { MemoryFiles, mediaRunnerFor, model, noUrlIn, runContext } from './support.ts';

/** Bedrock image models (InvokeModel, SigV4) through the media runner, against the Bedrock mock. */

describe('Bedrock image runner', () => {
  let mock: MockBedrock;
  let runner: ReturnType<typeof mediaRunnerFor>['runner'];
  before(async () => {
    mock = await startMockBedrock();
    ({ runner } = mediaRunnerFor([
      {
        id: 'aws',
        kind: 'bedrock',
        baseUrl: mock.url,
        keys: [
          { key: MOCK_BEDROCK_CREDENTIALS.accessKeyId, secretAccessKey: MOCK_BEDROCK_CREDENTIALS.secretAccessKey },
        ],
        options: { region: mock.region },
      },
    ]));
  });
  after(async () => {
    await mock.close();
    await closeCallContexts();
  });

  it('Nova Canvas: a signed TEXT_IMAGE body, the images stored, priced by size class and quality', async () => {
    const files = new MemoryFiles();
    const result = await runner.run(
      model('aws/amazon.nova-canvas-v1:0', 'image'),
      { prompt: 'a harbour at night', n: 2, size: '1280x720', quality: 'hd' },
      runContext(files),
    );
    const sent = mock.requests.at(-1)!;
    assert.equal(sent.rawPath, `/model/${encodeURIComponent('amazon.nova-canvas-v1:0')}/invoke`);
    assert.equal(sent.auth, 'sigv4');
    assert.deepEqual(sent.body, {
      taskType: 'TEXT_IMAGE',
      textToImageParams: { text: 'a harbour at night' },
      imageGenerationConfig: { numberOfImages: 2, width: 1280, height: 720, quality: 'premium' },
    });
    assert.equal(result.output.files?.length, 2);
    assert.deepEqual(Buffer.from((await files.read('tenant-a', result.output.files![0]!))!.bytes), BEDROCK_MOCK_PNG);
    assert.equal(result.costNanoUsd, 2 * 80_000_000); // premium, up to 2048 px: $0.08
    assert.ok(noUrlIn(result));
    assert.equal(
      runner.estimateNanoUsd(model('aws/amazon.nova-canvas-v1:0', 'image'), { prompt: 'x', size: '512x512' }),
      40_000_000,
    );
  });

  it('an input image makes an IMAGE_VARIATION (Nova) or image-to-image (SD3.5) body', async () => {
    const files = new MemoryFiles();
    const png = await solidPng(4, 4, [7, 7, 7]);
    const image = await files.upload('tenant-a', png, 'image/png');
    await runner.run(
      model('aws/amazon.titan-image-generator-v2:0', 'image'),
      { prompt: 'again', image, size: '512x512' },
      runContext(files),
    );
    const titan = mock.requests.at(-1)!.body as Record<string, Record<string, unknown>>;
    assert.equal(titan['taskType'] as unknown as string, 'IMAGE_VARIATION');
    assert.deepEqual(titan['imageVariationParams'], { text: 'again', images: [Buffer.from(png).toString('base64')] });
    const sd = await runner.run(
      model('aws/stability.sd3-5-large-v1:0', 'image'),
      { prompt: 'again', image },
      runContext(files),
    );
    assert.deepEqual(mock.requests.at(-1)!.body, {
      prompt: 'again',
      output_format: 'png',
      mode: 'image-to-image',
      image: Buffer.from(png).toString('base64'),
      strength: 0.7,
    });
    assert.equal(sd.costNanoUsd, 80_000_000);
  });

  it('Stability: n calls with the aspect ratio; a filtered output and a blocked prompt are content_filtered', async () => {
    const files = new MemoryFiles();
    const before = mock.requests.length;
    const result = await runner.run(
      model('aws/stability.stable-image-ultra-v1:1', 'image'),
      { prompt: 'x', n: 2, size: '1344x768' },
      runContext(files),
    );
    assert.equal(mock.requests.length - before, 2);
    assert.equal((mock.requests.at(-1)!.body as Record<string, unknown>)['aspect_ratio'], '16:9');
    assert.equal(result.costNanoUsd, 2 * 140_000_000);
    await assert.rejects(
      runner.run(
        model('aws/stability.stable-image-core-v1:1', 'image'),
        { prompt: 'a filtered output' },
        runContext(files),
      ),
      (err: GatewayError) => err.code === 'content_filtered',
    );
    await assert.rejects(
      runner.run(model('aws/amazon.nova-canvas-v1:0', 'image'), { prompt: 'forbidden thing' }, runContext(files)),
      (err: GatewayError) => err.code === 'content_filtered' && !err.retryable,
    );
    mock.faults.push({ kind: 'status', status: 429 });
    await assert.rejects(
      runner.run(model('aws/amazon.nova-canvas-v1:0', 'image'), { prompt: 'x' }, runContext(files)),
      (err: GatewayError) => err.code === 'rate_limited' && err.retryable,
    );
    assert.throws(
      () => runner.validate(model('aws/amazon.nova-canvas-v1:0', 'image'), { prompt: 'x', size: '1000x1000' }),
      (err: GatewayError) => err.param === 'input.size',
    );
    assert.throws(
      () => runner.validate(model('aws/stability.stable-image-core-v1:1', 'image'), { prompt: 'x', image: 'file_abc' }),
      (err: GatewayError) => err.param === 'input.image',
    );
  });
});
