import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStore } from '../../src/store/db.ts';

/** The SQLite database and its WAL files are readable by their owner only; so is a data folder we create. */
const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

test('a new database file, its -wal and -shm files and the folders created for it are owner-only', async () => {
  const root = mkdtempSync(join(tmpdir(), 'modro-mode-'));
  const dataDir = join(root, 'data', 'nested');
  const path = join(dataDir, 'modro.db');
  const store = await openStore({ kind: 'sqlite', path });
  try {
    assert.equal(mode(path), '600');
    assert.equal(mode(`${path}-wal`), '600');
    assert.equal(mode(`${path}-shm`), '600');
    assert.equal(mode(dataDir), '700');
    assert.equal(mode(join(root, 'data')), '700');
  } finally {
    await store.close();
    rmSync(root, { recursive: true, force: true });
  }
});
