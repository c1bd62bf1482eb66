import { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { appendFile, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import { type UsageRecord, writeUsageBatch } from './usage.ts';

/**
 * The spill file: usage records that could not reach the database (at shutdown, or when too many piled
 * up during an outage), one JSON object per line, appended and fsynced. It is imported and deleted at the
 * next start, or once the database is back. Import is idempotent (records are unique by requestId), so a
 * crash between importing and deleting the file counts nothing twice.
 */

export interface SpillImportResult {
  /** Records stored by this import. */
  imported: number;
  /** Records already in the database (an earlier import that crashed before deleting the file). */
  duplicates: number;
  /** Lines that were not records (a line cut short by a crash while appending); moved to `<path>.malformed`. */
  malformed: number;
}

export async function appendSpill(path: string, records: readonly UsageRecord[]): Promise<void> {
  if (records.length === 0) return;
  await mkdir(dirname(path), { recursive: true });
  const file = await open(path, 'a+');
  try {
    const { size } = await file.stat();
    let prefix = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      await file.read(last, 0, 1, size - 1);
      prefix = last[0] === 0x0a ? '' : '\n';
    }
    await file.write(prefix + toLines(records));
    await file.sync();
  } finally {
    await file.close();
  }
}

/** For records that arrive after the writer closed, when nothing asynchronous may run any more. */
export function appendSpillSync(path: string, records: readonly UsageRecord[]): void {
  if (records.length === 0) return;
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'a+');
  try {
    const { size } = fstatSync(fd);
    let prefix = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      readSync(fd, last, 0, 1, size - 1);
      prefix = last[0] === 0x0a ? '' : '\n';
    }
    writeSync(fd, prefix + toLines(records));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Imports the spill file, if any, and deletes it once every record is stored. */
export async function importSpill(db: Kysely<Database>, path: string, batchSize = 500): Promise<SpillImportResult> {
  const result: SpillImportResult = { imported: 0, duplicates: 0, malformed: 0 };
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return result;
    throw err;
  }
  const records: UsageRecord[] = [];
  const malformed: string[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const record = parseLine(line);
    if (record) records.push(record);
    else malformed.push(line);
  }
  result.malformed = malformed.length;
  for (let i = 0; i < records.length; i += batchSize) {
    const written = await writeUsageBatch(db, records.slice(i, i + batchSize));
    result.imported += written.inserted;
    result.duplicates += written.duplicates;
  }
  // Kept aside rather than deleted with the file: a human may still recover them.
  if (malformed.length > 0) await appendFile(`${path}.malformed`, `${malformed.join('\n')}\n`);
  await unlink(path);
  return result;
}

function toLines(records: readonly UsageRecord[]): string {
  let out = '';
  for (const r of records) out += `${JSON.stringify(r)}\n`;
  return out;
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
