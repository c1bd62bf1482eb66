import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Kysely } from 'kysely';
import { GatewayError } from '../core/errors.ts';
import type { ExecutionFiles, FileMeta } from '../core/execution-contracts.ts';
import {
  deleteFile,
  existingFileIds,
  type FileRow,
  insertFile,
  listFiles,
  pruneExpiredFiles,
  selectFile,
  tenantFileBytes,
} from '../store/files.ts';
import type { Database } from '../store/schema.ts';
import type { PurposeRules } from './purposes.ts';
import { mediaOnly, normalizeType, SNIFF_BYTES, sniffType, typeAllowed, typesAgree } from './sniff.ts';

/**
 * Tenants' files (docs/files.md): metadata in the database, bytes on local disk under `root`, at a path made of
 * the id alone (`objects/<2 hex>/file_<uuid>`), never of a client's filename. Bytes arrive in a temp file
 * (`tmp/<host>-<pid>/`, one folder per process) and are renamed into place once complete and accepted, then the
 * row is written: a crash leaves at most a temp file or an object without a row. The sweep at start deletes the
 * temp folders of this host's dead processes at once, other temp files and row-less objects once they are stale
 * (another gateway sharing the folder may still be writing them). Every read is scoped to a
 * tenant; another tenant's id is as unknown as a made-up one.
 */
export interface FileStoreOptions {
  db: Kysely<Database>;
  root: string;
  purposes: Record<string, PurposeRules>;
  /** Most bytes one tenant may store; undefined: no limit. */
  maxTenantBytes?: number | undefined;
  /** How often expired files are deleted; default hourly. */
  sweepIntervalMs?: number;
  /** A temp file (or row-less object) untouched this long belongs to nobody; default 10 minutes. */
  staleMs?: number;
  now?: () => number;
  /** A failed sweep or delete of bytes (logged by the caller). */
  onError?: (err: unknown, during: 'sweep' | 'unlink') => void;
}

/** An upload received into a temp file, not yet a file: `commit` or `discard` it. */
export interface StagedFile {
  tenantId: string;
  tempPath: string;
  bytes: number;
  sha256: string;
  /** The first bytes, for sniffing. */
  head: Buffer;
  declaredType: string | undefined;
  filename: string | null;
}

const ID = /^file_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Whether a string is a well-formed file id (anything else is unknown without touching the disk). */
export function isFileId(id: string): boolean {
  return ID.test(id);
}

export function fileNotFound(id: string): GatewayError {
  const shown = id.length > 64 ? `${id.slice(0, 64)}…` : id;
  return new GatewayError('not_found', `No file with id ${JSON.stringify(shown)}`, { param: 'file_id' });
}

export class FileStore implements ExecutionFiles {
  readonly purposes: Readonly<Record<string, PurposeRules>>;
  readonly #db: Kysely<Database>;
  readonly #root: string;
  /** This process's temp folder. */
  readonly #tmp: string;
  readonly #maxTenantBytes: number | undefined;
  readonly #sweepIntervalMs: number;
  readonly #staleMs: number;
  readonly #now: () => number;
  readonly #onError: NonNullable<FileStoreOptions['onError']>;
  /** Bytes of uploads under way per tenant, in this process (counted against the quota while they stream). */
  readonly #inFlight = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #sweeping: Promise<unknown> | undefined;

  constructor(options: FileStoreOptions) {
    this.#db = options.db;
    this.#root = options.root;
    this.#tmp = join(options.root, 'tmp', `${safeHost()}-${process.pid}`);
    this.purposes = options.purposes;
    this.#maxTenantBytes = options.maxTenantBytes;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 3_600_000;
    this.#staleMs = options.staleMs ?? 600_000;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => {});
  }

  /** Creates the folders (owner only) and starts the sweep: stale temp files, row-less objects, expired files. */
  async start(): Promise<void> {
    await mkdir(this.#tmp, { recursive: true, mode: 0o700 });
    await mkdir(join(this.#root, 'objects'), { recursive: true, mode: 0o700 });
    this.#background(() => this.sweep({ orphans: true }));
    this.#timer = setInterval(() => this.#background(() => this.sweep({ orphans: false })), this.#sweepIntervalMs);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#sweeping;
  }

  /** The largest file any purpose clients may upload accepts (the bound while the purpose is not yet known). */
  largestUpload(): number {
    return Math.max(
      0,
      ...Object.values(this.purposes)
        .filter((p) => p.upload)
        .map((p) => p.maxBytes),
    );
  }

  /** The rules of a purpose clients may upload, or a 400 naming the ones they may use. */
  uploadPurpose(purpose: string): PurposeRules {
    const rules = Object.hasOwn(this.purposes, purpose) ? this.purposes[purpose] : undefined;
    const allowed = Object.entries(this.purposes)
      .filter(([, p]) => p.upload)
      .map(([name]) => name);
    if (!rules) {
      return fail(
        new GatewayError('invalid_request', `Unknown purpose; use one of: ${allowed.join(', ')}`, { param: 'purpose' }),
      );
    }
    if (!rules.upload) {
      return fail(
        new GatewayError(
          'invalid_request',
          `Files with purpose ${purpose} are written only by the gateway; upload with one of: ${allowed.join(', ')}`,
          { param: 'purpose' },
        ),
      );
    }
    return rules;
  }

  /**
   * Streams an upload into a temp file, hashing it and keeping its first bytes, and refuses it (413, the temp
   * file deleted) as soon as it passes `maxBytes` or (unless `quota: false`) the tenant's quota. `checkHead` sees the first bytes
   * before the rest is written (to refuse a wrong type early).
   */
  async receive(
    tenantId: string,
    source: NodeJS.ReadableStream,
    info: {
      declaredType?: string | undefined;
      filename?: string | undefined;
      maxBytes: number;
      /** false: only `maxBytes` bounds the stream (the quota is checked at commit; a replay must not be refused). */
      quota?: boolean;
    },
    checkHead?: (head: Buffer, declaredType: string | undefined) => void,
  ): Promise<StagedFile> {
    const remaining = info.quota === false ? Number.MAX_SAFE_INTEGER : await this.#quotaRemaining(tenantId);
    const limit = Math.min(info.maxBytes, remaining);
    const tempPath = join(this.#tmp, `${randomUUID()}.part`);
    const hash = createHash('sha256');
    const declaredType = normalizeType(info.declaredType);
    let bytes = 0;
    let head = Buffer.alloc(0);
    let headChecked = false;
    const reserve = (n: number) => this.#inFlight.set(tenantId, (this.#inFlight.get(tenantId) ?? 0) + n);
    const tooLarge = () =>
      limit === info.maxBytes
        ? new GatewayError(
            'invalid_request',
            `The file is larger than ${info.maxBytes} bytes, the most its purpose accepts`,
            {
              param: 'file',
              status: 413,
            },
          )
        : quotaError(this.#maxTenantBytes ?? 0);
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        reserve(chunk.length);
        if (bytes > limit) {
          done(tooLarge());
          return;
        }
        hash.update(chunk);
        if (!headChecked) {
          head = Buffer.concat([head, chunk]).subarray(0, SNIFF_BYTES);
          if (head.length >= SNIFF_BYTES) {
            headChecked = true;
            try {
              checkHead?.(head, declaredType);
            } catch (err) {
              done(err as Error);
              return;
            }
          }
        }
        done(null, chunk);
      },
      flush(done) {
        if (!headChecked) {
          headChecked = true;
          try {
            checkHead?.(head, declaredType);
          } catch (err) {
            done(err as Error);
            return;
          }
        }
        done();
      },
    });
    try {
      await pipeline(source, meter, createWriteStream(tempPath, { flags: 'wx', mode: 0o600 }));
    } catch (err) {
      await unlink(tempPath).catch(() => {});
      throw err;
    } finally {
      this.#inFlight.set(tenantId, (this.#inFlight.get(tenantId) ?? 0) - bytes);
      if ((this.#inFlight.get(tenantId) ?? 0) <= 0) this.#inFlight.delete(tenantId);
    }
    return {
      tenantId,
      tempPath,
      bytes,
      sha256: hash.digest('hex'),
      head,
      declaredType,
      filename: info.filename ? cleanFilename(info.filename) : null,
    };
  }

  /**
   * The content type a staged upload is stored as under a purpose, or the error that refuses it: too large,
   * a type the purpose does not take, bytes that are not what the declared type says.
   */
  accept(staged: StagedFile, purpose: string): { rules: PurposeRules; contentType: string } {
    const rules = this.uploadPurpose(purpose);
    if (staged.bytes > rules.maxBytes) {
      fail(
        new GatewayError(
          'invalid_request',
          `The file is larger than ${rules.maxBytes} bytes, the most ${purpose} accepts`,
          {
            param: 'file',
            status: 413,
          },
        ),
      );
    }
    if (staged.bytes === 0) fail(new GatewayError('invalid_request', 'The file is empty', { param: 'file' }));
    return { rules, contentType: contentTypeOf(staged.head, staged.declaredType, rules.types, purpose) };
  }

  /** A check of the first bytes against a purpose, for `receive` (the same rules `accept` applies at the end). */
  headCheck(purpose: string): (head: Buffer, declaredType: string | undefined) => void {
    const rules = this.uploadPurpose(purpose);
    return (head, declared) => {
      contentTypeOf(head, declared, rules.types, purpose);
    };
  }

  /**
   * Makes a staged upload a file of its tenant (the quota checked again, now that its size is known). `inCommit`
   * runs in the transaction that inserts the file's row (the Idempotency-Key's answer: the two commit together).
   */
  async commit(
    staged: StagedFile,
    fields: { purpose: string; contentType: string; expiresAfterMs?: number | undefined },
    inCommit?: (trx: Kysely<Database>, meta: FileMeta) => Promise<void>,
  ): Promise<FileMeta> {
    const rules = this.purposes[fields.purpose];
    const now = this.#now();
    const retention = fields.expiresAfterMs ?? rules?.retentionMs;
    return this.#place(
      staged.tempPath,
      {
        id: `file_${randomUUID()}`,
        tenantId: staged.tenantId,
        purpose: fields.purpose,
        filename: staged.filename,
        contentType: fields.contentType,
        bytes: staged.bytes,
        sha256: staged.sha256,
        createdAt: now,
        expiresAt: retention === undefined ? null : now + retention,
      },
      inCommit,
    );
  }

  /** Deletes a staged upload's temp file. */
  async discard(staged: StagedFile): Promise<void> {
    await unlink(staged.tempPath).catch(() => {});
  }

  /** ExecutionFiles: stores bytes a provider produced as a new file of the tenant. */
  async put(
    tenantId: string,
    file: { bytes: Uint8Array; contentType: string; purpose: string; filename?: string },
  ): Promise<FileMeta> {
    const rules = this.purposes[file.purpose];
    if (rules && file.bytes.length > rules.maxBytes) {
      throw new GatewayError('invalid_request', `The file is larger than ${rules.maxBytes} bytes (${file.purpose})`, {
        status: 413,
      });
    }
    const remaining = await this.#quotaRemaining(tenantId);
    if (file.bytes.length > remaining) throw quotaError(this.#maxTenantBytes ?? 0);
    const tempPath = join(this.#tmp, `${randomUUID()}.part`);
    await writeFile(tempPath, file.bytes, { flag: 'wx', mode: 0o600 });
    const now = this.#now();
    return this.#place(tempPath, {
      id: `file_${randomUUID()}`,
      tenantId,
      purpose: file.purpose,
      filename: file.filename ? cleanFilename(file.filename) : null,
      contentType: normalizeType(file.contentType) ?? 'application/octet-stream',
      bytes: file.bytes.length,
      sha256: createHash('sha256').update(file.bytes).digest('hex'),
      createdAt: now,
      expiresAt: rules?.retentionMs === undefined ? null : now + rules.retentionMs,
    });
  }

  /** ExecutionFiles: a tenant's file with its bytes; undefined when unknown, expired or another tenant's. */
  async read(tenantId: string, id: string): Promise<{ meta: FileMeta; bytes: Uint8Array } | undefined> {
    const meta = await this.get(tenantId, id);
    if (!meta) return undefined;
    const bytes = await readFile(this.#objectPath(meta.id)).catch(missingAsUndefined);
    return bytes ? { meta, bytes } : undefined;
  }

  /** ExecutionFiles: a tenant's file's first `bytes` bytes (a header) without reading the rest. */
  async peek(tenantId: string, id: string, bytes: number): Promise<{ meta: FileMeta; head: Uint8Array } | undefined> {
    const meta = await this.get(tenantId, id);
    if (!meta) return undefined;
    const handle = await open(this.#objectPath(meta.id), 'r').catch(missingAsUndefined);
    if (!handle) return undefined;
    try {
      const head = Buffer.alloc(Math.min(bytes, meta.bytes));
      const { bytesRead } = await handle.read(head, 0, head.byteLength, 0);
      return { meta, head: head.subarray(0, bytesRead) };
    } finally {
      await handle.close();
    }
  }

  /** A tenant's file's metadata; undefined when unknown, expired or another tenant's. */
  async get(tenantId: string, id: string): Promise<FileMeta | undefined> {
    if (!isFileId(id)) return undefined;
    const row = await selectFile(this.#db, tenantId, id, this.#now());
    return row ? metaOf(row) : undefined;
  }

  /** A tenant's file's bytes as a stream (opened, so a missing object is known before answering). */
  async open(tenantId: string, id: string): Promise<{ meta: FileMeta; stream: ReadStream } | undefined> {
    const meta = await this.get(tenantId, id);
    if (!meta) return undefined;
    const stream = createReadStream(this.#objectPath(meta.id));
    const opened = await new Promise<boolean>((resolve) => {
      stream.once('open', () => resolve(true));
      stream.once('error', () => resolve(false));
    });
    if (!opened) {
      stream.destroy();
      return undefined;
    }
    return { meta, stream };
  }

  /** A tenant's files, newest first unless `order` says otherwise; `hasMore` when another page follows. */
  async list(
    tenantId: string,
    query: { limit: number; order: 'asc' | 'desc'; after?: string | undefined; purpose?: string | undefined },
  ): Promise<{ files: FileMeta[]; hasMore: boolean }> {
    const rows = await listFiles(this.#db, {
      tenantId,
      now: this.#now(),
      limit: query.limit + 1,
      order: query.order,
      ...(query.after !== undefined ? { after: query.after } : {}),
      ...(query.purpose !== undefined ? { purpose: query.purpose } : {}),
    });
    return { files: rows.slice(0, query.limit).map(metaOf), hasMore: rows.length > query.limit };
  }

  /** Deletes a tenant's file (row, then bytes); false when it has no such file. */
  async delete(tenantId: string, id: string): Promise<boolean> {
    if (!isFileId(id)) return false;
    const deleted = await deleteFile(this.#db, tenantId, id, this.#now());
    if (deleted) await this.#unlinkObject(id);
    return deleted;
  }

  /**
   * Deletes expired files (rows, then bytes), temp files nobody has touched for `staleMs`, and, with `orphans`,
   * objects without a row (a crash between the rename and the insert). Returns what it deleted.
   */
  async sweep({ orphans }: { orphans: boolean }): Promise<{ expired: number; temp: number; orphans: number }> {
    const expired = await pruneExpiredFiles(this.#db, this.#now(), async (ids) => {
      for (const id of ids) await this.#unlinkObject(id);
    });
    const cutoff = this.#now() - this.#staleMs;
    let temp = 0;
    const tmp = join(this.#root, 'tmp');
    const stale = async (folder: string) => {
      for (const name of await readdir(folder).catch(() => [] as string[])) {
        if (await olderThan(join(folder, name), cutoff)) {
          await rm(join(folder, name), { recursive: true, force: true });
          temp++;
        }
      }
    };
    for (const entry of await readdir(tmp, { withFileTypes: true }).catch(() => [])) {
      const path = join(tmp, entry.name);
      if (!entry.isDirectory()) {
        if (await olderThan(path, cutoff)) {
          await rm(path, { force: true });
          temp++;
        }
      } else if (path !== this.#tmp && deadLocalProcess(entry.name)) {
        temp += (await readdir(path).catch(() => [])).length;
        await rm(path, { recursive: true, force: true });
      } else {
        await stale(path);
      }
    }
    let orphaned = 0;
    if (orphans) {
      const objects = join(this.#root, 'objects');
      for (const shard of await readdir(objects).catch(() => [] as string[])) {
        const names = (await readdir(join(objects, shard)).catch(() => [] as string[])).filter(isFileId);
        for (let i = 0; i < names.length; i += 500) {
          const batch = names.slice(i, i + 500);
          const known = await existingFileIds(this.#db, batch);
          for (const id of batch) {
            if (known.has(id) || !(await olderThan(this.#objectPath(id), cutoff))) continue;
            await rm(this.#objectPath(id), { force: true });
            orphaned++;
          }
        }
      }
    }
    return { expired, temp, orphans: orphaned };
  }

  async #place(
    tempPath: string,
    row: FileRow,
    inCommit?: (trx: Kysely<Database>, meta: FileMeta) => Promise<void>,
  ): Promise<FileMeta> {
    const remaining = await this.#quotaRemaining(row.tenantId);
    if (row.bytes > remaining) {
      await unlink(tempPath).catch(() => {});
      throw quotaError(this.#maxTenantBytes ?? 0);
    }
    const path = this.#objectPath(row.id);
    try {
      await mkdir(join(path, '..'), { recursive: true, mode: 0o700 });
      await rename(tempPath, path);
    } catch (err) {
      await unlink(tempPath).catch(() => {});
      throw err;
    }
    try {
      if (inCommit) {
        await this.#db.transaction().execute(async (trx) => {
          await insertFile(trx, row);
          await inCommit(trx, metaOf(row));
        });
      } else await insertFile(this.#db, row);
    } catch (err) {
      await unlink(path).catch(() => {});
      throw err;
    }
    return metaOf(row);
  }

  async #quotaRemaining(tenantId: string): Promise<number> {
    if (this.#maxTenantBytes === undefined) return Number.MAX_SAFE_INTEGER;
    const used = (await tenantFileBytes(this.#db, tenantId)) + (this.#inFlight.get(tenantId) ?? 0);
    return Math.max(0, this.#maxTenantBytes - used);
  }

  /** The path of a file's bytes: from the id alone (checked by the caller to be `file_<uuid>`). */
  #objectPath(id: string): string {
    if (!isFileId(id)) throw new Error('not a file id');
    return join(this.#root, 'objects', id.slice(5, 7), id);
  }

  async #unlinkObject(id: string): Promise<void> {
    await rm(this.#objectPath(id), { force: true }).catch((err: unknown) => this.#onError(err, 'unlink'));
  }

  #background(task: () => Promise<unknown>): void {
    if (this.#sweeping) return;
    this.#sweeping = task()
      .catch((err: unknown) => this.#onError(err, 'sweep'))
      .finally(() => {
        this.#sweeping = undefined;
      });
  }
}

/**
 * The type a file is stored as: for a purpose of images, audio or video, what its bytes are (recognised, allowed,
 * and agreeing with the declared type if one was given); otherwise the recognised type, else the declared one.
 */
function contentTypeOf(head: Buffer, declared: string | undefined, types: string[], purpose: string): string {
  const sniffed = sniffType(head);
  if (mediaOnly(types) && !sniffed) {
    fail(
      new GatewayError(
        'invalid_request',
        `The file is not a recognised ${types.join(', ')} file (its first bytes match no known format); ${purpose} takes ${types.join(', ')}`,
        { param: 'file', status: 415 },
      ),
    );
  }
  if (sniffed && declared && !typesAgree(declared, sniffed)) {
    fail(
      new GatewayError(
        'invalid_request',
        `The file was sent as ${declared} but its bytes are ${sniffed}; send its real content type`,
        { param: 'file', status: 415 },
      ),
    );
  }
  // Declared within the recognised family (audio/mp4 for an ISO file): the declared one is more precise.
  const type = sniffed && declared ? declared : (sniffed ?? declared ?? 'application/octet-stream');
  if (!typeAllowed(types, type)) {
    fail(
      new GatewayError(
        'invalid_request',
        `Files of type ${type} are not accepted for ${purpose}; it takes ${types.join(', ')}`,
        {
          param: 'file',
          status: 415,
        },
      ),
    );
  }
  return type;
}

function quotaError(max: number): GatewayError {
  return new GatewayError(
    'quota_exceeded',
    `The tenant's file storage quota (${max} bytes, files.maxTenantBytes) would be exceeded; delete files first`,
    { param: 'file', status: 413 },
  );
}

/** A filename as metadata only (never a path): its last segment, without control characters, at most 255 chars. */
function cleanFilename(name: string): string | null {
  const last = name.split(/[/\\]/).pop() ?? '';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point.
  const clean = last.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 255);
  return clean === '' || clean === '.' || clean === '..' ? null : clean;
}

function metaOf(row: FileRow): FileMeta {
  return {
    id: row.id,
    tenantId: row.tenantId,
    bytes: row.bytes,
    contentType: row.contentType,
    purpose: row.purpose,
    filename: row.filename,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
  };
}

function safeHost(): string {
  return hostname().replace(/[^A-Za-z0-9.-]/g, '_') || 'host';
}

/** Whether a temp folder's name is `<this host>-<pid>` of a process that no longer runs. */
function deadLocalProcess(name: string): boolean {
  const prefix = `${safeHost()}-`;
  if (!name.startsWith(prefix)) return false;
  const pid = Number(name.slice(prefix.length));
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

async function olderThan(path: string, cutoff: number): Promise<boolean> {
  const info = await stat(path).catch(() => undefined);
  return info !== undefined && info.mtimeMs < cutoff;
}

function missingAsUndefined(err: NodeJS.ErrnoException): undefined {
  if (err.code === 'ENOENT') return undefined;
  throw err;
}

function fail(error: GatewayError): never {
  throw error;
}
