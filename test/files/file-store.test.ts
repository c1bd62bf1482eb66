import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import { FileStore } from '../../src/files/file-store.ts';
import { BUILT_IN_PURPOSES } from '../../src/files/purposes.ts';
import { sniffType } from '../../src/files/sniff.ts';
import { forEachDatabase } from '../helpers/databases.ts';
import { startGateway, TEST_API_KEY, type TestGateway } from '../helpers/gateway.ts';
import { waitFor } from '../tenancy/helpers.ts';
import { errorOf, filesUnder, get, JPEG, PNG, upload, WAV } from './helpers.ts';

/** The file store's disk and database behaviour (sweeps, quotas, crashes) and uploads that misbehave on the wire. */

forEachDatabase('file store', (suite) => {
  it('sweeps expired files (row and bytes), stale temp files and objects without a row', async () => {
    const { store } = await suite.fresh();
    const root = join(suite.tempDir(), `root-${Math.random()}`);
    let now = 1_000_000_000_000;
    const files = new FileStore({
      db: store.db,
      root,
      purposes: { ...BUILT_IN_PURPOSES },
      now: () => now,
      staleMs: 60_000,
    });
    await files.start();
    const output = await files.put('t1', { bytes: PNG, contentType: 'image/png', purpose: 'execution_output' });
    const input = await files.put('t1', { bytes: JPEG, contentType: 'image/jpeg', purpose: 'execution_input' });
    // A crash mid-upload (a temp file) and between rename and insert (an object without a row), long ago.
    const temp = join(root, 'tmp', 'crashed.part');
    writeFileSync(temp, 'half');
    const orphanId = 'file_11111111-2222-4333-8444-555555555555';
    mkdirSync(join(root, 'objects', '11'), { recursive: true });
    const orphan = join(root, 'objects', '11', orphanId);
    writeFileSync(orphan, 'no row');
    const old = new Date(now - 3_600_000);
    utimesSync(temp, old, old);
    utimesSync(orphan, old, old);
    now += 31 * 86_400_000;
    assert.equal(await files.get('t1', output.id), undefined, 'expired: gone before the sweep');
    const swept = await files.sweep({ orphans: true });
    assert.deepEqual(swept, { expired: 1, temp: 1, orphans: 1 });
    assert.equal(existsSync(temp), false);
    assert.equal(existsSync(orphan), false);
    assert.deepEqual(
      filesUnder(join(root, 'objects')).map((p) => p.split('/')[1]),
      [input.id],
      'only the input (no retention) is left',
    );
    assert.ok(await files.read('t1', input.id));
    await files.close();
  });

  it("enforces the tenant's quota on uploads and outputs, counting what is stored", async () => {
    const { store } = await suite.fresh();
    const root = join(suite.tempDir(), `root-${Math.random()}`);
    const files = new FileStore({ db: store.db, root, purposes: { ...BUILT_IN_PURPOSES }, maxTenantBytes: 300 });
    await files.start();
    await files.put('t1', { bytes: Buffer.alloc(200, 1), contentType: 'text/plain', purpose: 'user_data' });
    await assert.rejects(
      files.put('t1', { bytes: Buffer.alloc(200, 1), contentType: 'text/plain', purpose: 'user_data' }),
      (err: { code?: string; status?: number }) => err.code === 'quota_exceeded' && err.status === 413,
    );
    // Another tenant has its own quota.
    await files.put('t2', { bytes: Buffer.alloc(200, 1), contentType: 'text/plain', purpose: 'user_data' });
    await files.close();
  });
});

test('sniffing recognises the common image, audio and video signatures', () => {
  const ftyp = (brand: string) => Buffer.concat([Buffer.from([0, 0, 0, 0x20]), Buffer.from(`ftyp${brand}`)]);
  assert.equal(sniffType(PNG), 'image/png');
  assert.equal(sniffType(JPEG), 'image/jpeg');
  assert.equal(sniffType(WAV), 'audio/wav');
  assert.equal(sniffType(Buffer.from('GIF89a...')), 'image/gif');
  assert.equal(sniffType(Buffer.from('RIFF\0\0\0\0WEBPVP8 ')), 'image/webp');
  assert.equal(sniffType(Buffer.from('ID3\x04\0\0')), 'audio/mpeg');
  assert.equal(sniffType(Buffer.from([0xff, 0xfb, 0x90, 0x64])), 'audio/mpeg');
  assert.equal(sniffType(Buffer.from('fLaC\0\0\0\x22')), 'audio/flac');
  assert.equal(sniffType(Buffer.from('OggS\0\x02')), 'audio/ogg');
  assert.equal(sniffType(ftyp('isom')), 'video/mp4');
  assert.equal(sniffType(ftyp('qt  ')), 'video/quicktime');
  assert.equal(sniffType(ftyp('M4A ')), 'audio/mp4');
  assert.equal(sniffType(ftyp('avif')), 'image/avif');
  assert.equal(
    sniffType(Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0x42, 0x82, 0x84, ...Buffer.from('webm')])),
    'video/webm',
  );
  assert.equal(sniffType(Buffer.from('%PDF-1.7')), 'application/pdf');
  assert.equal(sniffType(Buffer.from('<!doctype html>')), undefined);
  assert.equal(sniffType(Buffer.from('hello')), undefined);
});

describe('uploads that misbehave on the wire', () => {
  let gw: TestGateway;
  let root: string;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'modro-files-wire-'));
    gw = await startGateway({
      server: { requestTimeoutMs: 1_500, headersTimeoutMs: 1_000 },
      files: { root, maxTenantBytes: 1_000 },
    });
  });
  after(async () => {
    await gw?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('a slow upload is cut at server.requestTimeoutMs (408) and leaves no temp file', async () => {
    const { hostname, port } = new URL(gw.url);
    const socket = connect(Number(port), hostname);
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (c) => {
      received += c;
    });
    socket.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    const boundary = 'slowboundary';
    const start =
      `--${boundary}\r\ncontent-disposition: form-data; name="purpose"\r\n\r\nuser_data\r\n` +
      `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="slow.txt"\r\ncontent-type: text/plain\r\n\r\n`;
    socket.write(
      `POST /v1/files HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TEST_API_KEY}\r\n` +
        `content-type: multipart/form-data; boundary=${boundary}\r\ncontent-length: 100000\r\n\r\n${start}`,
    );
    // A few bytes every 100 ms, never the whole body.
    const drip = setInterval(() => socket.writable && socket.write('x'.repeat(50)), 100);
    await waitFor(() => filesUnder(join(root, 'tmp')).length === 1, 'the temp file being written', 2_000);
    await Promise.race([closed, new Promise((r) => setTimeout(r, 6_000))]);
    clearInterval(drip);
    socket.destroy();
    assert.match(received, /^HTTP\/1\.1 408 /);
    await waitFor(() => filesUnder(join(root, 'tmp')).length === 0, 'the temp file removed', 3_000);
    assert.deepEqual(filesUnder(join(root, 'objects')), []);
    assert.deepEqual(
      gw.logs.filter((l) => l.includes('"level":"error"')),
      [],
      'a client cut off is not an error of ours',
    );
  });

  test('an unauthenticated upload is refused on its headers (401), before any byte is stored', async () => {
    const res = await fetch(`${gw.url}/v1/files`, {
      method: 'POST',
      headers: { authorization: 'Bearer wrong' },
      body: new FormData(),
    });
    assert.equal(res.status, 401);
    await res.text();
  });

  test('over the tenant quota: 413 quota_exceeded while streaming, nothing left on disk', async () => {
    const ok = await upload(gw, TEST_API_KEY, [
      { name: 'purpose', value: 'user_data' },
      { name: 'file', bytes: Buffer.alloc(600, 0x61), filename: 'a.txt' },
    ]);
    assert.equal(ok.status, 200);
    await ok.text();
    const over = await upload(gw, TEST_API_KEY, [
      { name: 'purpose', value: 'user_data' },
      { name: 'file', bytes: Buffer.alloc(600, 0x61), filename: 'b.txt' },
    ]);
    const e = await errorOf(over);
    assert.equal(e.status, 413);
    assert.equal(e.code, 'quota_exceeded');
    assert.match(e.message, /quota \(1000 bytes/);
    assert.equal(filesUnder(join(root, 'objects')).length, 1);
    // The refused upload's temp file is removed once its answer is sent, not before: wait for it (1 of 2 runs
    // saw the .part file right after the 413).
    await waitFor(() => filesUnder(join(root, 'tmp')).length === 0, 'the temp files removed', 10_000);
  });

  test('with an Idempotency-Key the quota is checked at commit: a retry gets its stored answer, a refusal is kept', async () => {
    const list = (await (await get(gw, TEST_API_KEY, '/v1/files')).json()) as { data: Array<{ id: string }> };
    for (const f of list.data) await (await get(gw, TEST_API_KEY, `/v1/files/${f.id}`, 'DELETE')).text();
    const parts = (fill: number) => [
      { name: 'purpose', value: 'user_data' },
      { name: 'file', bytes: Buffer.alloc(600, fill), filename: 'c.txt' },
    ];
    const stored = await upload(gw, TEST_API_KEY, parts(0x62), { 'idempotency-key': 'quota-1' });
    const storedBody = await stored.text();
    assert.equal(stored.status, 200, storedBody);
    // The quota (1000 bytes) has no room for these 600 bytes again, but the retry is a replay.
    const retry = await upload(gw, TEST_API_KEY, parts(0x62), { 'idempotency-key': 'quota-1' });
    assert.equal(retry.headers.get('idempotent-replayed'), 'true');
    assert.equal(await retry.text(), storedBody);
    // A new upload over the quota is refused at commit, and that answer is what its key replays.
    const refused = await upload(gw, TEST_API_KEY, parts(0x63), { 'idempotency-key': 'quota-2' });
    const refusedBody = await refused.text();
    assert.equal(refused.status, 413);
    assert.match(refusedBody, /quota_exceeded/);
    const again = await upload(gw, TEST_API_KEY, parts(0x63), { 'idempotency-key': 'quota-2' });
    assert.equal(again.status, 413);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(await again.text(), refusedBody);
    assert.equal(filesUnder(join(root, 'objects')).length, 1);
    // The refused upload's temp file is removed once its answer is sent, not before: wait for it (1 of 2 runs
    // saw the .part file right after the 413).
    await waitFor(() => filesUnder(join(root, 'tmp')).length === 0, 'the temp files removed', 10_000);
  });
});
