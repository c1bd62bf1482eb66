import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { GatewayError } from '../../../src/core/errors.ts';
import { solidPng } from '../../../src/providers/demo/media.ts';
import { closeCallContexts } from '../../helpers/call-context.ts';
import {
  MOCK_PREDICT_TIME,
  MOCK_REPLICATE_TOKEN,
  type MockReplicate,
  startMockReplicate,
} from '../../mocks/replicate.ts';
import { MemoryFiles, mediaRunnerFor, model, noUrlIn, runContext } from './support.ts';

/** Replicate's predictions API through the media runner, against the Replicate mock. */

const VERSION = 'a'.repeat(64);

describe('Replicate runner', () => {
  let mock: MockReplicate;
  const provider = () => ({
    id: 'replicate',
    kind: 'replicate',
    baseUrl: mock.baseUrl,
    keys: [MOCK_REPLICATE_TOKEN],
    includeKnownModels: true,
    models: [
      {
        name: 'pinned-model',
        upstreamName: `owner/versioned-model:${VERSION}`,
        mode: 'image',
        mediaPrice: { perSecond: 0.001 },
      },
    ],
  });
  const runnerWith = (settings = {}) => mediaRunnerFor([provider()], settings).runner;
  before(async () => {
    mock = await startMockReplicate();
  });
  beforeEach(() => {
    mock.runMs = 0;
    mock.failWith = undefined;
    mock.outputBytes = undefined;
    mock.deliveryTrickleMs = undefined;
  });
  after(async () => {
    await mock.close();
    await closeCallContexts();
  });

  it('flux-1.1-pro: one call with Prefer: wait; the output fetched from the delivery host without the token; $0.04 an image', async () => {
    const runner = runnerWith();
    const files = new MemoryFiles();
    const result = await runner.run(
      model('replicate/flux-1.1-pro', 'image'),
      { prompt: 'a cat', size: '1344x768' },
      runContext(files),
    );
    const create = mock.requests.at(-1)!;
    assert.equal(create.path, '/v1/models/black-forest-labs/flux-1.1-pro/predictions');
    assert.equal(create.headers['prefer'], 'wait=60');
    assert.equal(create.headers['authorization'], `Bearer ${MOCK_REPLICATE_TOKEN}`);
    assert.deepEqual(create.json, { input: { prompt: 'a cat', aspect_ratio: '16:9' } });
    const download = mock.delivery.requests.at(-1)!;
    assert.equal(download.headers['authorization'], undefined, 'the token stays with the API host');
    const stored = await files.read('tenant-a', result.output.files![0]!);
    assert.equal(stored?.meta.contentType, 'image/png');
    assert.deepEqual(result.usage, { images: 1, seconds: MOCK_PREDICT_TIME });
    assert.equal(result.costNanoUsd, 40_000_000);
    assert.ok(noUrlIn(result));
    assert.ok(!JSON.stringify(result).includes(mock.delivery.url.replace('http://', '')));
  });

  it('a slow prediction is polled until it succeeds; num_outputs gives several files; a pinned version goes to /v1/predictions', async () => {
    mock.runMs = 1_300;
    const runner = runnerWith({ replicateWaitSeconds: 1 });
    const files = new MemoryFiles();
    const result = await runner.run(
      model('replicate/flux-schnell', 'image'),
      { prompt: 'dogs', n: 3 },
      runContext(files),
    );
    const polls = mock.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/v1/predictions/'));
    assert.ok(polls.length >= 1, 'polled');
    assert.equal(result.output.files?.length, 3);
    assert.equal(result.costNanoUsd, 3 * 3_000_000); // $0.003 an image
    mock.runMs = 0;
    const pinned = await runner.run(
      model('replicate/pinned-model', 'image'),
      { prompt: 'x', size: '1000x700' },
      runContext(files),
    );
    const create = mock.requests.at(-1)!;
    assert.equal(create.path, '/v1/predictions');
    assert.deepEqual(create.json, {
      version: VERSION,
      input: { prompt: 'x', aspect_ratio: 'custom', width: 1000, height: 700 },
    });
    // Per second of Replicate's run time.
    assert.equal(pinned.costNanoUsd, MOCK_PREDICT_TIME * 1_000_000);
  });

  it('an input image goes up as a data URL (image_prompt for FLUX 1.1 Pro)', async () => {
    const runner = runnerWith();
    const files = new MemoryFiles();
    const png = await solidPng(2, 2, [1, 1, 1]);
    const image = await files.upload('tenant-a', png, 'image/png');
    await runner.run(model('replicate/flux-1.1-pro', 'image'), { prompt: 'x', image }, runContext(files));
    assert.equal(
      (mock.requests.at(-1)!.json!['input'] as Record<string, unknown>)['image_prompt'],
      `data:image/png;base64,${Buffer.from(png).toString('base64')}`,
    );
  });

  it('a cancel mid-poll ends the run at once and cancels the prediction upstream', async () => {
    mock.runMs = 60_000;
    const runner = runnerWith({ replicateWaitSeconds: 1 });
    const files = new MemoryFiles();
    const controller = new AbortController();
    const run = runner.run(
      model('replicate/flux-dev', 'image'),
      { prompt: 'slow' },
      runContext(files, { signal: controller.signal }),
    );
    const pollsOf = () =>
      mock.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/v1/predictions/')).length;
    const before = pollsOf();
    while (pollsOf() < before + 2) await new Promise((r) => setTimeout(r, 5));
    const abortedAt = Date.now();
    controller.abort();
    await assert.rejects(run, (err: GatewayError) => err.code === 'timeout');
    assert.ok(Date.now() - abortedAt < 500);
    const prediction = [...mock.predictions.values()].at(-1)!;
    for (let i = 0; i < 100 && !prediction.canceled; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(prediction.canceled, true);
    assert.equal(files.outputs().length, 0);
  });

  it('a retry after a failed poll or a failed download resumes the same prediction', async () => {
    mock.runMs = 1_100;
    const runner = runnerWith({ replicateWaitSeconds: 1, maxOutputBytes: 1024 * 1024 });
    const files = new MemoryFiles();
    const executionId = 'exec_resume_prediction';
    const creates = () => mock.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/predictions')).length;
    const before = creates();
    const unavailable = { status: 503, body: { title: 'Service Unavailable', detail: 'try again', status: 503 } };
    // Attempt 1: created, then a poll fails.
    mock.faultAt.push({ method: 'GET', path: /^\/v1\/predictions\/\w+$/, answer: unavailable });
    await assert.rejects(
      runner.run(model('replicate/flux-dev', 'image'), { prompt: 'again' }, runContext(files, { executionId })),
      (err: GatewayError) => err.code === 'provider_unavailable' && err.retryable,
    );
    // Attempt 2: the same prediction, its output too big to download.
    mock.outputBytes = new Uint8Array(2 * 1024 * 1024);
    await assert.rejects(
      runner.run(
        model('replicate/flux-dev', 'image'),
        { prompt: 'again' },
        runContext(files, { executionId, attempt: 2 }),
      ),
      (err: GatewayError) => err.code === 'provider_unavailable' && /larger than/.test(err.message),
    );
    mock.outputBytes = undefined;
    // Attempt 3: downloaded; one prediction in all.
    const result = await runner.run(
      model('replicate/flux-dev', 'image'),
      { prompt: 'again' },
      runContext(files, { executionId, attempt: 3 }),
    );
    assert.equal(creates(), before + 1);
    assert.equal(result.output.files?.length, 1);
    assert.equal(files.outputs().length, 1);
  });

  it('an output over the size cap, or one that downloads too slowly, fails cleanly and retryably with nothing stored', async () => {
    const files = new MemoryFiles();
    mock.outputBytes = new Uint8Array(2 * 1024 * 1024);
    await assert.rejects(
      runnerWith({ maxOutputBytes: 1024 * 1024 }).run(
        model('replicate/flux-dev', 'image'),
        { prompt: 'x' },
        runContext(files),
      ),
      (err: GatewayError) =>
        err.code === 'provider_unavailable' && err.retryable && /larger than 1048576 bytes/.test(err.message),
    );
    mock.outputBytes = undefined;
    mock.deliveryTrickleMs = 40;
    const started = Date.now();
    await assert.rejects(
      runnerWith({ outputFetchMs: 300 }).run(model('replicate/flux-dev', 'image'), { prompt: 'x' }, runContext(files)),
      (err: GatewayError) => err.code === 'timeout' && err.retryable,
    );
    assert.ok(Date.now() - started < 2_000);
    assert.equal(files.outputs().length, 0);
  });

  it('failures map to the 12 codes: NSFW, a crashed prediction, 422, 401, 429, 404', async () => {
    const runner = runnerWith();
    const run = () => runner.run(model('replicate/flux-dev', 'image'), { prompt: 'x' }, runContext(new MemoryFiles()));
    const expect = async (code: string, retryable: boolean) =>
      assert.rejects(run(), (err: GatewayError) => {
        assert.equal(err.code, code);
        assert.equal(err.retryable, retryable);
        return true;
      });
    mock.failWith = 'NSFW content detected. Try running it again, or try a different prompt.';
    await expect('content_filtered', false);
    mock.failWith = `CUDA out of memory (token ${MOCK_REPLICATE_TOKEN})`;
    await assert.rejects(run(), (err: GatewayError) => {
      assert.equal(err.code, 'provider_unavailable');
      assert.ok(err.retryable);
      assert.ok(!err.message.includes(MOCK_REPLICATE_TOKEN), 'the token is scrubbed from the upstream message');
      return true;
    });
    mock.failWith = undefined;
    const problem = (status: number, title: string, detail: string, headers: Record<string, string> = {}) =>
      mock.faults.push({
        status,
        body: { title, detail, status },
        headers: { 'content-type': 'application/problem+json', ...headers },
      });
    problem(422, 'Input validation failed', '- input.num_outputs: Must be less than or equal to 4');
    await expect('invalid_request', false);
    problem(401, 'Unauthenticated', 'You did not pass a valid authentication token');
    await expect('authentication_failed', false);
    problem(429, 'Request was throttled.', 'Request was throttled. Expected available in 1 second.', {
      'retry-after': '1',
    });
    await expect('rate_limited', true);
    problem(404, 'Not found', 'The requested resource could not be found.');
    await expect('not_found', false);
    problem(502, 'Bad gateway', 'upstream');
    await expect('provider_unavailable', true);
  });

  it('media-only: not a chat model, speech refused, and the catalog lists it as an image model', () => {
    const { catalog, runner } = mediaRunnerFor([provider()]);
    assert.equal(catalog.byId.get('replicate/flux-1.1-pro')?.mode, 'image');
    assert.equal(catalog.byId.get('replicate/flux-1.1-pro')?.upstreamName, 'black-forest-labs/flux-1.1-pro');
    assert.throws(
      () => runner.validate(model('replicate/flux-dev', 'speech'), { input: 'x', voice: 'v' }),
      (err: GatewayError) => err.param === 'model',
    );
    assert.equal(runner.estimateNanoUsd(model('replicate/flux-dev', 'image'), { prompt: 'x', n: 4 }), 100_000_000);
    // A per-second model is held at ten minutes of run time.
    assert.equal(runner.estimateNanoUsd(model('replicate/pinned-model', 'image'), { prompt: 'x' }), 600_000_000);
  });
});
