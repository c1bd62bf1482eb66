import { appendFile, readFile, unlink } from 'node:fs/promises';
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { type UsageRecord, writeUsageBatch } from './usage.ts';

/**
 * Reading journal files back into the database (usage-journal.ts): the segments a process left when it died,
 * an earlier version's spill file, and segments whose records left memory during a database outage.
 */

export interface JournalImportResult {
  /** Records stored by this import. */
  imported: number;
  /** Records the database already held. */
  duplicates: number;
  /** Lines that were not records (a line cut short by a crash mid-write). */
  malformed: number;
}

/**
 * Imports one journal file (a leftover segment, an earlier version's spill file, or an offloaded segment):
 * its records go to the database in batches, parsed a batch at a time so the event loop is never held long.
 * Lines that are not records are counted and, given `malformedPath`, appended there (mode 0600) rather than
 * lost: a human may still recover them. The file itself is left for the caller to delete.
 */
export async function importJournalFile(
  db: Kysely<Database>,
  path: string,
  batchSize: number,
  malformedPath?: string,
): Promise<JournalImportResult> {
  const result: JournalImportResult = { imported: 0, duplicates: 0, malformed: 0 };
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return result;
    throw err;
  }
  const lines = text.split('\n');
  const malformed: string[] = [];
  for (let i = 0; i < lines.length; i += batchSize) {
    const records: UsageRecord[] = [];
    for (const line of lines.slice(i, i + batchSize)) {
      if (line.trim() === '') continue;
      const record = parseLine(line);
      if (record) records.push(record);
      else malformed.push(line);
    }
    if (records.length === 0) continue;
    const written = await writeUsageBatch(db, records);
    result.imported += written.inserted;
    result.duplicates += written.duplicates;
  }
  result.malformed = malformed.length;
  if (malformedPath && malformed.length > 0) {
    await appendFile(malformedPath, `${malformed.join('\n')}\n`, { mode: 0o600 });
  }
  return result;
}

/** Imports a leftover file, then deletes it. */
export async function importLeftover(
  db: Kysely<Database>,
  path: string,
  batchSize: number,
  malformedPath: string,
): Promise<JournalImportResult> {
  const result = await importJournalFile(db, path, batchSize, malformedPath);
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  return result;
}

function parseLine(line: string): UsageRecord | undefined {
  try {
    const value: unknown = JSON.parse(line);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    const r = value as Partial<UsageRecord>;
    if (typeof r.requestId !== 'string' || typeof r.tenantId !== 'string') return undefined;
    return r as UsageRecord;
  } catch {
    return undefined;
  }
}
