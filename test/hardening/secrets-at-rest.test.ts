import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { it } from 'node:test';
import { sql } from 'kysely';
import type { Store } from '../../src/store/db.ts';
import { forEachDatabase } from '../helpers/databases.ts';
import { mockProvider, TEST_API_KEY } from '../helpers/gateway.ts';
import { leakedSecrets } from '../helpers/secrets.ts';
import { startMockOpenAI } from '../mocks/openai-compatible.ts';
import { ADMIN_PASSWORD, adminClient, chat, openLink, startTenancyGateway, waitFor } from '../tenancy/helpers.ts';

/**
 * No plaintext secret at rest, on SQLite and PostgreSQL: after traffic with every kind of credential (a
 * configured gateway key, managed keys, a revoked one, bring-your-own keys with and without a prefix, the
 * operator's provider key), upstream errors that echo keys, dashboard and admin sessions, and a clean shutdown
 * (which writes last-used times), every row of every table is searched for every secret, and on SQLite every
 * file in the data folder too (database, WAL, usage journal), since deleted rows and free pages keep bytes.
 * Keys are stored as hashes and a 13-character display prefix, which the search allows.
 */
const OPERATOR_KEY = 'vllm-local-token-7f3a9c';
const OWN_KEY = 'sk-byok-rest-0123456789abcdefghijklmnopq';
const OWN_PLAIN_KEY = 'Zq8pLk2V9xTn4Rb7Wm1Yc6Hd';
const TENANCY_SECRET = 'a-tenancy-secret-of-at-least-32-characters-rest';

forEachDatabase('secrets at rest', (suite) => {
  it('no table (and no SQLite file) holds a key, password, session cookie or the server secret', async () => {
    const upstream = await startMockOpenAI({ apiKeys: [OPERATOR_KEY, OWN_KEY, OWN_PLAIN_KEY] });
    const config = suite.newConfig();
    const storage =
      config.kind === 'sqlite'
        ? { kind: 'sqlite' as const, path: config.path }
        : { kind: 'postgres' as const, url: config.url, schema: config.schema! };
    const secrets = [TEST_API_KEY, OPERATOR_KEY, OWN_KEY, OWN_PLAIN_KEY, TENANCY_SECRET, ADMIN_PASSWORD];
    const gw = await startTenancyGateway({
      storage,
      demo: { enabled: false },
      tenancy: { secret: TENANCY_SECRET, byok: { enabled: true } },
      providers: [
        mockProvider('openai', upstream.url, [{ name: 'gpt-4o-mini', qualityRank: 70 }], { keys: [OPERATOR_KEY] }),
      ],
      routing: { maxAttempts: 1 },
    });
    try {
      const admin = await adminClient(gw);
      secrets.push(cookieValue(admin.cookie));
      await admin.json('POST', '/admin/api/tenants', { id: 'acme' });
      const managed: Array<{ id: string; key: string }> = [];
      for (let i = 0; i < 2; i++) {
        managed.push(await admin.json<{ id: string; key: string }>('POST', '/admin/api/keys', { tenantId: 'acme' }));
      }
      secrets.push(...managed.map((m) => m.key));

      const echo = (key: string) =>
        upstream.faults.push({
          kind: 'status',
          status: 400,
          body: { error: { message: `Key ${key} may not set this parameter`, type: 'invalid_request_error' } },
        });
      const callers: Array<{ token: string; upstreamKey: string; headers?: Record<string, string> }> = [
        { token: TEST_API_KEY, upstreamKey: OPERATOR_KEY },
        ...managed.map((m) => ({ token: m.key, upstreamKey: OPERATOR_KEY })),
        { token: OWN_KEY, upstreamKey: OWN_KEY },
        { token: OWN_PLAIN_KEY, upstreamKey: OWN_PLAIN_KEY, headers: { 'x-modro-provider': 'openai' } },
      ];
      for (const caller of callers) {
        const ok = await chat(gw, caller.token, undefined, caller.headers);
        assert.equal(ok.status, 200, await ok.text());
        const streamed = await chat(gw, caller.token, { ...CHAT_STREAM }, caller.headers);
        assert.equal(streamed.status, 200);
        await streamed.text();
        echo(caller.upstreamKey);
        const refused = await chat(gw, caller.token, undefined, caller.headers);
        assert.ok(refused.status >= 400);
        await refused.text();
        const link = ok.headers.get('x-client-dashboard-url');
        if (link) secrets.push(cookieValue((await openLink(link)).cookie));
      }
      await admin.json('POST', `/admin/api/keys/${managed[0]!.id}/revoke`);
      await waitFor(async () => (await chat(gw, managed[0]!.key)).status === 401, 'the revoked key is refused');
      await admin.json('PATCH', '/admin/api/tenants/acme', { preset: 'cheapest' });
    } finally {
      await gw.close();
      await upstream.close();
    }

    const store = await suite.open(config);
    const { text, rows } = await dumpTables(store);
    assert.ok(rows['usage_record']! >= 15, `usage records: ${rows['usage_record']}`);
    assert.ok(text.includes('acme') && text.includes('mdro_'), 'the dump holds the tenancy tables');
    assert.deepEqual(leakedSecrets(text, secrets), [], `${suite.kind}: a secret is stored in plain text`);
    if (config.kind === 'sqlite') {
      const folder = dirname(config.path);
      // Every file under the data folder, in subfolders too (the file store keeps its objects in one).
      for (const entry of readdirSync(folder, { recursive: true, withFileTypes: true })) {
        if (!entry.isFile()) continue;
        const name = join(entry.parentPath, entry.name);
        const bytes = readFileSync(name).toString('latin1');
        assert.deepEqual(leakedSecrets(bytes, secrets), [], `a secret is in ${name}`);
      }
    }
  });
});

const CHAT_STREAM = { model: 'fast', stream: true, messages: [{ role: 'user', content: 'hello' }] };

/** `name=value` → value. */
function cookieValue(cookie: string): string {
  return cookie.slice(cookie.indexOf('=') + 1);
}

/** Every row of every table of the store's schema, as one text; and the row count per table. */
async function dumpTables(store: Store): Promise<{ text: string; rows: Record<string, number> }> {
  const names =
    store.dialect === 'sqlite'
      ? await sql<{ name: string }>`select name from sqlite_master where type = 'table'`.execute(store.db)
      : await sql<{
          name: string;
        }>`select table_name as name from information_schema.tables where table_schema = current_schema()`.execute(
          store.db,
        );
  const parts: string[] = [];
  const rows: Record<string, number> = {};
  for (const { name } of names.rows) {
    const result = await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(store.db);
    rows[name] = result.rows.length;
    parts.push(name);
    for (const row of result.rows) parts.push(Object.values(row).map(cellText).join('\t'));
  }
  return { text: parts.join('\n'), rows };
}

/** A cell as text: bytes as they are stored (latin1 keeps every byte), JSON and dates as text. */
function cellText(value: unknown): string {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('latin1');
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) return JSON.stringify(value);
  return String(value);
}
