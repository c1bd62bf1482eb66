import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { GatewayError } from '../../../src/core/errors.ts';
import { solidPng, toneWav } from '../../../src/providers/demo/media.ts';
import { closeCallContexts } from '../../helpers/call-context.ts';
import {
  AZURE_CONTENT_FILTER,
  AZURE_RATE_LIMITED,
  GPT_IMAGE_TOKENS,
  MOCK_AZURE_KEY,
  type MockOpenAIMedia,
  RECORDED_TRANSCRIPTION,
  startMockOpenAIMedia,
} from '../../mocks/openai-media.ts';
import { azureMediaProvider, MemoryFiles, mediaRunnerFor, model, noUrlIn, runContext } from './support.ts';

/**
 * The OpenAI media adapters on the `azure` kind, against the mock's Azure resource: each model is configured by
 * the OpenAI model it deploys (`name`) and its deployment (`upstreamName`); images and audio go to the deployment's
 * path with the media api-version, Sora 2 to the v1 videos API; the key travels as `api-key` only.
 */

describe('OpenAI media adapters on Azure OpenAI', () => {
  let mock: MockOpenAIMedia;
  let runner: ReturnType<typeof mediaRunnerFor>['runner'];
  before(async () => {
    mock = await startMockOpenAIMedia();
    ({ runner } = mediaRunnerFor([azureMediaProvider(mock)], { pollIntervalMs: 1 }));
  });
  after(async () => {
    await mock.close();
    await closeCallContexts();
  });

  const last = () => mock.requests.at(-1)!;
  const onlyApiKey = () => {
    assert.equal(last().headers['api-key'], MOCK_AZURE_KEY);
    assert.equal(last().headers['authorization'], undefined, 'no Authorization header');
  };

  it('gpt-image-1 on its deployment: the deployment path at 2025-04-01-preview, the api-key header, priced by the library by its model name', async () => {
    const files = new MemoryFiles();
    const result = await runner.run(
      model('azure/gpt-image-1', 'image'),
      { prompt: 'a red fox in snow', size: '1024x1024', quality: 'low' },
      runContext(files),
    );
    assert.equal(last().path, '/openai/deployments/art-gpt-image/images/generations?api-version=2025-04-01-preview');
    onlyApiKey();
    assert.equal(last().json!['response_format'], undefined, 'gpt-image-1 refuses response_format');
    const stored = await files.read('tenant-a', result.output.files![0]!);
    assert.deepEqual([...stored!.bytes.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    const out = GPT_IMAGE_TOKENS['low']!['1024x1024']!;
    assert.equal(result.costNanoUsd, 5 * 5 * 1000 + out * 40 * 1000);
    assert.equal(result.servedBy, 'azure/gpt-image-1');
    assert.ok(noUrlIn(result));
  });

  it('dall-e-3 on a deployment named otherwise is still DALL·E 3: b64_json asked, one image, its revised prompt; an edit of gpt-image-1 is multipart', async () => {
    const files = new MemoryFiles();
    const result = await runner.run(
      model('azure/dall-e-3', 'image'),
      { prompt: 'an otter', quality: 'hd' },
      runContext(files),
    );
    assert.equal(last().path, '/openai/deployments/art-dalle3/images/generations?api-version=2025-04-01-preview');
    assert.equal(last().json!['response_format'], 'b64_json');
    assert.equal(typeof result.output.data?.['revised_prompt'], 'string');
    assert.equal(result.costNanoUsd, 80_000_000);
    assert.throws(
      () => runner.validate(model('azure/dall-e-3', 'image'), { prompt: 'x', n: 2 }),
      (err: GatewayError) => err.param === 'input.n',
    );
    const id = await files.upload('tenant-a', await solidPng(8, 8, [1, 2, 3]), 'image/png', 'in.png');
    await runner.run(model('azure/gpt-image-1', 'image'), { prompt: 'add a hat', image: id }, runContext(files));
    assert.equal(last().path, '/openai/deployments/art-gpt-image/images/edits?api-version=2025-04-01-preview');
    assert.equal((last().form!['image'] as { type: string }).type, 'image/png');
    onlyApiKey();
  });

  it('speech and transcriptions on their deployments; whisper is known by its model name (verbose_json, seconds)', async () => {
    const files = new MemoryFiles();
    const speech = await runner.run(
      model('azure/tts-1', 'speech'),
      { input: 'Hello from Azure.', voice: 'alloy', format: 'wav' },
      runContext(files),
    );
    assert.equal(last().path, '/openai/deployments/voice-tts/audio/speech?api-version=2025-04-01-preview');
    onlyApiKey();
    assert.equal((await files.read('tenant-a', speech.output.files![0]!))?.meta.contentType, 'audio/wav');
    assert.equal(speech.costNanoUsd, 'Hello from Azure.'.length * 15 * 1000);
    const audio = await files.upload('tenant-a', toneWav(0.5, 300), 'audio/wav', 'call.wav');
    const whisper = await runner.run(model('azure/whisper-1', 'transcription'), { file: audio }, runContext(files));
    assert.equal(last().path, '/openai/deployments/ears-whisper/audio/transcriptions?api-version=2025-04-01-preview');
    assert.equal(last().form!['response_format'], 'verbose_json');
    assert.equal(whisper.output.text, RECORDED_TRANSCRIPTION['text']);
    assert.deepEqual(whisper.usage, { seconds: 37 });
    assert.equal(whisper.costNanoUsd, 3_700_000);
    const tokens = await runner.run(
      model('azure/gpt-4o-transcribe', 'transcription'),
      { file: audio },
      runContext(files),
    );
    assert.equal(last().form!['response_format'], 'json');
    assert.ok((tokens.usage.outputTokens ?? 0) > 0);
  });

  it('sora-2: the v1 videos API with the deployment as model, polled and downloaded there', async () => {
    mock.pollsToComplete = 2;
    const files = new MemoryFiles();
    const result = await runner.run(
      model('azure/sora-2', 'video'),
      { prompt: 'waves at dawn', duration: 4, size: '1280x720' },
      runContext(files),
    );
    const create = mock.requests.find((r) => r.method === 'POST' && r.path.startsWith('/openai/v1/videos'))!;
    assert.equal(create.path, '/openai/v1/videos?api-version=preview');
    assert.equal(create.form!['model'], 'sora-2', 'the mock ran the deployment’s model');
    assert.equal(create.headers['api-key'], MOCK_AZURE_KEY);
    assert.equal(create.headers['authorization'], undefined);
    const video = [...mock.videos.values()].at(-1)!;
    assert.ok(mock.requests.some((r) => r.path === `/openai/v1/videos/${video.id}/content?api-version=preview`));
    assert.equal((await files.read('tenant-a', result.output.files![0]!))?.meta.contentType, 'video/mp4');
    assert.equal(result.costNanoUsd, 400_000_000);
    assert.ok(!JSON.stringify(result).includes(video.id));
  });

  it('options.mediaApiVersion chooses the media api-version; options.apiVersion (chat’s) does not', async () => {
    const { runner: pinned } = mediaRunnerFor(
      [azureMediaProvider(mock, { apiVersion: '2024-10-21', mediaApiVersion: '2025-04-01-preview' })],
      { pollIntervalMs: 1 },
    );
    await pinned.run(model('azure/dall-e-3', 'image'), { prompt: 'x' }, runContext(new MemoryFiles()));
    assert.equal(last().path, '/openai/deployments/art-dalle3/images/generations?api-version=2025-04-01-preview');
    const { runner: old } = mediaRunnerFor([azureMediaProvider(mock, { mediaApiVersion: '2024-10-21' })]);
    // The GA 2024-10-21 has no speech: Azure's 404, which names no URL.
    await assert.rejects(
      old.run(model('azure/tts-1', 'speech'), { input: 'x', voice: 'alloy' }, runContext(new MemoryFiles())),
      (err: GatewayError) => err.code === 'not_found' && !err.message.includes(mock.azureEndpoint),
    );
  });

  it('Azure’s errors: content filter → content_filtered (final), 429 → rate_limited with retry-after, a wrong key → authentication_failed; no key or URL in a message', async () => {
    const run = (input: object = { prompt: 'x' }) =>
      runner.run(model('azure/gpt-image-1', 'image'), input, runContext(new MemoryFiles()));
    mock.faults.push(AZURE_CONTENT_FILTER);
    await assert.rejects(run(), (err: GatewayError) => {
      assert.equal(err.code, 'content_filtered');
      assert.equal(err.retryable, false);
      assert.match(err.message, /safety system/);
      return true;
    });
    mock.faults.push(AZURE_RATE_LIMITED);
    await assert.rejects(run(), (err: GatewayError) => {
      assert.equal(err.code, 'rate_limited');
      assert.equal(err.retryable, true);
      assert.equal(err.retryAfter, 7);
      return true;
    });
    const { runner: wrong } = mediaRunnerFor([
      { ...azureMediaProvider(mock), keys: ['0000aaaa0000aaaa0000aaaa0000aaaa'] },
    ]);
    await assert.rejects(
      wrong.run(model('azure/gpt-image-1', 'image'), { prompt: 'x' }, runContext(new MemoryFiles())),
      (err: GatewayError) =>
        err.code === 'authentication_failed' &&
        !err.message.includes(MOCK_AZURE_KEY) &&
        !err.message.includes(mock.azureEndpoint),
    );
  });
});
