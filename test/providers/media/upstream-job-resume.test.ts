import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { GatewayError } from '../../../src/core/errors.ts';
import type { UpstreamJob, UpstreamJobStore } from '../../../src/core/execution-contracts.ts';
import { closeCallContexts } from '../../helpers/call-context.ts';
import { MOCK_MEDIA_KEY, type MockOpenAIMedia, startMockOpenAIMedia } from '../../mocks/openai-media.ts';
import { MOCK_REPLICATE_TOKEN, type MockReplicate, startMockReplicate } from '../../mocks/replicate.ts';
import { MemoryFiles, mediaRunnerFor, model, runContext, until } from './support.ts';

/**
 * Resuming a recorded upstream job (decision 0038) at the runner's seam: the store stands for the execution's row
 * (the worker's durable store), a new runner for a restarted process (its memory is empty). A job recorded before
 * the crash is polled with the key that created it, and never created twice; a recorded job that is gone or failed
 * upstream follows the normal rules; a job that cannot be recorded is cancelled upstream.
 */
class RowStore implements UpstreamJobStore {
  job: UpstreamJob | undefined;
  saves = 0;
  failSave = false;
  async load() {
    return this.job;
  }
  async save(job: UpstreamJob) {
    if (this.failSave) throw new Error('lease lost');
    this.saves++;
    this.job = job;
  }
  async clear() {
    this.job = undefined;
  }
}

const shutdown = () => {
  const controller = new AbortController();
  return { controller, stop: () => controller.abort('shutdown') };
};

describe('resuming a recorded upstream job after a restart', () => {
  let openai: MockOpenAIMedia;
  let rep: MockReplicate;
  // The second key is not the mock's: a run on it would be refused (401), so success proves the first key polled.
  const openaiProvider = () => ({
    id: 'openai',
    kind: 'openai',
    baseUrl: openai.baseUrl,
    keys: [MOCK_MEDIA_KEY, 'sk-x'],
  });
  const videoCreates = () => openai.requests.filter((r) => r.method === 'POST' && r.path === '/v1/videos').length;
  before(async () => {
    openai = await startMockOpenAIMedia();
    rep = await startMockReplicate();
  });
  after(async () => {
    await openai.close();
    await rep.close();
    await closeCallContexts();
  });

  it('video: the job recorded before the crash is polled by the next process with its key; one creation', async () => {
    openai.pollsToComplete = 1_000_000;
    openai.failWith = undefined;
    const store = new RowStore();
    const files = new MemoryFiles();
    const before = videoCreates();
    const first = mediaRunnerFor([openaiProvider()]).runner;
    const { controller, stop } = shutdown();
    const run = first.run(
      model('openai/sora-2', 'video'),
      { prompt: 'survive a crash' },
      { ...runContext(files, { executionId: 'exec_resume_a', signal: controller.signal }), upstreamJob: store },
    );
    await until(() => store.job !== undefined && (openai.videos.get(store.job.id)?.polls ?? 0) >= 1);
    assert.deepEqual(
      { provider: store.job!.provider, model: store.job!.model, key: store.job!.key },
      { provider: 'openai', model: 'openai/sora-2', key: 'openai#1' },
    );
    assert.ok(!JSON.stringify(store.job).includes(MOCK_MEDIA_KEY), 'the key’s id is recorded, not its secret');
    stop();
    await assert.rejects(run);
    const video = openai.videos.get(store.job!.id)!;
    assert.equal(video.deleted, false, 'a shutdown leaves the recorded job running for the next run');
    assert.ok(store.job, 'still recorded');

    // The restarted process: a new runner, attempt 2 (which would pick the second key), the same row.
    openai.pollsToComplete = video.polls + 1;
    const second = mediaRunnerFor([openaiProvider()]).runner;
    const result = await second.run(
      model('openai/sora-2', 'video'),
      { prompt: 'survive a crash' },
      { ...runContext(files, { executionId: 'exec_resume_a', attempt: 2 }), upstreamJob: store },
    );
    assert.equal(videoCreates(), before + 1, 'the upstream saw one creation');
    assert.equal(store.saves, 1);
    assert.equal(video.status, 'completed');
    assert.equal((await files.read('tenant-a', result.output.files![0]!))?.meta.contentType, 'video/mp4');
  });

  it('video: a recorded job gone upstream (404) is replaced by a new one, recorded in its place', async () => {
    openai.pollsToComplete = 1;
    const store = new RowStore();
    store.job = { provider: 'openai', model: 'openai/sora-2', key: 'openai#1', id: 'video_999999', createdAt: 1 };
    const before = videoCreates();
    const runner = mediaRunnerFor([openaiProvider()]).runner;
    await runner.run(
      model('openai/sora-2', 'video'),
      { prompt: 'gone' },
      { ...runContext(new MemoryFiles(), { attempt: 1 }), upstreamJob: store },
    );
    assert.equal(videoCreates(), before + 1);
    assert.notEqual(store.job?.id, 'video_999999');
  });

  it('video: a recorded job that failed upstream is forgotten and the run fails retryably; the next run creates one', async () => {
    openai.pollsToComplete = 1_000_000;
    const store = new RowStore();
    const files = new MemoryFiles();
    const runner = mediaRunnerFor([openaiProvider()]).runner;
    const { controller, stop } = shutdown();
    const run = runner.run(
      model('openai/sora-2', 'video'),
      { prompt: 'fails later' },
      { ...runContext(files, { signal: controller.signal }), upstreamJob: store },
    );
    await until(() => store.job !== undefined);
    stop();
    await assert.rejects(run);
    const before = videoCreates();
    openai.pollsToComplete = 0;
    openai.failWith = { code: 'internal_error', message: 'Video generation failed.' };
    const ctx = { ...runContext(files, { attempt: 2 }), upstreamJob: store };
    await assert.rejects(
      runner.run(model('openai/sora-2', 'video'), { prompt: 'fails later' }, ctx),
      (err: GatewayError) => err.code === 'provider_unavailable' && err.retryable,
    );
    assert.equal(videoCreates(), before, 'the recorded job was polled, not replaced');
    assert.equal(store.job, undefined, 'and forgotten');
    openai.failWith = undefined;
    openai.pollsToComplete = 1;
    await runner.run(model('openai/sora-2', 'video'), { prompt: 'fails later' }, { ...ctx, attempt: 3 });
    assert.equal(videoCreates(), before + 1);
  });

  it('video: a job that cannot be recorded is deleted upstream and the run fails retryably before any poll', async () => {
    openai.pollsToComplete = 1_000_000;
    const store = new RowStore();
    store.failSave = true;
    const runner = mediaRunnerFor([openaiProvider()]).runner;
    await assert.rejects(
      runner.run(
        model('openai/sora-2', 'video'),
        { prompt: 'unrecorded' },
        {
          ...runContext(new MemoryFiles()),
          upstreamJob: store,
        },
      ),
      (err: GatewayError) => err.code === 'internal_error' && err.retryable,
    );
    const video = [...openai.videos.values()].at(-1)!;
    assert.equal(video.prompt, 'unrecorded');
    await until(() => video.deleted);
    assert.equal(video.polls, 0);
  });

  it('Replicate: the prediction recorded before the crash is polled by the next process; one creation', async () => {
    rep.runMs = 60_000;
    const provider = { id: 'replicate', kind: 'replicate', baseUrl: rep.baseUrl, keys: [MOCK_REPLICATE_TOKEN] };
    const creates = () => rep.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/predictions')).length;
    const before = creates();
    const store = new RowStore();
    const files = new MemoryFiles();
    const first = mediaRunnerFor([provider], { replicateWaitSeconds: 0 }).runner;
    const { controller, stop } = shutdown();
    const run = first.run(
      model('replicate/flux-dev', 'image'),
      { prompt: 'again after a crash' },
      { ...runContext(files, { signal: controller.signal }), upstreamJob: store },
    );
    await until(() => store.job !== undefined && (rep.predictions.get(store.job.id)?.polls ?? 0) >= 1);
    stop();
    await assert.rejects(run);
    const prediction = rep.predictions.get(store.job!.id)!;
    assert.equal(prediction.canceled, false);
    rep.runMs = 0;
    const second = mediaRunnerFor([provider], { replicateWaitSeconds: 0 }).runner;
    const result = await second.run(
      model('replicate/flux-dev', 'image'),
      { prompt: 'again after a crash' },
      { ...runContext(files, { attempt: 2 }), upstreamJob: store },
    );
    assert.equal(creates(), before + 1);
    assert.equal(result.output.files?.length, 1);
  });
});
