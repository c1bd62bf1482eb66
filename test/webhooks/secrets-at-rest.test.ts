import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { generateMasterKey, masterKeyOf } from '../../src/channels/master-key.ts';
import { runChannelCommand } from '../../src/cli/channel-commands.ts';
import { openStore } from '../../src/store/db.ts';
import { LOCAL_KEY_FILE, loadWebhookKeyring, SigningSecrets } from '../../src/webhooks/signing-secrets.ts';
import { forEachDatabase } from '../helpers/databases.ts';

/**
 * Webhook signing secrets at rest: sealed under a local key file (0600) when no master key is configured,
 * under the master key when one is, re-sealed when the key changes (at start and by
 * `modro channels rotate-master-key`), never readable from the database alone, and bound to their tenant.
 */
function sink() {
  let text = '';
  return {
    write: (s: string) => {
      text += s;
      return true;
    },
    text: () => text,
  };
}

forEachDatabase('webhook secrets at rest', (suite) => {
  it('local key file, then a master key, then a master key rotation: the secret stays the same and sealed', async () => {
    const { store } = await suite.fresh();
    const dir = join(suite.tempDir(), `data-${Math.random().toString(36).slice(2)}`);
    const open = async (env: NodeJS.ProcessEnv) => {
      const { keyring, source } = await loadWebhookKeyring(env, dir);
      return { secrets: new SigningSecrets({ db: store.db, keyring, rotationOverlapMs: 0 }), keyring, source };
    };
    const row = () =>
      store.db.selectFrom('webhook_secret').selectAll().where('tenant_id', '=', 'vault').executeTakeFirstOrThrow();

    // No master key: a local key file, owner-only.
    const local = await open({});
    assert.equal(local.source, 'local-file');
    const path = join(dir, LOCAL_KEY_FILE);
    assert.ok(existsSync(path));
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const { secret } = await local.secrets.get('vault');
    let stored = await row();
    assert.ok(!JSON.stringify(stored).includes(secret.slice(6)), 'the row does not hold the secret');
    assert.equal(stored.key_id, masterKeyOf(readFileSync(path, 'utf8'), path).id);

    // A master key is configured: rows sealed by the local key still open, and are moved to the master key.
    const oldKey = generateMasterKey();
    const withMaster = await open({ MODRO_MASTER_KEY: oldKey });
    assert.equal(withMaster.source, 'master-key');
    assert.equal(await withMaster.secrets.reseal(), 1);
    stored = await row();
    assert.equal(stored.key_id, masterKeyOf(oldKey, '').id);
    assert.equal((await withMaster.secrets.get('vault')).secret, secret);

    // The master key rotated (the old one kept as previous): re-sealed under the new one.
    const newKey = generateMasterKey();
    const rotated = await open({ MODRO_MASTER_KEY: newKey, MODRO_MASTER_KEY_PREVIOUS: oldKey });
    assert.equal(await rotated.secrets.reseal(), 1);
    assert.equal((await row()).key_id, masterKeyOf(newKey, '').id);
    // The old key gone: still readable, still the same secret.
    const onlyNew = await open({ MODRO_MASTER_KEY: newKey });
    assert.equal((await onlyNew.secrets.get('vault')).secret, secret);
    // Without the key that sealed it, nothing opens.
    const wrong = await open({ MODRO_MASTER_KEY: generateMasterKey() });
    await assert.rejects(wrong.secrets.get('vault'), /not configured/);
  });

  it('a ciphertext copied to another tenant’s row does not open', async () => {
    const { store } = await suite.fresh();
    const dir = join(suite.tempDir(), `data-${Math.random().toString(36).slice(2)}`);
    const { keyring } = await loadWebhookKeyring({}, dir);
    const secrets = new SigningSecrets({ db: store.db, keyring, rotationOverlapMs: 0 });
    await secrets.get('alice');
    await secrets.get('mallory');
    const alice = await store.db
      .selectFrom('webhook_secret')
      .select('ciphertext')
      .where('tenant_id', '=', 'alice')
      .executeTakeFirstOrThrow();
    await store.db
      .updateTable('webhook_secret')
      .set({ ciphertext: alice.ciphertext })
      .where('tenant_id', '=', 'mallory')
      .execute();
    await assert.rejects(secrets.get('mallory'), /does not authenticate/);
  });
});

it('modro channels rotate-master-key re-seals webhook signing secrets', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'modro-hook-cli-'));
  try {
    const dbPath = join(dir, 'modro.db');
    const oldKey = generateMasterKey();
    const newKey = generateMasterKey();
    const store = await openStore({ kind: 'sqlite', path: dbPath });
    const first = await loadWebhookKeyring({ MODRO_MASTER_KEY: oldKey }, dir);
    const secret = (await new SigningSecrets({ db: store.db, keyring: first.keyring, rotationOverlapMs: 0 }).get('t'))
      .secret;
    await store.close();
    const configFile = join(dir, 'modro.yaml');
    writeFileSync(configFile, `storage: ${JSON.stringify({ kind: 'sqlite', path: dbPath })}\n`);
    const out = sink();
    const err = sink();
    const code = await runChannelCommand(
      ['channels', 'rotate-master-key', '--config', configFile],
      { MODRO_MASTER_KEY: newKey, MODRO_MASTER_KEY_PREVIOUS: oldKey },
      out,
      err,
    );
    assert.equal(code, 0, err.text());
    assert.match(out.text(), /re-encrypted 1 webhook signing secret\(s\)/);
    const reopened = await openStore({ kind: 'sqlite', path: dbPath });
    try {
      const onlyNew = await loadWebhookKeyring({ MODRO_MASTER_KEY: newKey }, dir);
      const again = new SigningSecrets({ db: reopened.db, keyring: onlyNew.keyring, rotationOverlapMs: 0 });
      assert.equal((await again.get('t')).secret, secret);
    } finally {
      await reopened.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
