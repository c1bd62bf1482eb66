import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { sha256Hex } from '../../src/tenancy/auth.ts';
import { generateManagedKey, MANAGED_KEY_PREFIX } from '../../src/tenancy/managed-keys.ts';
import { hashPassword, verifyPassword } from '../../src/tenancy/passwords.ts';
import { deriveKeys, loadServerSecret, SECRET_FILE } from '../../src/tenancy/secret.ts';

describe('server secret', () => {
  const dir = mkdtempSync(join(tmpdir(), 'modro-secret-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('generated once at first start, kept with mode 0600, and reused', () => {
    const first = loadServerSecret(undefined, join(dir, 'data'));
    assert.equal(first.source, 'generated');
    const path = join(dir, 'data', SECRET_FILE);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.ok(readFileSync(path, 'utf8').trim().length >= 32);
    const second = loadServerSecret(undefined, join(dir, 'data'));
    assert.equal(second.source, 'file');
    assert.deepEqual(second.keys, first.keys);
  });

  test('a configured secret wins; too short a secret is refused', () => {
    const configured = loadServerSecret('x'.repeat(40), join(dir, 'data'));
    assert.equal(configured.source, 'config');
    assert.throws(() => loadServerSecret('short', dir), /too short/);
  });

  test('each purpose has its own subkey', () => {
    const keys = deriveKeys('s'.repeat(40));
    assert.notDeepEqual(keys.byokTenant, keys.dashboardLink);
    assert.notDeepEqual(deriveKeys('t'.repeat(40)).dashboardLink, keys.dashboardLink);
  });
});

describe('admin passwords (scrypt)', () => {
  test('verify accepts the password, rejects others and malformed hashes', async () => {
    const stored = await hashPassword('correct horse battery');
    assert.match(stored, /^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);
    assert.equal(await verifyPassword('correct horse battery', stored), true);
    assert.equal(await verifyPassword('correct horse batterY', stored), false);
    assert.equal(await verifyPassword('correct horse battery', 'plain'), false);
    assert.equal(await verifyPassword('x', 'scrypt$99999999999$8$1$aa$bb'), false);
    assert.notEqual(await hashPassword('correct horse battery'), stored, 'salted');
  });
});

describe('managed keys', () => {
  test('prefixed, 256 random bits, stored as SHA-256, shown by an 8-character prefix', () => {
    const a = generateManagedKey();
    const b = generateManagedKey();
    assert.ok(a.key.startsWith(MANAGED_KEY_PREFIX));
    assert.equal(a.key.length, MANAGED_KEY_PREFIX.length + 43);
    assert.notEqual(a.key, b.key);
    assert.equal(a.hash, sha256Hex(a.key));
    assert.equal(a.prefix, a.key.slice(0, MANAGED_KEY_PREFIX.length + 8));
    assert.match(a.id, /^key_[0-9a-f]{16}$/);
  });
});
