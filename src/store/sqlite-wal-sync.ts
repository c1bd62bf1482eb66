import { open } from 'node:fs/promises';

/**
 * Puts SQLite's committed transactions on disk without blocking the event loop. With WAL and
 * `synchronous=NORMAL` (sqlite-dialect.ts) a commit reaches the WAL file but is synced only at the next
 * checkpoint; syncing the WAL file from a second descriptor (fdatasync applies to the file, not to the
 * descriptor) makes every commit so far survive a power loss. Frames already checkpointed were synced
 * into the database file by the checkpoint itself. The usage journal calls this before it deletes a segment
 * whose records the database holds.
 */
export async function syncSqliteWal(databasePath: string): Promise<void> {
  let file: Awaited<ReturnType<typeof open>>;
  try {
    file = await open(`${databasePath}-wal`, 'r');
  } catch (err) {
    // No WAL file: everything committed was checkpointed (and synced) into the database file.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    await file.datasync();
  } finally {
    await file.close();
  }
}
