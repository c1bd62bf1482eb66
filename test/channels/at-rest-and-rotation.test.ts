import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { it } from 'node:test';
import { sql } from 'kysely';
import { generateMasterKey, masterKeyOf } from '../../src/channels/master-key.ts';
import type { Store } from '../../src/store/db.ts';
import { forEachDatabase } from '../helpers/databases.ts';
import { leakedSecrets } from '../helpers/secrets.ts';
import { startMockOpenAI } from '../mocks/openai-compatible.ts';
import { waitFor } from '../tenancy/helpers.ts';
import { runCli } from './cli.ts';
import { chatTo, mockChannel, startChannelGateway } from './helpers.ts';

/**
 * Channel credentials at rest, on SQLite and PostgreSQL: after channels are created and used (an upstream
 * error echoing a key included), no table and no SQLite file holds a credential; `channels rotate-master-key`
 * re-encrypts every row under the new key while the gateway keeps serving (its key file lists the new key
 * and the old), and a gateway started with the new key alone reads them all.
 */
const KEY_1 = 'sk-rest-one-0123456789abcdefghijklmnopqr';
const KEY_2 = 'sk-rest-two-0123456789abcdefghijklmnopqr';
const KEY_3 = 'sk-rest-three-0123456789abcdefghijklmnop';

forEachDatabase('channel credentials at rest', (suite) => {
  it('no plaintext credential in the database or its files; rotate-master-key keeps everything readable', async () => {
    const upstream = await startMockOpenAI({ apiKeys: [KEY_1, KEY_2, KEY_3] });
    const config = suite.newConfig();
    const storage =
      config.kind === 'sqlite'
        ? { kind: 'sqlite' as const, path: config.path }
        : { kind: 'postgres' as const, url: config.url, schema: config.schema! };
    const dir = suite.tempDir();
    const keyFile = join(dir, `master-${config.kind}.key`);
    const oldKey = generateMasterKey();
    const newKey = generateMasterKey();
    writeFileSync(keyFile, `${oldKey}\n`, { mode: 0o600 });
    const configFile = join(dir, `modro-${config.kind}.yaml`);
    writeFileSync(configFile, `storage: ${JSON.stringify(storage)}\ndemo:\n  enabled: false\n`);
    const secrets = [KEY_1, KEY_2, KEY_3, oldKey, newKey];
    const env = { MODRO_MASTER_KEY_FILE: keyFile };

    try {
      await scenario();
    } finally {
      await upstream.close();
    }

    async function scenario() {
      let { gw, admin } = await startChannelGateway({ storage }, env);
      try {
        await admin.json('POST', '/admin/api/channels', mockChannel('vault', upstream.url, [KEY_1]));
        await admin.json('POST', '/admin/api/channels/vault/credentials', { key: KEY_2, rotateBy: '2020-01-01' });
        for (let i = 0; i < 3; i++) assert.equal((await chatTo(gw, 'vault/gpt-4o-mini')).status, 200);
        upstream.faults.push({
          kind: 'status',
          status: 400,
          body: { error: { message: `Key ${KEY_1} ${KEY_2} may not set this`, type: 'invalid_request_error' } },
        });
        const refused = await chatTo(gw, 'vault/gpt-4o-mini');
        assert.equal(refused.status, 400);
        assert.deepEqual(leakedSecrets(await refused.text(), secrets), [], 'the echoed key is not passed on');

        // Rotation: the new key first in the file, the old one after it; the CLI re-encrypts; the gateway
        // keeps serving throughout and picks the new keyring up on its next reload (the revision moved).
        writeFileSync(keyFile, `${newKey}\n${oldKey}\n`);
        const rotate = () =>
          runCli(['channels', 'rotate-master-key', '--config', configFile], { MODRO_MASTER_KEY_FILE: keyFile });
        const first = await rotate();
        assert.equal(first.code, 0, first.output);
        assert.match(first.stdout, /re-encrypted 2 credential\(s\)/);
        assert.equal((await chatTo(gw, 'vault/gpt-4o-mini')).status, 200);
        const newId = masterKeyOf(newKey, '').id;
        await waitFor(async () => {
          const channels = await admin.json<{ data: Array<{ credentials: Array<{ masterKeyId: string }> }> }>(
            'GET',
            '/admin/api/channels',
          );
          return channels.data[0]!.credentials.every((c) => c.masterKeyId === newId);
        }, 'every credential under the new key');
        // A credential added now is sealed with the new key by the running gateway.
        await waitFor(async () => {
          const res = await admin.request('POST', '/admin/api/channels/vault/credentials', { key: KEY_3, label: 'k3' });
          await res.text();
          return res.status === 201;
        }, 'a credential added after the rotation');
        const again = await rotate();
        assert.equal(again.code, 0, again.output);
        assert.match(again.stdout, /re-encrypted 0 credential\(s\).*; 3 already were/, again.output);
      } finally {
        await gw.close();
      }

      // A gateway that knows only the new key reads every credential and serves with each.
      writeFileSync(keyFile, `${newKey}\n`);
      ({ gw, admin } = await startChannelGateway({ storage }, env));
      try {
        upstream.reset();
        for (let i = 0; i < 3; i++) {
          const res = await chatTo(gw, 'vault/gpt-4o-mini');
          assert.equal(res.status, 200, await res.text());
        }
        const used = new Set(upstream.requests.map((r) => String(r.headers.authorization)));
        assert.equal(used.size, 3, 'all three credentials decrypted and in rotation');
        assert.deepEqual(leakedSecrets(gw.logs.join('\n'), secrets), [], 'no key in the logs');
        assert.ok(
          gw.logs.some((line) => line.includes('channel credential due for rotation') && line.includes('passed')),
          'a credential past its rotate-by date is warned about at start',
        );
      } finally {
        await gw.close();
      }
    }

    const store = await suite.open(config);
    const text = await dumpTables(store);
    assert.ok(text.includes('vault') && text.includes('v1.'), 'the dump holds the channel tables');
    assert.deepEqual(leakedSecrets(text, secrets), [], `${suite.kind}: a credential is stored in plain text`);
    if (config.kind === 'sqlite') {
      const folder = dirname(config.path);
      // Every file under the data folder, in subfolders too (the file store keeps its objects in one).
      for (const entry of readdirSync(folder, { recursive: true, withFileTypes: true })) {
        if (!entry.isFile()) continue;
        const name = join(entry.parentPath, entry.name);
        const bytes = readFileSync(name).toString('latin1');
        assert.deepEqual(leakedSecrets(bytes, secrets), [], `a credential is in ${name}`);
      }
    }
  });
});

async function dumpTables(store: Store): Promise<string> {
  const names =
    store.dialect === 'sqlite'
      ? await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(store.db)
      : await sql<{
          name: string;
        }>`select table_name as name from information_schema.tables where table_schema = current_schema()`.execute(
          store.db,
        );
  const parts: string[] = [];
  for (const { name } of names.rows) {
    const result = await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(store.db);
    parts.push(name);
    for (const row of result.rows) {
      parts.push(
        Object.values(row)
          .map((v) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : String(v)))
          .join('\t'),
      );
    }
  }
  return parts.join('\n');
}
