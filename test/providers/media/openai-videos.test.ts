import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { GatewayError } from '../../../src/core/errors.ts';
import { solidPng } from '../../../src/providers/demo/media.ts';
import { closeCallContexts } from '../../helpers/call-context.ts';
import { MOCK_MEDIA_KEY, type MockOpenAIMedia, startMockOpenAIMedia } from '../../mocks/openai-media.ts';
import { MemoryFiles, mediaRunnerFor, model, noUrlIn, runContext } from './support.ts';

/** OpenAI's videos API (a long-running job) through the media runner, against the OpenAI media mock. */

describe('OpenAI videos runner', () => {
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

  it('creates the job (multipart), polls it to completed, downloads the MP4 and stores it; cost per second', async () => {
    mock.pollsToComplete = 3;
    mock.failWith = undefined;
    const files = new MemoryFiles();
    const frame = await solidPng(16, 9, [9, 9, 9]);
    const image = await files.upload('tenant-a', frame, 'image/png', 'first.png');
    const result = await runner.run(
      model('openai/sora-2', 'video'),
      { prompt: 'waves at dawn', duration: 8, size: '1280x720', image },
      runContext(files),
    );
    const create = mock.requests.find((r) => r.path === '/v1/videos' && r.method === 'POST')!;
    assert.deepEqual(
      [create.form!['model'], create.form!['prompt'], create.form!['seconds'], create.form!['size']],
      ['sora-2', 'waves at dawn', '8', '1280x720'],
    );
    const reference = create.form!['input_reference'] as { type: string; bytes: Uint8Array };
    assert.equal(reference.type, 'image/png');
    assert.equal(reference.bytes.byteLength, frame.byteLength);
    const video = [...mock.videos.values()].at(-1)!;
    assert.equal(video.polls, 3);
    assert.equal(mock.requests.filter((r) => r.path === `/v1/videos/${video.id}/content`).length, 1);
    const stored = await files.read('tenant-a', result.output.files![0]!);
    assert.equal(stored?.meta.contentType, 'video/mp4');
    assert.match(stored!.meta.filename!, /\.mp4$/);
    assert.deepEqual(result.usage, { seconds: 8 });
    assert.equal(result.costNanoUsd, 800_000_000); // $0.10 a second
    assert.ok(noUrlIn(result));
    assert.ok(!JSON.stringify(result).includes(video.id), 'the provider’s job id stays inside');
  });

  it('sora-2-pro costs by size; the hold covers the duration asked (or 4 seconds, OpenAI’s default)', () => {
    assert.equal(
      runner.estimateNanoUsd(model('openai/sora-2-pro', 'video'), { prompt: 'x', duration: 12, size: '1792x1024' }),
      6_000_000_000,
    );
    assert.equal(
      runner.estimateNanoUsd(model('openai/sora-2-pro', 'video'), { prompt: 'x', duration: 4, size: '1280x720' }),
      1_200_000_000,
    );
    assert.equal(runner.estimateNanoUsd(model('openai/sora-2', 'video'), { prompt: 'x' }), 400_000_000);
    assert.throws(
      () => runner.validate(model('openai/sora-2', 'video'), { prompt: 'x', duration: 5 }),
      (err: GatewayError) => err.param === 'input.duration',
    );
    assert.throws(
      () => runner.validate(model('openai/sora-2', 'video'), { prompt: 'x', size: '640x480' }),
      (err: GatewayError) => err.param === 'input.size',
    );
  });

  it('a cancel mid-poll ends the run at once, deletes the job upstream and stores nothing', async () => {
    mock.pollsToComplete = 1_000_000;
    const files = new MemoryFiles();
    const controller = new AbortController();
    const started = Date.now();
    const run = runner.run(
      model('openai/sora-2', 'video'),
      { prompt: 'long one' },
      runContext(files, { signal: controller.signal }),
    );
    while (
      ([...mock.videos.values()].at(-1)?.polls ?? 0) < 3 ||
      [...mock.videos.values()].at(-1)!.prompt !== 'long one'
    ) {
      await new Promise((r) => setTimeout(r, 5));
    }
    controller.abort();
    await assert.rejects(run, (err: GatewayError) => err.code === 'timeout');
    assert.ok(Date.now() - started < 2_000);
    const video = [...mock.videos.values()].at(-1)!;
    for (let i = 0; i < 100 && !video.deleted; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(video.deleted, true);
    const polls = video.polls;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(video.polls, polls, 'no poll after the cancel');
    assert.equal(files.outputs().length, 0);
  });

  it('a retry after a failed poll or a failed download resumes the same job instead of paying for a new one', async () => {
    mock.pollsToComplete = 2;
    mock.failWith = undefined;
    const files = new MemoryFiles();
    const creates = () => mock.requests.filter((r) => r.method === 'POST' && r.path === '/v1/videos').length;
    const before = creates();
    const executionId = 'exec_resume_video';
    const overloaded = { status: 503, body: { error: { message: 'overloaded', type: 'server_error' } } };
    // Attempt 1: created, then its first poll fails.
    mock.faultAt.push({ method: 'GET', path: /^\/v1\/videos\/video_\d+$/, answer: overloaded });
    await assert.rejects(
      runner.run(model('openai/sora-2', 'video'), { prompt: 'resume me' }, runContext(files, { executionId })),
      (err: GatewayError) => err.code === 'provider_unavailable' && err.retryable,
    );
    const job = [...mock.videos.values()].at(-1)!;
    // Attempt 2: the same job, polled to the end; its download fails.
    mock.faultAt.push({ method: 'GET', path: /\/content$/, answer: overloaded });
    await assert.rejects(
      runner.run(
        model('openai/sora-2', 'video'),
        { prompt: 'resume me' },
        runContext(files, { executionId, attempt: 2 }),
      ),
      (err: GatewayError) => err.code === 'provider_unavailable',
    );
    assert.equal(job.status, 'completed');
    const polls = job.polls;
    // Attempt 3: the finished job is looked at once and its video downloaded; still one job.
    const result = await runner.run(
      model('openai/sora-2', 'video'),
      { prompt: 'resume me' },
      runContext(files, { executionId, attempt: 3 }),
    );
    assert.equal(creates(), before + 1);
    assert.equal(job.polls, polls + 1);
    assert.equal((await files.read('tenant-a', result.output.files![0]!))?.meta.contentType, 'video/mp4');
    // Done: a later run under the same execution id starts afresh.
    await runner.run(
      model('openai/sora-2', 'video'),
      { prompt: 'resume me' },
      runContext(files, { executionId, attempt: 4 }),
    );
    assert.equal(creates(), before + 2);
  });

  it('a job that fails on moderation is content_filtered; any other failure is retryable', async () => {
    mock.pollsToComplete = 1;
    mock.failWith = { code: 'moderation_blocked', message: 'Your request was blocked by our moderation system.' };
    await assert.rejects(
      runner.run(model('openai/sora-2', 'video'), { prompt: 'x' }, runContext(new MemoryFiles())),
      (err: GatewayError) => err.code === 'content_filtered' && !err.retryable,
    );
    mock.failWith = { code: 'internal_error', message: 'Video generation failed.' };
    await assert.rejects(
      runner.run(model('openai/sora-2', 'video'), { prompt: 'x' }, runContext(new MemoryFiles())),
      (err: GatewayError) =>
        err.code === 'provider_unavailable' && err.retryable && /Video generation failed/.test(err.message),
    );
    mock.failWith = undefined;
  });
});
