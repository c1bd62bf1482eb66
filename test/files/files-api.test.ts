import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import OpenAI, { NotFoundError, toFile } from 'openai';
import { isCI } from '../helpers/ci.ts';
import { POSTGRES_TEST_URL } from '../helpers/databases.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { adminClient, createTenantWithKey, startTenancyGateway } from '../tenancy/helpers.ts';
import { dropSchema, errorOf, filesUnder, get, HTML, JPEG, PNG, postgresProblem, upload, WAV } from './helpers.ts';

/**
 * The Files API end to end (docs/files.md): a real gateway on loopback, two tenants with their own keys, the
 * official `openai` SDK as the client, the bytes on disk in a temp folder, on SQLite and PostgreSQL.
 */

const pgProblem = await postgresProblem();
const OPENAI_FILE_REQUIRED = {
  id: 'string',
  object: 'string',
  bytes: 'number',
  created_at: 'number',
  filename: 'string',
  purpose: 'string',
  status: 'string',
};

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`files API [${kind}]`, {
    skip: kind === 'postgres' && pgProblem !== undefined && !isCI() ? `PostgreSQL unreachable (${pgProblem})` : false,
  }, () => {
    const schema = `t_files_api_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    const root = mkdtempSync(join(tmpdir(), 'modro-files-'));
    let gw: TestGateway;
    let a: { key: string; client: OpenAI };
    let b: { key: string; client: OpenAI };
    let admin: Awaited<ReturnType<typeof adminClient>>;

    before(async () => {
      gw = await startTenancyGateway({
        files: { root, purposes: { vision: { maxBytes: 2_000 } } },
        ...(kind === 'postgres' ? { storage: { kind: 'postgres', url: POSTGRES_TEST_URL, schema } } : {}),
      });
      admin = await adminClient(gw);
      const client = (key: string) => new OpenAI({ baseURL: gw.baseURL, apiKey: key, maxRetries: 0 });
      const ka = (await createTenantWithKey(admin, { id: 'tenant-a' })).key;
      const kb = (await createTenantWithKey(admin, { id: 'tenant-b' })).key;
      a = { key: ka, client: client(ka) };
      b = { key: kb, client: client(kb) };
    });
    after(async () => {
      await gw?.close();
      rmSync(root, { recursive: true, force: true });
      if (kind === 'postgres' && !pgProblem) await dropSchema(schema);
    });

    test('the official SDK uploads, retrieves, downloads, lists and deletes a file', async () => {
      const created = await a.client.files.create({
        file: await toFile(PNG, 'pixel.png', { type: 'image/png' }),
        purpose: 'execution_input' as 'user_data',
      });
      assert.match(created.id, /^file_[0-9a-f-]{36}$/);
      assert.equal(created.object, 'file');
      assert.equal(created.bytes, PNG.length);
      assert.equal(created.filename, 'pixel.png');
      assert.equal(created.purpose, 'execution_input');
      assert.equal((created as unknown as { content_type: string }).content_type, 'image/png');
      assert.ok(Math.abs(created.created_at - Date.now() / 1000) < 60, 'created_at in seconds');
      // OpenAI's OpenAIFile schema (/work/shared/spec): these fields are required, with these types.
      for (const [field, type] of Object.entries(OPENAI_FILE_REQUIRED)) {
        assert.equal(typeof (created as unknown as Record<string, unknown>)[field], type, field);
      }
      assert.equal(created.status, 'processed');

      const retrieved = await a.client.files.retrieve(created.id);
      assert.deepEqual(retrieved, created);

      const content = await a.client.files.content(created.id);
      assert.deepEqual(Buffer.from(await content.arrayBuffer()), PNG);
      assert.equal(content.headers.get('content-type'), 'image/png');
      assert.equal(content.headers.get('content-length'), String(PNG.length));
      assert.match(content.headers.get('content-disposition') ?? '', /^attachment; filename="pixel.png"/);
      assert.equal(content.headers.get('x-content-type-options'), 'nosniff');

      const listed = await a.client.files.list();
      assert.equal(listed.data[0]?.id, created.id, 'newest first');

      const deleted = await a.client.files.delete(created.id);
      assert.deepEqual(deleted, { id: created.id, object: 'file', deleted: true });
      await assert.rejects(a.client.files.retrieve(created.id), NotFoundError);
      assert.ok(!filesUnder(join(root, 'objects')).some((p) => p.endsWith(created.id)), 'bytes deleted');
    });

    test('listing pages newest first with a cursor, and the SDK walks every page', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const f = await b.client.files.create({
          file: await toFile(Buffer.from(`text ${i}`), `n${i}.txt`),
          purpose: 'user_data',
        });
        ids.push(f.id);
        await new Promise((r) => setTimeout(r, 5));
      }
      const first = await b.client.files.list({ limit: 2 });
      assert.deepEqual(
        first.data.map((f) => f.id),
        [ids[2], ids[1]],
      );
      assert.equal(first.hasNextPage(), true);
      const all: string[] = [];
      for await (const f of b.client.files.list({ limit: 2 })) all.push(f.id);
      assert.deepEqual(all, [...ids].reverse());
      const asc = await b.client.files.list({ order: 'asc', purpose: 'user_data' });
      assert.deepEqual(
        asc.data.map((f) => f.id),
        ids,
      );
      for (const id of ids) await b.client.files.delete(id);
    });

    test("another tenant's id and an unknown id get the same 404 on every route", async () => {
      const mine = await a.client.files.create({
        file: await toFile(Buffer.from('secret'), 's.txt'),
        purpose: 'user_data',
      });
      const unknown = 'file_00000000-0000-4000-8000-000000000000';
      for (const [method, suffix] of [
        ['GET', ''],
        ['GET', '/content'],
        ['DELETE', ''],
      ] as const) {
        const theirs = await get(gw, b.key, `/v1/files/${mine.id}${suffix}`, method);
        const none = await get(gw, b.key, `/v1/files/${unknown}${suffix}`, method);
        const e1 = await errorOf(theirs);
        const e2 = await errorOf(none);
        assert.equal(e1.status, 404, `${method} ${suffix}`);
        assert.equal(e1.code, 'not_found');
        assert.deepEqual(
          { ...e1, message: e1.message.replace(mine.id, 'X') },
          { ...e2, message: e2.message.replace(unknown, 'X') },
        );
      }
      const listed = await b.client.files.list();
      assert.ok(!listed.data.some((f) => f.id === mine.id), "not in the other tenant's list");
      // Still there for its owner.
      assert.equal((await a.client.files.retrieve(mine.id)).id, mine.id);
    });

    test("a key's scopes and addresses apply: files scope required when scoped, 403 before the body is read", async () => {
      const key = async (limits: Record<string, unknown>) =>
        (await admin.json<{ key: string }>('POST', '/admin/api/keys', { tenantId: 'tenant-a', limits })).key;
      const chatOnly = await key({ scopes: ['chat'] });
      const filesOnly = await key({ scopes: ['files'] });
      const elsewhere = await key({ ips: ['10.0.0.0/8'] });
      const parts = [
        { name: 'purpose', value: 'user_data' },
        { name: 'file', bytes: Buffer.from('scoped'), filename: 's.txt' },
      ];
      for (const refused of [chatOnly, elsewhere]) {
        const e = await errorOf(await upload(gw, refused, parts));
        assert.equal(e.status, 403);
        assert.equal(e.code, 'permission_denied');
        assert.equal((await errorOf(await get(gw, refused, '/v1/files'))).status, 403);
      }
      for (const allowed of [filesOnly, await key({ scopes: ['executions'] })]) {
        const ok = await upload(gw, allowed, parts);
        assert.equal(ok.status, 200);
        await ok.text();
      }
    });

    test('multipart mistakes get clear errors: no file, two files, no purpose, unknown and server-only purposes', async () => {
      const cases: Array<[string, Parameters<typeof upload>[2], number, RegExp]> = [
        ['no file', [{ name: 'purpose', value: 'user_data' }], 400, /Missing the file/],
        [
          'two files',
          [
            { name: 'purpose', value: 'user_data' },
            { name: 'file', bytes: Buffer.from('one'), filename: 'a.txt' },
            { name: 'file', bytes: Buffer.from('two'), filename: 'b.txt' },
          ],
          400,
          /exactly one file/,
        ],
        ['no purpose', [{ name: 'file', bytes: Buffer.from('x'), filename: 'a.txt' }], 400, /Missing purpose/],
        [
          'unknown purpose',
          [
            { name: 'file', bytes: Buffer.from('x'), filename: 'a.txt' },
            { name: 'purpose', value: 'fine-tune' },
          ],
          400,
          /Unknown purpose; use one of: execution_input, vision, user_data/,
        ],
        [
          'server-only purpose',
          [
            { name: 'purpose', value: 'execution_output' },
            { name: 'file', bytes: PNG, filename: 'a.png' },
          ],
          400,
          /written only by the gateway/,
        ],
        [
          'file in another field',
          [
            { name: 'purpose', value: 'user_data' },
            { name: 'upload', bytes: Buffer.from('x'), filename: 'a.txt' },
          ],
          400,
          /send it as file/,
        ],
      ];
      for (const [what, parts, status, message] of cases) {
        const res = await upload(gw, a.key, parts);
        const e = await errorOf(res);
        assert.equal(e.status, status, `${what}: ${e.message}`);
        assert.equal(e.code, 'invalid_request', what);
        assert.match(e.message, message, what);
      }
      const json = await fetch(`${gw.url}/v1/files`, {
        method: 'POST',
        headers: { authorization: `Bearer ${a.key}`, 'content-type': 'application/json' },
        body: '{"purpose":"user_data"}',
      });
      assert.equal(json.status, 415);
      assert.deepEqual(filesUnder(join(root, 'tmp')), [], 'no temp file left');
    });

    test('an oversized file gets 413 and leaves nothing on disk, with the purpose before or after it', async () => {
      const before = filesUnder(root).length;
      const big = Buffer.concat([PNG, Buffer.alloc(5_000, 1)]);
      for (const order of ['purpose first', 'file first'] as const) {
        const purpose = { name: 'purpose', value: 'vision' };
        const file = { name: 'file', bytes: big, filename: 'big.png', type: 'image/png' };
        const res = await upload(gw, a.key, order === 'purpose first' ? [purpose, file] : [file, purpose]);
        const e = await errorOf(res);
        assert.equal(e.status, 413, order);
        assert.equal(e.code, 'invalid_request');
        assert.match(e.message, /larger than 2000 bytes/);
      }
      // The largest purpose's limit bounds any file, whatever the fields say.
      assert.equal(filesUnder(root).length, before, 'no file left on disk');
    });

    test('types: sniffed from the bytes; a wrong type or a lying content type is refused with 415', async () => {
      const cases: Array<[string, Parameters<typeof upload>[2], RegExp]> = [
        [
          'text as an image',
          [
            { name: 'purpose', value: 'vision' },
            { name: 'file', bytes: Buffer.from('just some text, long enough to sniff '.repeat(3)), filename: 'a.png' },
          ],
          /not a recognised image\/\* file/,
        ],
        [
          'HTML declared image/png',
          [
            { name: 'purpose', value: 'execution_input' },
            { name: 'file', bytes: HTML, filename: 'x.png', type: 'image/png' },
          ],
          /not a recognised/,
        ],
        [
          'a JPEG declared image/png',
          [
            { name: 'file', bytes: JPEG, filename: 'x.png', type: 'image/png' },
            { name: 'purpose', value: 'execution_input' },
          ],
          /sent as image\/png but its bytes are image\/jpeg/,
        ],
        [
          'audio for vision',
          [
            { name: 'purpose', value: 'vision' },
            { name: 'file', bytes: WAV, filename: 'a.wav' },
          ],
          /audio\/wav are not accepted for vision/,
        ],
        [
          'a PNG declared text/plain for user_data',
          [
            { name: 'purpose', value: 'user_data' },
            { name: 'file', bytes: PNG, filename: 'a.txt', type: 'text/plain' },
          ],
          /sent as text\/plain but its bytes are image\/png/,
        ],
      ];
      for (const [what, parts, message] of cases) {
        const e = await errorOf(await upload(gw, a.key, parts));
        assert.equal(e.status, 415, `${what}: ${e.message}`);
        assert.match(e.message, message, what);
      }
      const wav = await a.client.files.create({
        file: await toFile(WAV, 'a.wav'),
        purpose: 'execution_input' as 'user_data',
      });
      assert.equal((wav as unknown as { content_type: string }).content_type, 'audio/wav', 'sniffed when not declared');
      assert.deepEqual(filesUnder(join(root, 'tmp')), []);
    });

    test('a filename is metadata only: path segments dropped, bytes stored under the id', async () => {
      for (const name of ['../../../../etc/passwd', '..\\..\\windows\\evil.txt', '..']) {
        const res = await upload(gw, a.key, [
          { name: 'purpose', value: 'user_data' },
          { name: 'file', bytes: Buffer.from('traversal'), filename: name },
        ]);
        const file = (await res.json()) as { id: string; filename: string };
        assert.equal(res.status, 200, JSON.stringify(file));
        assert.ok(
          !file.filename.includes('/') && !file.filename.includes('\\') && file.filename !== '..',
          file.filename,
        );
        const onDisk = filesUnder(join(root, 'objects')).filter((p) => p.endsWith(file.id));
        assert.deepEqual(onDisk, [`${file.id.slice(5, 7)}/${file.id}`]);
      }
      const quoted = await upload(gw, a.key, [
        { name: 'purpose', value: 'user_data' },
        { name: 'file', bytes: Buffer.from('q'), filename: 'résumé "final".txt' },
      ]);
      const q = (await quoted.json()) as { id: string; filename: string };
      // undici's FormData sends a quote in a filename as %22 (the HTML form rule).
      assert.equal(q.filename, 'résumé %22final%22.txt');
      const dl = await get(gw, a.key, `/v1/files/${q.id}/content`);
      assert.equal(
        dl.headers.get('content-disposition'),
        `attachment; filename="r_sum_ %22final%22.txt"; filename*=UTF-8''${encodeURIComponent(q.filename)}`,
      );
      assert.equal(await dl.text(), 'q');
      for (const id of ['..%2F..%2Fetc%2Fpasswd', '%2e%2e', 'file_..', 'file_00000000-0000-4000-8000-00000000000g']) {
        const res = await get(gw, a.key, `/v1/files/${id}/content`);
        assert.equal(res.status, 404, id);
        await res.text();
      }
    });

    test('expires_after sets the expiry; an expired file is gone from every route', async () => {
      const res = await upload(gw, a.key, [
        { name: 'purpose', value: 'user_data' },
        { name: 'expires_after[anchor]', value: 'created_at' },
        { name: 'expires_after[seconds]', value: '3600' },
        { name: 'file', bytes: Buffer.from('short-lived'), filename: 'e.txt' },
      ]);
      const file = (await res.json()) as { id: string; created_at: number; expires_at: number };
      assert.equal(res.status, 200);
      assert.equal(file.expires_at - file.created_at, 3600);
      const bad = await upload(gw, a.key, [
        { name: 'purpose', value: 'user_data' },
        { name: 'expires_after[anchor]', value: 'created_at' },
        { name: 'expires_after[seconds]', value: '5' },
        { name: 'file', bytes: Buffer.from('x'), filename: 'e.txt' },
      ]);
      assert.equal((await errorOf(bad)).status, 400);
    });

    test('ExecutionFiles: the worker stores outputs and reads inputs, scoped to the tenant', async () => {
      const files = gw.runtime.files;
      const out = await files.put('tenant-a', { bytes: PNG, contentType: 'image/png', purpose: 'execution_output' });
      assert.equal(out.purpose, 'execution_output');
      assert.ok(out.expiresAt !== null && out.expiresAt - out.createdAt === 30 * 86_400_000, 'outputs kept 30 days');
      assert.deepEqual(Buffer.from((await files.read('tenant-a', out.id))!.bytes), PNG);
      assert.equal(await files.read('tenant-b', out.id), undefined);
      const seen = await a.client.files.retrieve(out.id);
      assert.equal(seen.purpose, 'execution_output');
    });
  });
}
