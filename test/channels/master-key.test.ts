import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  generateMasterKey,
  keyringOf,
  loadKeyring,
  MasterKeyError,
  masterKeyOf,
  open,
  seal,
  sealedWith,
} from '../../src/channels/master-key.ts';

const SECRET = 'sk-live-channel-secret-0123456789abcdef';

describe('channel credential encryption (AES-256-GCM under a master key)', () => {
  const a = masterKeyOf(generateMasterKey(), 'a');
  const b = masterKeyOf(generateMasterKey(), 'b');

  it('round-trips, names its key id, and never holds the plain text', () => {
    const ring = keyringOf(a);
    const sealed = seal(ring, 'cred_1', SECRET);
    assert.equal(sealedWith(sealed), a.id);
    assert.ok(!sealed.includes(SECRET) && !Buffer.from(sealed).toString('latin1').includes(SECRET.slice(4, 24)));
    assert.equal(open(ring, 'cred_1', sealed), SECRET);
    assert.notEqual(seal(ring, 'cred_1', SECRET), sealed, 'a fresh IV every time');
  });

  it('refuses another row id (AAD), a tampered ciphertext, and an unknown key, without the value', () => {
    const ring = keyringOf(a);
    const sealed = seal(ring, 'cred_1', SECRET);
    assert.throws(() => open(ring, 'cred_2', sealed), MasterKeyError);
    const parts = sealed.split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[0] = body[0]! ^ 1;
    assert.throws(
      () => open(ring, 'cred_1', [...parts.slice(0, 3), body.toString('base64url')].join('.')),
      MasterKeyError,
    );
    assert.throws(
      () => open(keyringOf(b), 'cred_1', sealed),
      (err: Error) => err instanceof MasterKeyError && err.message.includes(a.id) && !err.message.includes(SECRET),
    );
  });

  it('a keyring of the new key and the old one opens both; new seals use the new key', () => {
    const old = seal(keyringOf(a), 'x', SECRET);
    const ring = keyringOf(b, [a]);
    assert.equal(open(ring, 'x', old), SECRET);
    assert.equal(sealedWith(seal(ring, 'x', SECRET)), b.id);
  });

  it('loads from MODRO_MASTER_KEY[_PREVIOUS] and from a file; bad keys are named, not printed', async () => {
    const keyA = generateMasterKey();
    const keyB = generateMasterKey();
    assert.equal(await loadKeyring({}), undefined);
    const env = await loadKeyring({ MODRO_MASTER_KEY: keyB, MODRO_MASTER_KEY_PREVIOUS: keyA });
    assert.deepEqual(
      env?.all.map((k) => k.id),
      [masterKeyOf(keyB, '').id, masterKeyOf(keyA, '').id],
    );
    const dir = mkdtempSync(join(tmpdir(), 'modro-mk-'));
    try {
      const file = join(dir, 'master.key');
      writeFileSync(file, `# current first\n${keyB}\n${keyA}\n`);
      const fromFile = await loadKeyring({ MODRO_MASTER_KEY_FILE: file });
      assert.equal(fromFile?.current.id, masterKeyOf(keyB, '').id);
      assert.equal(fromFile?.all.length, 2);
      await assert.rejects(loadKeyring({ MODRO_MASTER_KEY: 'c2hvcnQ=' }), (err: Error) => {
        return (
          err instanceof MasterKeyError && err.message.includes('MODRO_MASTER_KEY') && !err.message.includes('c2hvcnQ')
        );
      });
      await assert.rejects(loadKeyring({ MODRO_MASTER_KEY_FILE: join(dir, 'missing') }), MasterKeyError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
