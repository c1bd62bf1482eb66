import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import OpenAI, { toFile } from 'openai';
import { toneWav } from '../../src/providers/demo/media.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import {
  AZURE_CONTENT_FILTER,
  AZURE_RATE_LIMITED,
  MOCK_AZURE_KEY,
  type MockOpenAIMedia,
  startMockOpenAIMedia,
} from '../mocks/openai-media.ts';
import { azureMediaProvider } from '../providers/media/support.ts';
import { adminClient, createKey, startTenancyGateway } from '../tenancy/helpers.ts';

/**
 * Media executions on an `azure` provider end to end (docs/providers/media.md, Azure OpenAI): `POST /v1/executions`
 * on models whose `upstreamName` is a deployment, run by the worker against the mock's Azure resource, to COMPLETED
 * with `file_…` outputs; Azure's errors as the execution's normalized error; no Azure URL or key in any answer or
 * log line.
 */

interface Execution {
  id: string;
  status: string;
  output: { files?: string[]; text?: string } | null;
  usage: Record<string, number> | null;
  cost: string | null;
  error: { code: string; message: string; retryable: boolean } | null;
}

describe('media executions on Azure OpenAI', () => {
  let mock: MockOpenAIMedia;
  let gw: TestGateway;
  let key: string;
  let filesRoot: string;
  const answers: string[] = [];

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${gw.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    answers.push(text);
    return { status: res.status, body: JSON.parse(text) as Record<string, unknown> };
  };
  const execute = async (body: unknown): Promise<Execution> => {
    const submitted = await call('POST', '/v1/executions', body);
    assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
    const deadline = Date.now() + 15_000;
    for (;;) {
      const e = (await call('GET', `/v1/executions/${submitted.body['id']}`)).body as unknown as Execution;
      if (['COMPLETED', 'FAILED', 'CANCELLED'].includes(e.status)) return e;
      assert.ok(Date.now() < deadline, `stuck: ${JSON.stringify(e)}`);
      await sleep(20);
    }
  };

  before(async () => {
    mock = await startMockOpenAIMedia();
    mock.pollsToComplete = 1;
    filesRoot = mkdtempSync(join(tmpdir(), 'modro-azure-media-'));
    gw = await startTenancyGateway({
      demo: { enabled: false },
      providers: [azureMediaProvider(mock, { apiVersion: '2024-10-21', mediaApiVersion: '2025-04-01-preview' })],
      files: { root: filesRoot },
      executions: { pollMs: 50, maxAttempts: 1 },
      billing: { flushIntervalMs: 20 },
    });
    const admin = await adminClient(gw);
    await admin.json('POST', '/admin/api/tenants', { id: 'studio' });
    await admin.json('POST', '/admin/api/tenants/studio/account');
    await admin.json('POST', '/admin/api/tenants/studio/ledger', { kind: 'credit', amountUsd: '20', reason: 'test' });
    key = (await createKey(admin, 'studio')).key;
  });
  after(async () => {
    await gw?.close();
    await mock?.close();
    rmSync(filesRoot, { recursive: true, force: true });
  });

  test('image, speech and transcription executions on deployments run to COMPLETED with file_ outputs; the mock saw each deployment path, api-key only, the configured media api-version', async () => {
    const image = await execute({ model: 'azure/gpt-image-1', input: { prompt: 'a lighthouse', quality: 'low' } });
    assert.equal(image.status, 'COMPLETED', JSON.stringify(image));
    assert.match(image.output!.files![0]!, /^file_/);
    assert.ok(Number(image.cost) > 0);
    const dalle = await execute({ model: 'dall-e-3', input: { prompt: 'an otter' } });
    assert.equal(dalle.status, 'COMPLETED', JSON.stringify(dalle));
    assert.equal(dalle.cost, '0.040000000');
    const speech = await execute({ model: 'azure/tts-1', input: { input: 'Hello there.', voice: 'nova' } });
    assert.equal(speech.status, 'COMPLETED', JSON.stringify(speech));
    assert.match(speech.output!.files![0]!, /^file_/);
    assert.deepEqual(speech.usage, { characters: 12 });

    const client = new OpenAI({ baseURL: gw.baseURL, apiKey: key, maxRetries: 0 });
    const upload = await client.files.create({
      file: await toFile(Buffer.from(toneWav(0.5, 300)), 'call.wav', { type: 'audio/wav' }),
      purpose: 'execution_input' as 'user_data',
    });
    const heard = await execute({ model: 'azure/whisper-1', input: { file: upload.id } });
    assert.equal(heard.status, 'COMPLETED', JSON.stringify(heard));
    assert.equal(typeof heard.output!.text, 'string');
    const content = await client.files.content(image.output!.files![0]!);
    assert.deepEqual([...Buffer.from(await content.arrayBuffer()).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);

    const paths = mock.requests.map((r) => r.path);
    for (const expected of [
      '/openai/deployments/art-gpt-image/images/generations?api-version=2025-04-01-preview',
      '/openai/deployments/art-dalle3/images/generations?api-version=2025-04-01-preview',
      '/openai/deployments/voice-tts/audio/speech?api-version=2025-04-01-preview',
      '/openai/deployments/ears-whisper/audio/transcriptions?api-version=2025-04-01-preview',
    ]) {
      assert.ok(paths.includes(expected), `${expected} in ${paths.join(', ')}`);
    }
    for (const r of mock.requests) {
      assert.equal(r.headers['api-key'], MOCK_AZURE_KEY);
      assert.equal(r.headers['authorization'], undefined, `no Authorization on ${r.path}`);
    }
  });

  test('a video execution runs Sora 2 on the v1 videos API to COMPLETED', async () => {
    const video = await execute({ model: 'azure/sora-2', input: { prompt: 'rain on a window', size: '720x1280' } });
    assert.equal(video.status, 'COMPLETED', JSON.stringify(video));
    assert.match(video.output!.files![0]!, /^file_/);
    assert.equal(video.cost, '0.400000000');
    const create = mock.requests.find((r) => r.method === 'POST' && r.path.startsWith('/openai/v1/videos'))!;
    assert.equal(create.path, '/openai/v1/videos?api-version=preview');
    assert.equal(create.headers['api-key'], MOCK_AZURE_KEY);
  });

  test('a Sora size Azure does not serve is refused at submission, before a hold or an upstream call', async () => {
    const upstreamBefore = mock.requests.length;
    const refused = await call('POST', '/v1/executions', {
      model: 'azure/sora-2',
      input: { prompt: 'rain on a window', size: '1792x1024' },
    });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    const error = refused.body['error'] as { code: string; param?: string; message: string };
    assert.equal(error.code, 'invalid_request');
    assert.equal(error.param, 'input.size');
    assert.match(error.message, /720x1280, 1280x720$/);
    assert.equal(mock.requests.length, upstreamBefore, 'nothing sent upstream');
  });

  test('Azure’s content filter fails the execution content_filtered (not retryable); its 429 rate_limited (retryable)', async () => {
    mock.faults.push(AZURE_CONTENT_FILTER);
    const filtered = await execute({ model: 'azure/gpt-image-1', input: { prompt: 'something refused' } });
    assert.equal(filtered.status, 'FAILED');
    assert.equal(filtered.error?.code, 'content_filtered');
    assert.equal(filtered.error?.retryable, false);
    mock.faults.push(AZURE_RATE_LIMITED);
    const limited = await execute({ model: 'azure/tts-1', input: { input: 'x', voice: 'alloy' } });
    assert.equal(limited.status, 'FAILED');
    assert.equal(limited.error?.code, 'rate_limited');
    assert.equal(limited.error?.retryable, true);
  });

  test('no Azure URL or key in any answer or log line', () => {
    const seen = [...answers, ...gw.logs].join('\n');
    assert.ok(answers.length > 10);
    for (const secret of [
      MOCK_AZURE_KEY,
      mock.azureEndpoint,
      new URL(mock.azureEndpoint).host,
      '/openai/deployments',
    ]) {
      assert.ok(!seen.includes(secret), `${secret} leaked`);
    }
    assert.ok(!/art-gpt-image|voice-tts|ears-whisper|film-sora/.test(answers.join('\n')), 'no deployment name');
  });
});
