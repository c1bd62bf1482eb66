import { randomUUID } from 'node:crypto';
import { CompiledQuery, type Insertable, type Kysely, type Selectable } from 'kysely';
import type { InboundProtocol } from '../core/ir.ts';
import { internStrings, resolveDimIds } from './interning.ts';
import { multiRowInsertSql, placeholderStyle } from './raw-insert.ts';
import type { Database, UsageRecordTable } from './schema.ts';
import { upsertHourlyRollups } from './usage-rollup.ts';
import { yieldToEventLoop } from './yield.ts';

/** What the gateway records for every request, success or failure. */
export interface UsageRecord {
  /** Unique per request (the gateway generates it): a second record with the same id is ignored. */
  requestId: string;
  /** ms since the epoch, when the request arrived. */
  at: number;
  tenantId: string;
  keyId: string | null;
  protocol: InboundProtocol;
  requestedModel: string;
  tier: string | null;
  preset: string | null;
  routerScore: number | null;
  chooser: string | null;
  modelId: string | null;
  providerId: string | null;
  providerKeyId: string | null;
  attempts: number;
  stream: boolean;
  inputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  /** Integer nano-dollars (1e-9 USD): sums stay exact, with no float drift. */
  costNanoUsd: number;
  latencyMs: number;
  ttfbMs: number | null;
  /** HTTP status sent to the client. */
  status: number;
  errorCode: string | null;
}

export interface WriteUsageResult {
  /** Records stored now (and added to the rollups). */
  inserted: number;
  /** Records whose requestId was already stored (a retried commit, a re-imported spill) and were skipped. */
  duplicates: number;
}

/**
 * Rows per INSERT: bounded so that one synchronous SQLite statement stays a few milliseconds (see
 * yield.ts), and ~25 parameters a row stay far below SQLite's 32,766 and PostgreSQL's 65,535.
 */
const ROWS_PER_STATEMENT = 200;

/**
 * Writes records and their rollups in one transaction: either both the raw rows and the hourly sums
 * change, or neither. Records already stored (same requestId) are skipped and not added to the rollups
 * again, which makes retrying a batch, or re-importing a spill file, safe.
 *
 * Interning runs before the transaction, in its own short statements: a dim row that ends up unused
 * (the transaction failed) is harmless, and the transaction holds its locks for less time.
 */
export async function writeUsageBatch(
  db: Kysely<Database>,
  records: readonly UsageRecord[],
): Promise<WriteUsageResult> {
  const clean = dedupeByRequestId(records.map(normalizeUsageRecord));
  if (clean.length === 0) return { inserted: 0, duplicates: records.length };
  await yieldToEventLoop();
  const ids = await internStrings(db, collectStrings(clean));
  const inserted: UsageRecord[] = [];
  await db.transaction().execute(async (trx) => {
    inserted.length = 0;
    const style = placeholderStyle(db);
    for (const [start, size] of chunksOf(clean.length)) {
      await yieldToEventLoop();
      const chunk = clean.slice(start, start + size);
      const params: unknown[] = [];
      for (const r of chunk) pushRowValues(params, r, ids);
      const stored = await trx.executeQuery<{ request_id: string }>(
        CompiledQuery.raw(multiRowInsertSql('usage_record', USAGE_COLUMNS, size, style, INSERT_SUFFIX), params),
      );
      const storedIds = new Set(stored.rows.map((s) => s.request_id));
      for (const r of chunk) if (storedIds.has(r.requestId)) inserted.push(r);
    }
    await upsertHourlyRollups(trx, inserted, ids);
  });
  return { inserted: inserted.length, duplicates: records.length - inserted.length };
}

const MAX_INT32 = 2_147_483_647;
const MAX_INT16 = 32_767;
/** Dim strings can come from clients (requested model): bounded so junk cannot bloat the dim table. */
const MAX_STRING = 200;

/**
 * Makes a record storable whatever its producer did: integers where the columns are integers, within
 * their ranges, strings without NUL (PostgreSQL rejects it). A single malformed record must never make
 * its whole batch fail forever: the writer retries failed batches and would stall on it.
 */
export function normalizeUsageRecord(r: UsageRecord): UsageRecord {
  const requestId = str(r.requestId);
  return {
    requestId: requestId === '' ? `missing-${randomUUID()}` : requestId,
    at: int(r.at, 0, Number.MAX_SAFE_INTEGER, Date.now()),
    tenantId: str(r.tenantId),
    keyId: optStr(r.keyId),
    protocol: str(r.protocol) as InboundProtocol,
    requestedModel: str(r.requestedModel),
    tier: optStr(r.tier),
    preset: optStr(r.preset),
    routerScore: typeof r.routerScore === 'number' && Number.isFinite(r.routerScore) ? r.routerScore : null,
    chooser: optStr(r.chooser),
    modelId: optStr(r.modelId),
    providerId: optStr(r.providerId),
    providerKeyId: optStr(r.providerKeyId),
    attempts: int(r.attempts, 0, MAX_INT16, 0),
    stream: r.stream === true,
    inputTokens: int(r.inputTokens, 0, MAX_INT32, 0),
    cachedInputTokens: int(r.cachedInputTokens, 0, MAX_INT32, 0),
    cacheWriteTokens: int(r.cacheWriteTokens, 0, MAX_INT32, 0),
    outputTokens: int(r.outputTokens, 0, MAX_INT32, 0),
    reasoningTokens: int(r.reasoningTokens, 0, MAX_INT32, 0),
    costNanoUsd: int(r.costNanoUsd, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 0),
    latencyMs: int(r.latencyMs, 0, MAX_INT32, 0),
    ttfbMs: r.ttfbMs === null || r.ttfbMs === undefined ? null : int(r.ttfbMs, 0, MAX_INT32, 0),
    status: int(r.status, 0, 999, 0),
    errorCode: optStr(r.errorCode),
  };
}

function int(v: unknown, min: number, max: number, fallback: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) return fallback;
  return Math.min(Math.max(Math.round(v), min), max);
}

function str(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return (s.includes('\0') ? s.replaceAll('\0', '') : s).slice(0, MAX_STRING);
}

function optStr(v: unknown): string | null {
  return v === null || v === undefined ? null : str(v);
}

function dedupeByRequestId(records: UsageRecord[]): UsageRecord[] {
  const seen = new Set<string>();
  return records.filter((r) => {
    if (seen.has(r.requestId)) return false;
    seen.add(r.requestId);
    return true;
  });
}

/** The record fields stored as `usage_dim` ids. */
const INTERNED_FIELDS = [
  'tenantId',
  'keyId',
  'protocol',
  'requestedModel',
  'tier',
  'preset',
  'chooser',
  'modelId',
  'providerId',
  'providerKeyId',
  'errorCode',
] as const satisfies readonly (keyof UsageRecord)[];

function collectStrings(records: readonly UsageRecord[]): Set<string> {
  const values = new Set<string>();
  for (const r of records) {
    for (const field of INTERNED_FIELDS) {
      const v = r[field];
      if (v !== null) values.add(v);
    }
  }
  return values;
}

export type DimIds = ReadonlyMap<string, number>;

export function dimId(ids: DimIds, value: string): number {
  const id = ids.get(value);
  if (id === undefined) throw new Error('usage: a string was not interned');
  return id;
}

function optDimId(ids: DimIds, value: string | null): number | null {
  return value === null ? null : dimId(ids, value);
}

/**
 * The raw-row insert is the one write on the gateway's hot data path (thousands of rows a second), so it
 * skips the query builder (raw-insert.ts): one cached statement text per chunk size, values as one flat
 * parameter list. Chunks are ROWS_PER_STATEMENT rows, then descending powers of two, so only a handful of
 * statement shapes ever exist.
 */
const USAGE_COLUMNS = [
  'request_id',
  'at',
  'tenant_id',
  'key_id',
  'protocol_id',
  'requested_model_id',
  'tier_id',
  'preset_id',
  'router_score',
  'chooser_id',
  'model_id',
  'provider_id',
  'provider_key_id',
  'attempts',
  'stream',
  'input_tokens',
  'cached_input_tokens',
  'cache_write_tokens',
  'output_tokens',
  'reasoning_tokens',
  'cost_nano_usd',
  'latency_ms',
  'ttfb_ms',
  'status',
  'error_code_id',
] as const satisfies readonly (keyof UsageRecordTable)[];

const INSERT_SUFFIX = 'on conflict ("request_id") do nothing returning "request_id"';

/** [start, size] chunks: full ROWS_PER_STATEMENT chunks, then the rest in descending powers of two. */
function chunksOf(total: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let start = 0;
  while (total - start >= ROWS_PER_STATEMENT) {
    out.push([start, ROWS_PER_STATEMENT]);
    start += ROWS_PER_STATEMENT;
  }
  for (let size = 128; size >= 1; size >>= 1) {
    if (total - start >= size) {
      out.push([start, size]);
      start += size;
    }
  }
  return out;
}

function pushRowValues(out: unknown[], r: UsageRecord, ids: DimIds): void {
  const row = toRow(r, ids) as Record<string, unknown>;
  for (const column of USAGE_COLUMNS) out.push(row[column] ?? null);
}

function toRow(r: UsageRecord, ids: DimIds): Insertable<UsageRecordTable> {
  return {
    request_id: r.requestId,
    at: r.at,
    tenant_id: dimId(ids, r.tenantId),
    key_id: optDimId(ids, r.keyId),
    protocol_id: dimId(ids, r.protocol),
    requested_model_id: dimId(ids, r.requestedModel),
    tier_id: optDimId(ids, r.tier),
    preset_id: optDimId(ids, r.preset),
    router_score: r.routerScore,
    chooser_id: optDimId(ids, r.chooser),
    model_id: optDimId(ids, r.modelId),
    provider_id: optDimId(ids, r.providerId),
    provider_key_id: optDimId(ids, r.providerKeyId),
    attempts: r.attempts,
    stream: r.stream ? 1 : 0,
    input_tokens: r.inputTokens,
    cached_input_tokens: r.cachedInputTokens,
    cache_write_tokens: r.cacheWriteTokens,
    output_tokens: r.outputTokens,
    reasoning_tokens: r.reasoningTokens,
    cost_nano_usd: r.costNanoUsd,
    latency_ms: r.latencyMs,
    ttfb_ms: r.ttfbMs,
    status: r.status,
    error_code_id: optDimId(ids, r.errorCode),
  };
}

/** Turns stored rows back into records, resolving the interned strings. */
export async function rowsToRecords(
  db: Kysely<Database>,
  rows: readonly Selectable<UsageRecordTable>[],
): Promise<UsageRecord[]> {
  const wanted = new Set<number>();
  for (const row of rows) {
    for (const id of [
      row.tenant_id,
      row.key_id,
      row.protocol_id,
      row.requested_model_id,
      row.tier_id,
      row.preset_id,
      row.chooser_id,
      row.model_id,
      row.provider_id,
      row.provider_key_id,
      row.error_code_id,
    ]) {
      if (id !== null) wanted.add(id);
    }
  }
  const names = await resolveDimIds(db, wanted);
  const name = (id: number): string => {
    const value = names.get(id);
    if (value === undefined) throw new Error(`usage_dim id ${id} is missing`);
    return value;
  };
  const optName = (id: number | null): string | null => (id === null ? null : name(id));
  return rows.map((row) => ({
    requestId: row.request_id,
    at: toSafeInt(row.at),
    tenantId: name(row.tenant_id),
    keyId: optName(row.key_id),
    protocol: name(row.protocol_id) as InboundProtocol,
    requestedModel: name(row.requested_model_id),
    tier: optName(row.tier_id),
    preset: optName(row.preset_id),
    routerScore: row.router_score === null ? null : Number(row.router_score),
    chooser: optName(row.chooser_id),
    modelId: optName(row.model_id),
    providerId: optName(row.provider_id),
    providerKeyId: optName(row.provider_key_id),
    attempts: toSafeInt(row.attempts),
    stream: toSafeInt(row.stream) === 1,
    inputTokens: toSafeInt(row.input_tokens),
    cachedInputTokens: toSafeInt(row.cached_input_tokens),
    cacheWriteTokens: toSafeInt(row.cache_write_tokens),
    outputTokens: toSafeInt(row.output_tokens),
    reasoningTokens: toSafeInt(row.reasoning_tokens),
    costNanoUsd: toSafeInt(row.cost_nano_usd),
    latencyMs: toSafeInt(row.latency_ms),
    ttfbMs: row.ttfb_ms === null ? null : toSafeInt(row.ttfb_ms),
    status: toSafeInt(row.status),
    errorCode: optName(row.error_code_id),
  }));
}

/**
 * An integer from the database as an exact JS number. PostgreSQL hands back BIGINT sums as strings or
 * BigInt when they exceed 2^53; rather than return a rounded amount of money, this throws.
 */
export function toSafeInt(v: unknown): number {
  const n = typeof v === 'number' ? v : typeof v === 'bigint' || typeof v === 'string' ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw new RangeError(`Integer out of the exact range of a JS number: ${String(v)}`);
  return n;
}
