import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import { hostname } from 'node:os';
import { after, describe, it } from 'node:test';
import { mediaRate } from '../../../src/billing/media-cost.ts';
import type { GatewayError } from '../../../src/core/errors.ts';
import { isPrivateAddress } from '../../../src/providers/bedrock/bedrock-images.ts';
import { solidPng, toneWav } from '../../../src/providers/demo/media.ts';
import type { MediaCall } from '../../../src/providers/media/media-adapter.ts';
import { decodeBase64, fetchOutput, pause, sniffContentType } from '../../../src/providers/media/media-http.ts';
import { closeCallContexts, testUpstreams } from '../../helpers/call-context.ts';
import { tinyMp4 } from '../../mocks/media-server.ts';
import { MemoryFiles, runContext } from './support.ts';

/** What the media adapters share: output decoding and fetching rules, type sniffing, polling pauses, rates. */

function call(
  overrides: { maxOutputBytes?: number; signal?: AbortSignal; options?: Record<string, string> } = {},
): MediaCall {
  return {
    target: {
      provider: {
        id: 'p',
        kind: 'replicate',
        baseUrl: 'https://api.example.test/v1',
        keys: [],
        options: overrides.options ?? {},
        timeouts: { connectMs: 1_000, firstByteMs: 1_000, totalMs: 1_000 },
        limits: { maxEventBytes: 1024, maxStreamBytes: 1024, maxBodyBytes: 1024 },
      },
      model: {} as MediaCall['target']['model'],
      key: { id: 'k', secret: 'secret' },
    },
    kind: 'image',
    ctx: runContext(new MemoryFiles(), overrides.signal ? { signal: overrides.signal } : {}),
    pool: testUpstreams,
    settings: {
      maxOutputBytes: overrides.maxOutputBytes ?? 1024 * 1024,
      outputFetchMs: 1_000,
      pollIntervalMs: 10,
      replicateWaitSeconds: 1,
    },
    job: { resume: undefined, save: async () => {}, clear: async () => {} },
  };
}

describe('media HTTP helpers', () => {
  after(() => closeCallContexts());

  it('sniffs the type from the bytes before trusting a declared one', async () => {
    assert.equal(sniffContentType(await solidPng(1, 1, [0, 0, 0]), 'image/jpeg'), 'image/png');
    assert.equal(sniffContentType(toneWav(0.01, 100)), 'audio/wav');
    assert.equal(sniffContentType(tinyMp4()), 'video/mp4');
    assert.equal(sniffContentType(Buffer.from('ID3\x04rest', 'latin1')), 'audio/mpeg');
    assert.equal(sniffContentType(new Uint8Array([1, 2, 3]), 'image/webp; q=1'), 'image/webp');
    assert.equal(sniffContentType(new Uint8Array([1, 2, 3]), 'text/html<script>'), 'application/octet-stream');
  });

  it('base64 over the output cap is refused before it is decoded; a data: URL is decoded, not fetched', async () => {
    assert.throws(
      () => decodeBase64('A'.repeat(4_000), call({ maxOutputBytes: 1_000 }), 'an image'),
      (err: GatewayError) => err.code === 'provider_unavailable' && /larger than 1000 bytes/.test(err.message),
    );
    const png = await solidPng(2, 2, [1, 2, 3]);
    const file = await fetchOutput(
      call(),
      `data:image/png;base64,${Buffer.from(png).toString('base64')}`,
      {},
      'https://api.example.test/v1',
    );
    assert.deepEqual(Buffer.from(file.bytes), Buffer.from(png));
    assert.equal(file.contentType, 'image/png');
  });

  it('an output URL must be https when the provider is (no http, file or other schemes)', async () => {
    for (const url of ['http://127.0.0.1:9/x.png', 'file:///etc/passwd', 'ftp://example.test/x', 'not a url']) {
      await assert.rejects(
        fetchOutput(call(), url, { authorization: 'Bearer secret' }, 'https://api.example.test/v1'),
        (err: GatewayError) =>
          err.code === 'provider_unavailable' && !err.message.includes('127.0.0.1') && !err.message.includes('secret'),
        url,
      );
    }
  });

  it('an output URL on a private address is never fetched: literal, localhost, or a name that resolves inward', async () => {
    const base = 'https://api.example.test/v1';
    const denied = (err: GatewayError) =>
      err.code === 'permission_denied' && !err.retryable && /private address/.test(err.message);
    for (const url of [
      'https://127.0.0.1:9/x.png',
      'https://[::1]:9/x.png',
      'https://169.254.169.254/latest',
      'https://localhost:9/x.png',
    ]) {
      await assert.rejects(fetchOutput(call(), url, {}, base), denied, url);
    }
    // A name that resolves to a private address is refused by the guarded lookup, at connect time.
    const name = hostname();
    const resolved = await lookup(name).catch(() => undefined);
    if (resolved && isPrivateAddress(resolved.address)) {
      await assert.rejects(fetchOutput(call(), `https://${name}:9/x.png`, {}, base), denied);
    }
    // The operator may allow it: the download is then attempted (and fails here: nothing listens).
    await assert.rejects(
      fetchOutput(call({ options: { outputUrlAllowPrivate: 'true' } }), 'https://127.0.0.1:9/x.png', {}, base),
      (err: GatewayError) => err.code === 'provider_unavailable' && err.retryable,
    );
  });

  it('a pause between polls ends at once when the execution is cancelled', async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 20);
    await assert.rejects(pause(10_000, controller.signal), (err: GatewayError) => err.code === 'timeout');
    assert.ok(Date.now() - started < 1_000);
  });

  it('rates: the most specific key wins; an unknown variant costs the dearest that fits, never zero', () => {
    const rate = { '1024x1024/hd': 0.08, '1024x1024': 0.04, '1792x1024/hd': 0.12, '1792x1024': 0.08 };
    assert.equal(mediaRate(rate, '1024x1024', 'hd'), 0.08);
    assert.equal(mediaRate(rate, '1024x1024', 'standard'), 0.04);
    assert.equal(mediaRate(rate, undefined, 'hd'), 0.12);
    assert.equal(mediaRate(rate, '512x512', undefined), 0.12);
    assert.equal(mediaRate({ '*': 0.3, '1792x1024': 0.5 }, '1280x720'), 0.3);
    assert.equal(mediaRate(0.02, 'any', 'thing'), 0.02);
    assert.equal(mediaRate(undefined), 0);
  });
});
