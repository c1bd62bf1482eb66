import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TEST_API_KEY } from '../helpers/gateway.ts';
import { type GatewayProcess, removeDataDir, spawnGateway } from '../helpers/gateway-process.ts';
import { waitFor } from '../tenancy/helpers.ts';
import { filesUnder } from './helpers.ts';

/**
 * Uploads and the gateway's own process. A large upload is streamed to disk, never held in memory: a 256 MB file sent in chunks (no Content-Length) to
 * a gateway in its own process, whose peak RSS (VmHWM) must not grow by anything near the file's size.
 */

const MB = 1024 * 1024;
const SIZE = 256 * MB;

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]);
  return kb / 1024;
}

describe('a 256 MB upload', { skip: process.platform !== 'linux' ? 'reads /proc' : false }, () => {
  let gw: GatewayProcess;

  before(async () => {
    gw = await spawnGateway({
      auth: { keys: [{ id: 'test', key: TEST_API_KEY }] },
      server: { requestTimeoutMs: 120_000 },
      files: { purposes: { user_data: { maxBytes: 300 * MB } } },
    });
  });
  after(async () => {
    await gw?.stop();
    if (gw) removeDataDir(gw.dataDir);
  });

  test('is streamed to disk: peak RSS grows by far less than the file, and the bytes are intact', async (t) => {
    // Warm the route (code loaded, pools allocated) before the baseline.
    const small = new FormData();
    small.append('purpose', 'user_data');
    small.append('file', new Blob(['warm']), 'w.txt');
    const warm = await fetch(`${gw.url}/v1/files`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_API_KEY}` },
      body: small,
    });
    assert.equal(warm.status, 200);
    await warm.text();
    const baseline = peakRssMb(gw.child.pid!);

    const boundary = 'bigboundary0123456789';
    const head = Buffer.from(
      `--${boundary}\r\ncontent-disposition: form-data; name="purpose"\r\n\r\nuser_data\r\n` +
        `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="big.bin"\r\ncontent-type: application/octet-stream\r\n\r\n`,
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const chunk = Buffer.alloc(MB);
    for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31) & 0xff;
    const hash = createHash('sha256');
    let sent = -1;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === -1) controller.enqueue(head);
        else if (sent < SIZE / MB) {
          hash.update(chunk);
          controller.enqueue(chunk);
        } else {
          controller.enqueue(tail);
          controller.close();
        }
        sent++;
      },
    });
    const res = await fetch(`${gw.url}/v1/files`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': `multipart/form-data; boundary=${boundary}` },
      body,
      duplex: 'half',
    } as RequestInit);
    const file = (await res.json()) as { id: string; bytes: number };
    assert.equal(res.status, 200, JSON.stringify(file));
    assert.equal(file.bytes, SIZE);
    const growth = peakRssMb(gw.child.pid!) - baseline;
    t.diagnostic(`peak RSS ${baseline.toFixed(0)} MB before, +${growth.toFixed(1)} MB after the upload`);
    assert.ok(growth < 64, `peak RSS grew by ${growth.toFixed(0)} MB for a ${SIZE / MB} MB upload`);

    const stored = join(gw.dataDir, 'files', 'objects', file.id.slice(5, 7), file.id);
    assert.deepEqual(filesUnder(join(gw.dataDir, 'files', 'objects')).filter((p) => p.endsWith(file.id)).length, 1);
    assert.equal(createHash('sha256').update(readFileSync(stored)).digest('hex'), hash.digest('hex'));
  });
});

describe('a gateway killed mid-upload', { skip: process.platform !== 'linux' ? 'signals' : false }, () => {
  test('leaves a temp file only; the next start deletes it and no file appears', async () => {
    const config = { auth: { keys: [{ id: 'test', key: TEST_API_KEY }] } };
    const first = await spawnGateway(config);
    const { dataDir } = first;
    const tmp = join(dataDir, 'files', 'tmp');
    let second: GatewayProcess | undefined;
    try {
      const { hostname, port } = new URL(first.url);
      const socket = connect(Number(port), hostname);
      socket.on('error', () => {});
      const boundary = 'crashboundary';
      socket.write(
        `POST /v1/files HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TEST_API_KEY}\r\n` +
          `content-type: multipart/form-data; boundary=${boundary}\r\ncontent-length: 10000000\r\n\r\n` +
          `--${boundary}\r\ncontent-disposition: form-data; name="purpose"\r\n\r\nuser_data\r\n` +
          `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="half.bin"\r\n\r\n${'x'.repeat(200_000)}`,
      );
      await waitFor(() => filesUnder(tmp).length === 1, 'the upload being written', 10_000);
      await first.stop('SIGKILL');
      socket.destroy();
      assert.equal(filesUnder(tmp).length, 1, 'the crash left its temp file');
      assert.deepEqual(filesUnder(join(dataDir, 'files', 'objects')), [], 'and no file');

      second = await spawnGateway(config, dataDir);
      await waitFor(() => filesUnder(tmp).length === 0, 'the dead process’s temp file deleted at start', 10_000);
      const list = await fetch(`${second.url}/v1/files`, { headers: { authorization: `Bearer ${TEST_API_KEY}` } });
      assert.deepEqual(((await list.json()) as { data: unknown[] }).data, []);
    } finally {
      await second?.stop();
      removeDataDir(dataDir);
    }
  });
});
