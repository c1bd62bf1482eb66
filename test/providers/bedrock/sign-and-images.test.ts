/** SigV4 signing checked by the mock's independent re-signing, and image URL fetching with its guards. */

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { GatewayError } from '../../../src/core/errors.ts';
import { bedrockAdapter } from '../../../src/providers/bedrock/adapter.ts';
import { bedrockRegion, converseUrl, defaultBedrockBaseUrl } from '../../../src/providers/bedrock/bedrock-endpoint.ts';
import {
  fetchImage,
  isPrivateAddress,
  MAX_IMAGE_BYTES,
  sniffImageFormat,
} from '../../../src/providers/bedrock/bedrock-images.ts';
import { authorizeBedrockRequest } from '../../../src/providers/bedrock/sign-bedrock-request.ts';
import { testUpstreams } from '../../helpers/call-context.ts';
import { MOCK_BEDROCK_API_KEY, MOCK_BEDROCK_REGION, type MockBedrock, startMockBedrock } from '../../mocks/bedrock.ts';
import { CLAUDE, chat, ctx, SIGV4_KEY, target } from './helpers.ts';

const PNG = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(32, 7)]);
const JPEG = Buffer.concat([Buffer.from('ffd8ffe0', 'hex'), Buffer.alloc(32, 1)]);
const GIF = Buffer.from('GIF89a-and-some-bytes');
const WEBP = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WEBPVP8 ')]);

let mock: MockBedrock;
let images: Server;
let imagesUrl: string;

before(async () => {
  mock = await startMockBedrock();
  images = createServer((req, res) => {
    if (req.url === '/cat.png') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(PNG);
    } else if (req.url === '/moved') {
      res.writeHead(302, { location: '/cat.png' });
      res.end();
    } else if (req.url === '/huge') {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(Buffer.concat([PNG, Buffer.alloc(MAX_IMAGE_BYTES)]));
    } else if (req.url === '/page') {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end('<html>not an image</html>');
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', resolve));
  imagesUrl = `http://127.0.0.1:${(images.address() as AddressInfo).port}`;
});
after(async () => {
  await mock.close();
  images.closeAllConnections();
  await new Promise((resolve) => images.close(resolve));
});

async function send(url: string, headers: Record<string, string>, body: Uint8Array) {
  const res = await request(url, { method: 'POST', headers, body });
  return { status: res.statusCode, errorType: res.headers['x-amzn-errortype'], body: await res.body.text() };
}

describe('SigV4 signing', () => {
  const body = Buffer.from(JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'Hi' }] }] }));
  const url = () => `${mock.url}/model/${encodeURIComponent(CLAUDE)}/converse`;
  const sign = (bytes: Uint8Array) =>
    authorizeBedrockRequest({
      url: url(),
      body: bytes,
      headers: { 'content-type': 'application/json' },
      key: SIGV4_KEY,
      region: MOCK_BEDROCK_REGION,
    });

  it('produces headers the mock verifies by signing the received request again', async () => {
    const headers = await sign(body);
    assert.match(
      headers['authorization']!,
      /^AWS4-HMAC-SHA256 Credential=AKIAMOCKBEDROCK00001\/\d{8}\/us-east-1\/bedrock\/aws4_request/,
    );
    assert.match(headers['authorization']!, /SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date,/);
    assert.equal(headers['host'], new URL(mock.url).host);
    const res = await send(url(), headers, body);
    assert.equal(res.status, 200, res.body);
  });

  it('is rejected when the body is tampered with after signing', async () => {
    const headers = await sign(body);
    const tampered = Buffer.from(body.toString().replace('Hi', 'Yo'));
    const res = await send(url(), headers, tampered);
    assert.equal(res.status, 403);
    assert.match(String(res.errorType), /^InvalidSignatureException:/);
    assert.match(res.body, /signature we calculated does not match/);

    // Without the payload hash header the body hash is still part of the signature.
    const { 'x-amz-content-sha256': _hash, ...withoutHash } = headers;
    const stripped = await send(url(), withoutHash, tampered);
    assert.equal(stripped.status, 403);
  });

  it('is rejected when the signed date is too old', async () => {
    const headers = await authorizeBedrockRequest({
      url: url(),
      body,
      headers: { 'content-type': 'application/json' },
      key: SIGV4_KEY,
      region: MOCK_BEDROCK_REGION,
      signingDate: new Date(Date.now() - 60 * 60_000),
    });
    const res = await send(url(), headers, body);
    assert.equal(res.status, 403);
    assert.match(String(res.errorType), /^InvalidSignatureException:/);
  });

  it('sends a Bedrock API key as a bearer token, unsigned', async () => {
    const headers = await authorizeBedrockRequest({
      url: url(),
      body,
      headers: { 'content-type': 'application/json' },
      key: { id: 'api-key', secret: MOCK_BEDROCK_API_KEY },
      region: MOCK_BEDROCK_REGION,
    });
    assert.deepEqual(headers, { 'content-type': 'application/json', authorization: `Bearer ${MOCK_BEDROCK_API_KEY}` });
    assert.equal((await send(url(), headers, body)).status, 200);
  });

  it('builds the endpoint: default host per region, model id as one encoded path segment', () => {
    assert.equal(defaultBedrockBaseUrl('eu-west-1'), 'https://bedrock-runtime.eu-west-1.amazonaws.com');
    const provider = { ...target(mock).provider, baseUrl: '', options: { region: 'eu-west-1' } };
    assert.equal(
      converseUrl(
        provider,
        'arn:aws:bedrock:eu-west-1:123:inference-profile/eu.anthropic.claude-3-7-sonnet-20250219-v1:0',
        true,
      ),
      'https://bedrock-runtime.eu-west-1.amazonaws.com/model/arn%3Aaws%3Abedrock%3Aeu-west-1%3A123%3Ainference-profile%2Feu.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse-stream',
    );
    assert.equal(
      bedrockRegion({ ...provider, baseUrl: 'https://bedrock-runtime.ap-south-1.amazonaws.com', options: {} }),
      'ap-south-1',
    );
    assert.throws(() => bedrockRegion({ ...provider, baseUrl: 'http://proxy.local', options: {} }), GatewayError);
  });
});

describe('image URLs', () => {
  it('recognises png, jpeg, gif and webp by their bytes', () => {
    assert.equal(sniffImageFormat(PNG), 'png');
    assert.equal(sniffImageFormat(JPEG), 'jpeg');
    assert.equal(sniffImageFormat(GIF), 'gif');
    assert.equal(sniffImageFormat(WEBP), 'webp');
    assert.equal(sniffImageFormat(Buffer.from('BM...')), undefined);
  });

  it('knows private, local and metadata addresses', () => {
    for (const address of [
      '127.0.0.1',
      '10.1.2.3',
      '172.20.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      'fe80::1',
      'fd00::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
    ]) {
      assert.equal(isPrivateAddress(address), true, address);
    }
    for (const address of ['8.8.8.8', '52.94.236.248', '2606:4700:4700::1111']) {
      assert.equal(isPrivateAddress(address), false, address);
    }
  });

  it('fetches an image (following a redirect) when private hosts are allowed, sniffing its format', async () => {
    const signal = new AbortController().signal;
    const block = await fetchImage(`${imagesUrl}/moved`, { signal, pool: testUpstreams, allowPrivate: true });
    assert.deepEqual(block, { format: 'png', source: { bytes: PNG.toString('base64') } });
  });

  it('refuses private and local hosts by default, by literal address and by DNS answer', async () => {
    const signal = new AbortController().signal;
    const port = new URL(imagesUrl).port;
    for (const url of [
      `${imagesUrl}/cat.png`,
      `http://localhost:${port}/cat.png`,
      'http://169.254.169.254/latest/meta-data',
    ]) {
      await assert.rejects(fetchImage(url, { signal, pool: testUpstreams }), (err: GatewayError) => {
        assert.equal(err.code, 'invalid_request', url);
        assert.match(err.message, /private or local/);
        return true;
      });
    }
  });

  it('rejects missing, oversized and non-image answers without quoting the URL', async () => {
    const signal = new AbortController().signal;
    for (const [path, pattern] of [
      ['/missing?token=secret123', /status 404/],
      ['/huge', /larger than Bedrock accepts/],
      ['/page', /did not return a png/],
    ] as const) {
      await assert.rejects(
        fetchImage(`${imagesUrl}${path}`, { signal, pool: testUpstreams, allowPrivate: true }),
        (err: GatewayError) => {
          assert.equal(err.code, 'invalid_request');
          assert.match(err.message, pattern);
          assert.ok(!err.message.includes('secret123') && !err.message.includes('127.0.0.1'));
          return true;
        },
      );
    }
  });

  it('sends a fetched URL image to Bedrock as bytes (adapter, imageUrlAllowPrivate)', async () => {
    await bedrockAdapter.complete(
      chat({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Describe' },
              { type: 'image', source: { kind: 'url', url: `${imagesUrl}/cat.png` } },
            ],
          },
        ],
      }),
      target(mock, { providerOptions: { imageUrlAllowPrivate: 'true' } }),
      ctx(),
    );
    const content = (mock.requests.at(-1)!.body!['messages'] as Array<{ content: unknown[] }>)[0]!.content;
    assert.deepEqual(content[1], { image: { format: 'png', source: { bytes: PNG.toString('base64') } } });

    await assert.rejects(
      bedrockAdapter.complete(
        chat({
          messages: [
            { role: 'user', content: [{ type: 'image', source: { kind: 'url', url: `${imagesUrl}/cat.png` } }] },
          ],
        }),
        target(mock),
        ctx(),
      ),
      { code: 'invalid_request' },
    );
  });
});
