import {
  close,
  closeSync,
  fdatasync,
  fdatasyncSync,
  fstatSync,
  mkdirSync,
  open,
  openSync,
  readSync,
  write,
  writeSync,
} from 'node:fs';
import { mkdir, open as openHandle, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';
import type { UsageRecord } from './usage.ts';
import { importJournalFile, type JournalImportResult } from './usage-journal-import.ts';

/**
 * The usage journal: every usage record is appended to a file in the data folder before its response's last
 * byte is sent, so a process that dies (`kill -9`, a crash, out of memory) loses no record a client was
 * answered for: once write(2) has returned, the operating system holds the bytes and writes them out even if
 * the process is gone. Each file is synced (fdatasync) every `syncIntervalMs` in the background, so a power
 * loss or an operating-system crash costs at most the records of that window.
 *
 * The request path never waits on a synchronous call: appends are asynchronous and grouped (group commit):
 * while one write is in flight, the lines that arrive wait and go out together in the next single write, and
 * each caller's promise resolves when its own bytes are written. A write that fails resolves its callers'
 * promises with `false` (the records are still in the writer's memory queue); the failure is reported once per
 * burst of failures.
 *
 * The journal is cut into segments (`usage-journal-<pid>-<instance>-<seq>.jsonl`, mode 0600), sealed when they
 * reach `segmentMaxBytes` or `segmentMaxAgeMs`. Each segment counts its records the database does not hold
 * yet; a sealed segment whose count reaches zero is synced, closed and deleted (after `syncDatabase`, so that a
 * power loss cannot take the database's copy and the journal's together). Segments left by a process that is
 * gone are imported at the next start (`open` lists them, usage-journal-import.ts reads them) and deleted: writes are
 * idempotent by requestId, so a record both in the database and in a leftover segment counts once.
 */

export interface UsageJournalOptions {
  /** The data folder. */
  dir: string;
  /** Default 1000. */
  syncIntervalMs?: number;
  /** Default 8 MiB. */
  segmentMaxBytes?: number;
  /** Default 10 s: an idle gateway ends up with no journal file once its records are in the database. */
  segmentMaxAgeMs?: number;
  /**
   * A write still running after this long (a hung disk) counts as failed for its callers, checked at each
   * sync tick, so responses do not hang with it; its lines are still written if it ever returns. Default 5 s.
   */
  stallMs?: number;
  /**
   * Resolves once the database's committed writes are on disk; awaited before a segment is deleted. Only
   * needed where commits are not synced (SQLite with `synchronous=NORMAL`).
   */
  syncDatabase?: () => Promise<void>;
  /** `append`: once per burst of failed appends. `sync`, `delete`: background work that failed. */
  onError?: (err: unknown, during: 'append' | 'sync' | 'delete') => void;
  /** The number of records of every failed append (for a metric). */
  onAppendFailure?: (records: number) => void;
}

/** Where a record went; handed back to `release` or `offload`. */
export interface JournalSegment {
  readonly path: string;
}

/** Where lines that could not be read back are kept, for a human to look at. */
export const MALFORMED_FILE = 'usage-journal.malformed';
/** What versions before the journal left when the database was gone at shutdown: imported like a segment. */
const LEGACY_SPILL_FILE = 'usage-spill.jsonl';
const SEGMENT_NAME = /^usage-journal-(\d+)-([0-9a-z]+)-\d+\.jsonl$/;

/** Journals open in this process, by instance: their segments are not leftovers. */
const liveInstances = new Set<string>();
let instanceCounter = 0;

class Segment implements JournalSegment {
  readonly path: string;
  readonly createdAt = Date.now();
  /** Characters appended (a close enough measure of bytes, for rotation). */
  bytes = 0;
  /** Records appended that the database does not hold yet. */
  unwritten = 0;
  /** Of those, records dropped from memory during an outage: only this file holds them. */
  offloaded = 0;
  /** Lines appended whose write has not finished. */
  writing = 0;
  sealed = false;
  /** A write failed, perhaps part-way: the next write starts on a new line. */
  torn = false;
  /** Written since the last sync. */
  dirty = false;
  /** The open file descriptor, once `file` has resolved (writes use it directly, without a promise). */
  fd: number | undefined;
  file: Promise<number> | undefined;
  closed: Promise<void> | undefined;
  deleted: Promise<void> | undefined;

  constructor(path: string) {
    this.path = path;
  }
}

interface PendingLine {
  segment: Segment;
  line: string;
  /** Its caller's promise; cleared once settled. */
  resolve: ((written: boolean) => void) | undefined;
}

/** Settles the callers still waiting for these lines; returns how many were. */
function settle(lines: readonly PendingLine[], written: boolean): number {
  let waiting = 0;
  for (const line of lines) {
    if (!line.resolve) continue;
    line.resolve(written);
    line.resolve = undefined;
    waiting++;
  }
  return waiting;
}

export class UsageJournal {
  readonly #dir: string;
  readonly #instance: string;
  readonly #syncIntervalMs: number;
  readonly #segmentMaxBytes: number;
  readonly #segmentMaxAgeMs: number;
  readonly #stallMs: number;
  readonly #syncDatabase: () => Promise<void>;
  readonly #onError: NonNullable<UsageJournalOptions['onError']>;
  readonly #onAppendFailure: NonNullable<UsageJournalOptions['onAppendFailure']>;

  readonly #segments = new Set<Segment>();
  #current: Segment | undefined;
  #sequence = 0;
  #pending: PendingLine[] = [];
  /** The lines of the write in flight, and when it began. */
  #inFlight: PendingLine[] = [];
  #writeStartedAt = 0;
  #writing = false;
  #idle: (() => void) | undefined;
  #failing = false;
  #syncing = false;
  #syncFailing = false;
  /** A segment file was created since the folder was last synced. */
  #dirDirty = false;
  #timer: NodeJS.Timeout | undefined;
  #lateSegment: string | undefined;

  constructor(options: UsageJournalOptions) {
    this.#dir = options.dir;
    this.#instance = `${Date.now().toString(36)}${(instanceCounter++).toString(36)}`;
    this.#syncIntervalMs = options.syncIntervalMs ?? 1000;
    this.#segmentMaxBytes = options.segmentMaxBytes ?? 8 * 1024 * 1024;
    this.#segmentMaxAgeMs = options.segmentMaxAgeMs ?? 10_000;
    this.#stallMs = options.stallMs ?? 5_000;
    this.#syncDatabase = options.syncDatabase ?? (() => Promise.resolve());
    this.#onError = options.onError ?? (() => {});
    this.#onAppendFailure = options.onAppendFailure ?? (() => {});
    liveInstances.add(this.#instance);
  }

  /**
   * Starts the background sync and returns the files earlier runs left (segments of processes that are
   * gone, and an earlier version's spill file), oldest first: import each with `importLeftover`
   * (usage-journal-import.ts), which deletes it.
   */
  async open(): Promise<string[]> {
    await mkdir(this.#dir, { recursive: true });
    // unref: a forgotten journal must not keep the process alive; the writer's close() closes it.
    this.#timer ??= setInterval(() => this.#tick(), this.#syncIntervalMs).unref();
    const names = await readdir(this.#dir);
    return names
      .filter((name) => name === LEGACY_SPILL_FILE || isLeftover(name))
      .sort()
      .map((name) => join(this.#dir, name));
  }

  /**
   * Appends a record. No synchronous I/O and never throws for I/O: `written` resolves true once the line is
   * written, false if the write failed; it never rejects.
   */
  append(record: UsageRecord): { segment: JournalSegment; written: Promise<boolean> } {
    const line = `${JSON.stringify(record)}\n`;
    let segment = this.#current;
    if (segment === undefined || segment.bytes >= this.#segmentMaxBytes) segment = this.#rotate();
    segment.bytes += line.length;
    segment.unwritten++;
    segment.writing++;
    const written = new Promise<boolean>((resolve) => {
      this.#pending.push({ segment, line, resolve });
    });
    if (!this.#writing) {
      this.#writing = true;
      void this.#writeLoop();
    }
    return { segment, written };
  }

  /** The database now holds one more of this segment's records. */
  release(handle: JournalSegment): void {
    const segment = handle as Segment;
    segment.unwritten--;
    this.#settle(segment);
  }

  /**
   * A record leaves memory during a long database outage: only its segment holds it now, and `readBack`
   * brings it to the database later. Seal the current segment first (`seal`), so that only sealed segments
   * are read back.
   */
  offload(handle: JournalSegment): void {
    (handle as Segment).offloaded++;
  }

  /** Starts a new segment for the next append. */
  seal(): void {
    if (this.#current) this.#sealSegment(this.#current);
  }

  /** Records dropped from memory that only the journal holds. */
  get offloaded(): number {
    let total = 0;
    for (const segment of this.#segments) total += segment.offloaded;
    return total;
  }

  /**
   * Writes the offloaded records to the database, from their segments, and lets those segments go once
   * nothing else in them is unwritten. Rejects if the database fails (they stay offloaded, to try again).
   */
  async readBack(db: Kysely<Database>, batchSize: number): Promise<JournalImportResult> {
    const result: JournalImportResult = { imported: 0, duplicates: 0, malformed: 0 };
    for (const segment of [...this.#segments]) {
      if (segment.offloaded === 0) continue;
      // Sealed when offloaded, so its last write is over once it is closed.
      await segment.closed;
      // Lines that are not records here are pieces of failed writes, whose records stayed in memory.
      const part = await importJournalFile(db, segment.path, batchSize);
      result.imported += part.imported;
      result.duplicates += part.duplicates;
      segment.unwritten -= segment.offloaded;
      segment.offloaded = 0;
      this.#settle(segment);
    }
    return result;
  }

  /**
   * Waits for the writes in flight, then syncs and closes every segment; those whose records are all in the
   * database are deleted, the others stay for the next start to import.
   */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#writing) await new Promise<void>((resolve) => (this.#idle = resolve));
    for (const segment of this.#segments) this.#sealSegment(segment);
    const segments = [...this.#segments];
    await Promise.all(segments.map((segment) => segment.closed));
    await Promise.all(segments.map((segment) => segment.deleted));
    liveInstances.delete(this.#instance);
  }

  /**
   * Appends records synchronously to a segment of their own and syncs it: for records that arrive after
   * close(), or that never reached the journal, when the process may exit at any moment. Throws if it fails.
   */
  appendSync(records: readonly UsageRecord[]): void {
    if (records.length === 0) return;
    mkdirSync(this.#dir, { recursive: true });
    this.#lateSegment ??= this.#nextPath();
    const fd = openSync(this.#lateSegment, 'a+', 0o600);
    try {
      // A previous append cut short must not swallow the first of these lines.
      const { size } = fstatSync(fd);
      let text = '';
      if (size > 0) {
        const last = Buffer.alloc(1);
        readSync(fd, last, 0, 1, size - 1);
        if (last[0] !== 0x0a) text = '\n';
      }
      for (const record of records) text += `${JSON.stringify(record)}\n`;
      writeSync(fd, text);
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  #rotate(): Segment {
    if (this.#current) this.#sealSegment(this.#current);
    const segment = new Segment(this.#nextPath());
    this.#segments.add(segment);
    this.#current = segment;
    return segment;
  }

  #nextPath(): string {
    const seq = String(this.#sequence++).padStart(6, '0');
    return join(this.#dir, `usage-journal-${process.pid}-${this.#instance}-${seq}.jsonl`);
  }

  #sealSegment(segment: Segment): void {
    segment.sealed = true;
    if (this.#current === segment) this.#current = undefined;
    this.#settle(segment);
  }

  /** A sealed segment is closed once its last write is over, and deleted once the database holds it all. */
  #settle(segment: Segment): void {
    if (!segment.sealed || segment.writing > 0) return;
    segment.closed ??= this.#closeFile(segment);
    if (segment.unwritten === 0 && segment.offloaded === 0) segment.deleted ??= this.#delete(segment);
  }

  async #writeLoop(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending;
      this.#pending = [];
      this.#inFlight = batch;
      this.#writeStartedAt = Date.now();
      // Usually one segment; two when a rotation happened while the previous write was in flight.
      let start = 0;
      while (start < batch.length) {
        const segment = batch[start]!.segment;
        let end = start + 1;
        while (end < batch.length && batch[end]!.segment === segment) end++;
        await this.#writeGroup(segment, start === 0 && end === batch.length ? batch : batch.slice(start, end));
        start = end;
      }
    }
    this.#inFlight = [];
    this.#writing = false;
    this.#idle?.();
  }

  /**
   * One write of a group of lines. fs.write with a callback on the open descriptor, not FileHandle.write:
   * on this path (once per request at low concurrency) the promise API's extra objects and ticks cost about
   * a fifth more CPU per append (measured: 46 against 39 us per call, most of either being the thread pool's
   * round trip).
   */
  #writeGroup(segment: Segment, group: PendingLine[]): Promise<void> {
    let text = segment.torn ? '\n' : '';
    for (const line of group) text += line.line;
    return new Promise((resolve) => {
      const done = (err: unknown) => {
        if (err === undefined) {
          segment.torn = false;
          segment.dirty = true;
          this.#failing = false;
          settle(group, true);
        } else {
          segment.torn = true;
          // Later records go to a fresh file (the disk may have recovered, or a new file may open).
          if (this.#current === segment) this.#current = undefined;
          segment.sealed = true;
          this.#failed(settle(group, false), err);
        }
        segment.writing -= group.length;
        this.#settle(segment);
        resolve();
      };
      if (segment.fd !== undefined) {
        writeAll(segment.fd, text, done);
        return;
      }
      segment.file ??= this.#openFile(segment);
      segment.file.then((fd) => writeAll(fd, text, done), done);
    });
  }

  /** Counts failed appends, and reports the first of a burst. */
  #failed(records: number, err: unknown): void {
    if (records > 0) this.#onAppendFailure(records);
    if (!this.#failing) {
      this.#failing = true;
      this.#onError(err, 'append');
    }
  }

  async #openFile(segment: Segment): Promise<number> {
    await mkdir(this.#dir, { recursive: true });
    const fd = await openFile(segment.path, 'a', 0o600);
    segment.fd = fd;
    this.#dirDirty = true;
    return fd;
  }

  async #closeFile(segment: Segment): Promise<void> {
    const fd = await segment.file?.catch(() => undefined);
    if (fd === undefined) return;
    try {
      if (segment.dirty) {
        segment.dirty = false;
        await syncFile(fd);
      }
    } catch (err) {
      this.#onError(err, 'sync');
    } finally {
      segment.fd = undefined;
      await closeFile(fd).catch(() => {});
    }
  }

  async #delete(segment: Segment): Promise<void> {
    try {
      await segment.closed;
      await this.#syncDatabase();
      await unlink(segment.path).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      this.#segments.delete(segment);
    } catch (err) {
      // The file stays; the next start imports it, and finds its records already stored.
      this.#onError(err, 'delete');
    }
  }

  #tick(): void {
    const current = this.#current;
    if (current && Date.now() - current.createdAt >= this.#segmentMaxAgeMs) this.#sealSegment(current);
    if (this.#writing && Date.now() - this.#writeStartedAt >= this.#stallMs) this.#giveUpWaiting();
    if (this.#syncing) return;
    this.#syncing = true;
    void this.#sync().finally(() => {
      this.#syncing = false;
    });
  }

  /**
   * The write in flight hangs: its callers and those queued behind it stop waiting, as after a failed write
   * (their records are in the writer's queue). Their lines are still written if the write ever returns.
   */
  #giveUpWaiting(): void {
    const waiting = settle(this.#inFlight, false) + settle(this.#pending, false);
    if (waiting > 0) this.#failed(waiting, new Error(`A usage journal write has not finished in ${this.#stallMs} ms`));
  }

  /** Syncs the open segments written since the last tick (sealed ones sync as they close) and the folder. */
  async #sync(): Promise<void> {
    if (this.#dirDirty) {
      this.#dirDirty = false;
      await syncFolder(this.#dir);
    }
    for (const segment of this.#segments) {
      if (!segment.dirty || segment.sealed || !segment.file) continue;
      segment.dirty = false;
      try {
        await syncFile(await segment.file);
        this.#syncFailing = false;
      } catch (err) {
        // A segment sealed meanwhile syncs as it closes; anything else is worth one report per burst.
        if (segment.sealed) continue;
        segment.dirty = true;
        if (!this.#syncFailing) {
          this.#syncFailing = true;
          this.#onError(err, 'sync');
        }
      }
    }
  }
}

/** A segment whose writer is gone: another process that no longer runs, or a journal of this one now closed. */
function isLeftover(name: string): boolean {
  const match = SEGMENT_NAME.exec(name);
  if (!match) return false;
  const pid = Number(match[1]);
  if (pid === process.pid) return !liveInstances.has(match[2]!);
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    // EPERM: a process of another user has that pid; it is running, and may be a gateway.
    return (err as NodeJS.ErrnoException).code !== 'EPERM';
  }
}

/** Makes newly created files' directory entries durable; best effort (not every platform can). */
async function syncFolder(dir: string): Promise<void> {
  try {
    const folder = await openHandle(dir, 'r');
    try {
      await folder.sync();
    } finally {
      await folder.close();
    }
  } catch {
    // The files' contents are synced regardless; only a power loss right after a segment was created matters.
  }
}

function openFile(path: string, flags: string, mode: number): Promise<number> {
  return new Promise((resolve, reject) => open(path, flags, mode, (err, fd) => (err ? reject(err) : resolve(fd))));
}
function syncFile(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}
function closeFile(fd: number): Promise<void> {
  return new Promise((resolve, reject) => close(fd, (err) => (err ? reject(err) : resolve())));
}

/** Writes all of `text` (a regular file takes it in one call; a short write is finished from its bytes). */
function writeAll(fd: number, text: string, done: (err: unknown) => void): void {
  write(fd, text, null, 'utf8', (err, written) => {
    if (err) return done(err);
    if (written === text.length) return done(undefined);
    const bytes = Buffer.from(text, 'utf8');
    if (written === bytes.length) return done(undefined);
    writeRest(fd, bytes, written, done);
  });
}

function writeRest(fd: number, bytes: Buffer, offset: number, done: (err: unknown) => void): void {
  write(fd, bytes, offset, bytes.length - offset, null, (err, written) => {
    if (err) return done(err);
    if (offset + written >= bytes.length) return done(undefined);
    writeRest(fd, bytes, offset + written, done);
  });
}
