import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GatewayError } from '../../../src/core/errors.ts';
import type { UpstreamJob, UpstreamJobStore } from '../../../src/core/execution-contracts.ts';
import { closeCallContexts } from '../../helpers/call-context.ts';
import { MOCK_MEDIA_KEY, type MockOpenAIMedia, startMockOpenAIMedia } from '../../mocks/openai-media.ts';
import { MOCK_REPLICATE_TOKEN, type MockReplicate, startMockReplicate } from '../../mocks/replicate.ts';
import { MemoryFiles, mediaRunnerFor, model, runContext, until } from './support.ts';

/**
 * The media runner's `abandon` (decision 0042): the job an ended execution left on its row is stopped through the
 * adapter's own cancel (OpenAI: DELETE the video; Replicate: cancel the prediction) with the key the job names,
 * found by its id in the current configuration. And a run whose job is recorded durably never cancels it itself when
 * aborted: the execution's terminal write does, once.
 */
class RowStore implements UpstreamJobStore {
  job: UpstreamJob | undefined;
  async load() {
    return this.job;
  }
  async save(job: UpstreamJob) {
    this.job = job;
  }
  async clear() {
    this.job = undefined;
  }
}

const ctx = { executionId: 'exec_abandoned', tenantId: 'tenant-a' };

describe('abandoning the upstream job of an ended execution', () => {
  let openai: MockOpenAIMedia;
  let rep: MockReplicate;
  // The second key is not the mock's: a call with it is refused (401).
  const openaiProvider = () => ({
    id: 'openai',
    kind: 'openai',
    baseUrl: openai.baseUrl,
    keys: [MOCK_MEDIA_KEY, 'sk-x'],
  });
  before(async () => {
    openai = await startMockOpenAIMedia();
    rep = await startMockReplicate();
  });
  after(async () => {
    await openai.close();
    await rep.close();
    await closeCallContexts();
  });

  /**
   * A Sora run that records its job on a row (`store`) and is then aborted (a cancel, a shutdown), as a run whose
   * row the terminal write or another worker takes over; `polled` waits for its first poll before the abort.
   */
  const abortedVideoRun = async (prompt: string, reason: string, polled = false) => {
    openai.pollsToComplete = 1_000_000;
    const store = new RowStore();
    const { runner } = mediaRunnerFor([openaiProvider()]);
    const controller = new AbortController();
    const run = runner.run(
      model('openai/sora-2', 'video'),
      { prompt },
      { ...runContext(new MemoryFiles(), { signal: controller.signal }), upstreamJob: store },
    );
    await until(() => store.job !== undefined && (!polled || (openai.videos.get(store.job.id)?.polls ?? 0) >= 1));
    controller.abort(reason);
    await assert.rejects(run);
    return { runner, store, job: store.job! };
  };

  it('video: an aborted run on a durable record leaves its job running and recorded; abandon deletes it once', async () => {
    // As when a cancel ended the row, or the run's lease went to another worker that resumes the job.
    const { runner, store, job } = await abortedVideoRun('left to the row', 'cancel', true);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(openai.videos.get(job.id)?.deleted, false, 'the aborted run did not delete it');
    assert.deepEqual(store.job, job, 'still recorded, for the terminal write to take');

    await runner.abandon!(job, ctx);
    const deletes = openai.requests.filter((r) => r.method === 'DELETE' && r.path === `/v1/videos/${job.id}`);
    assert.equal(deletes.length, 1);
    assert.equal(deletes[0]!.headers['authorization'], `Bearer ${MOCK_MEDIA_KEY}`, 'with the key that created it');
    assert.equal(openai.videos.get(job.id)?.deleted, true);
    // Already gone: a second abandon (404) is no failure.
    await runner.abandon!(job, ctx);
  });

  it('video: the key is the one the job names: another key of the provider is refused and nothing is deleted', async () => {
    const { runner, job } = await abortedVideoRun('named key', 'shutdown');
    await assert.rejects(
      runner.abandon!({ ...job, key: 'openai#2' }, ctx),
      (err: GatewayError) => err instanceof GatewayError && err.upstreamStatus === 401 && !err.message.includes('sk-x'),
    );
    assert.equal(openai.videos.get(job.id)?.deleted, false);
    await runner.abandon!(job, ctx);
    assert.equal(openai.videos.get(job.id)?.deleted, true);
  });

  it('video: a provider error (500) rejects with a mapped GatewayError that names no secret', async () => {
    const { runner, job } = await abortedVideoRun('refused delete', 'shutdown');
    openai.faultAt.push({
      method: 'DELETE',
      path: /^\/v1\/videos\//,
      answer: { status: 500, body: { error: { message: `boom ${MOCK_MEDIA_KEY}`, type: 'server_error', code: null } } },
    });
    await assert.rejects(
      runner.abandon!(job, ctx),
      (err: GatewayError) =>
        err.code === 'provider_unavailable' && err.upstreamStatus === 500 && !err.message.includes(MOCK_MEDIA_KEY),
    );
    assert.equal(openai.videos.get(job.id)?.deleted, false);
  });

  it('Replicate: abandon cancels the prediction with the token that created it', async () => {
    rep.runMs = 60_000;
    const provider = { id: 'replicate', kind: 'replicate', baseUrl: rep.baseUrl, keys: [MOCK_REPLICATE_TOKEN] };
    const store = new RowStore();
    const { runner } = mediaRunnerFor([provider], { replicateWaitSeconds: 0 });
    const controller = new AbortController();
    const run = runner.run(
      model('replicate/flux-dev', 'image'),
      { prompt: 'cancel me later' },
      { ...runContext(new MemoryFiles(), { signal: controller.signal }), upstreamJob: store },
    );
    await until(() => store.job !== undefined);
    controller.abort('deadline');
    await assert.rejects(run);
    const job = store.job!;
    assert.equal(rep.predictions.get(job.id)?.canceled, false, 'the aborted run left it to the row');
    await runner.abandon!(job, ctx);
    assert.equal(rep.predictions.get(job.id)?.canceled, true);
    const cancels = rep.requests.filter((r) => r.method === 'POST' && r.path === `/v1/predictions/${job.id}/cancel`);
    assert.equal(cancels.length, 1);
  });

  it('a job whose provider, model or key is no longer configured rejects not_found without a call', async () => {
    const { runner } = mediaRunnerFor([openaiProvider()]);
    const before = openai.requests.length;
    const job: UpstreamJob = {
      provider: 'openai',
      model: 'openai/sora-2',
      key: 'openai#9',
      id: 'video_1',
      createdAt: 1,
    };
    for (const gone of [job, { ...job, provider: 'elsewhere' }, { ...job, model: 'openai/nope' }]) {
      await assert.rejects(runner.abandon!(gone, ctx), (err: GatewayError) => err.code === 'not_found');
    }
    assert.equal(openai.requests.length, before);
  });
});
