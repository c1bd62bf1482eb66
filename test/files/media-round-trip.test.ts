import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import OpenAI, { NotFoundError, toFile } from 'openai';
import { solidPng } from '../../src/providers/demo/media.ts';
import { closeCallContexts } from '../helpers/call-context.ts';
import { startGateway, TEST_API_KEY, type TestGateway } from '../helpers/gateway.ts';
import { MOCK_MEDIA_KEY, type MockOpenAIMedia, startMockOpenAIMedia } from '../mocks/openai-media.ts';
import { mediaRunnerFor, model, runContext } from '../providers/media/support.ts';
import { filesUnder } from './helpers.ts';

/**
 * The file store as the executions' media runners use it (the ExecutionFiles seam), end to end without the
 * execution queue: an image uploaded through `POST /v1/files` with the official SDK is read by the OpenAI
 * Images runner (edits, against the OpenAI media mock), its output is stored as the tenant's
 * `execution_output` file and downloaded through `/v1/files/{id}/content`; another tenant's runner cannot read
 * the input.
 */
describe('files ↔ media runner', () => {
  let mock: MockOpenAIMedia;
  let gw: TestGateway;
  let root: string;
  let runner: ReturnType<typeof mediaRunnerFor>['runner'];

  before(async () => {
    mock = await startMockOpenAIMedia();
    ({ runner } = mediaRunnerFor([{ id: 'openai', kind: 'openai', baseUrl: mock.baseUrl, keys: [MOCK_MEDIA_KEY] }]));
    root = mkdtempSync(join(tmpdir(), 'modro-files-media-'));
    gw = await startGateway({ files: { root } });
  });
  after(async () => {
    await gw?.close();
    await mock?.close();
    await closeCallContexts();
    rmSync(root, { recursive: true, force: true });
  });

  test('upload → image edit reads it → output stored → downloaded by id', async () => {
    const client = new OpenAI({ baseURL: gw.baseURL, apiKey: TEST_API_KEY, maxRetries: 0 });
    const png = Buffer.from(await solidPng(8, 8, [200, 30, 30]));
    const input = await client.files.create({
      file: await toFile(png, 'photo.png'),
      purpose: 'execution_input' as 'user_data',
    });
    const { tenantId: tenant } = await gw.runtime.pipeline.authenticate({ authorization: `Bearer ${TEST_API_KEY}` });
    const result = await runner.run(
      model('openai/gpt-image-1', 'image'),
      { prompt: 'add a hat', image: input.id, size: '1024x1024', quality: 'medium' },
      runContext(gw.runtime.files, { tenantId: tenant }),
    );
    assert.equal(mock.requests.at(-1)?.path, '/v1/images/edits');
    const [outputId] = result.output.files ?? [];
    assert.ok(outputId, JSON.stringify(result.output));
    const meta = await client.files.retrieve(outputId);
    assert.equal(meta.purpose, 'execution_output');
    assert.ok(meta.expires_at, 'outputs expire (30 days by default)');
    const content = await client.files.content(outputId);
    assert.equal(content.headers.get('content-type'), 'image/png');
    const bytes = Buffer.from(await content.arrayBuffer());
    assert.deepEqual([...bytes.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    assert.equal(bytes.length, meta.bytes);
    assert.equal(filesUnder(join(root, 'objects')).length, 2);

    // Another tenant's execution naming the same id finds nothing.
    await assert.rejects(
      runner.run(
        model('openai/gpt-image-1', 'image'),
        { prompt: 'x', image: input.id },
        runContext(gw.runtime.files, { tenantId: 'someone-else' }),
      ),
      (err: { param?: string }) => err.param === 'input.image',
    );
    await client.files.delete(input.id);
    await assert.rejects(client.files.retrieve(input.id), NotFoundError);
  });
});
