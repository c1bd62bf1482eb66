import type { Transaction } from 'kysely';
import type { Ledger, PreparedHold } from '../billing/ledger.ts';
import { GatewayError } from '../core/errors.ts';
import type { ExecutionKind, ExecutionModel, ExecutionRunner, WebhookEnqueue } from '../core/execution-contracts.ts';
import { clipped } from '../core/validation.ts';
import type { Logger } from '../ops/logger.ts';
import { keyAccess } from '../pipeline/admit.ts';
import type { Caller, RequestStart } from '../pipeline/context.ts';
import { billedCaller } from '../pipeline/hold.ts';
import type { AnswerHeaders } from '../pipeline/outcome.ts';
import type { Pipeline } from '../pipeline/pipeline.ts';
import type { ExecutionStatus } from '../store/execution-tables.ts';
import type { Database } from '../store/schema.ts';
import type { UpstreamJobAbandoner } from './abandon.ts';
import { callerSnapshot } from './caller-snapshot.ts';
import { isExecutionId, newExecutionId } from './ids.ts';
import { notifyQueued } from './pg-wake.ts';
import type { ExecutionQueue, ExecutionRow } from './queue.ts';
import type { RunnerRegistry } from './registry.ts';
import { endExecution } from './terminal.ts';
import { executionView } from './view.ts';

/**
 * The execution API's logic (the HTTP route only converts): a submission is admitted like a chat request (the
 * pipeline's admission with the `executions` scope), its input validated by the runner of its model's kind,
 * its cost bounded, a hold placed for a billed account, and its row inserted together with the hold's entry.
 * Submissions arriving together are written in one transaction (group commit), so the 202 waits for one commit,
 * not for its own. Reads and cancels are scoped to the caller's tenant: another tenant's id is not found.
 */
export interface ExecutionSettings {
  /** How long an execution may take from its submission before it ends FAILED with `timeout`. */
  deadlineMs: number;
  /** Deadlines of particular kinds (video runs long). */
  deadlineMsByKind?: Partial<Record<ExecutionKind, number>> | undefined;
}

export interface ExecutionServiceDeps {
  queue: ExecutionQueue;
  registry: RunnerRegistry;
  pipeline: Pipeline;
  ledger?: Ledger | undefined;
  webhooks?: WebhookEnqueue | undefined;
  /** Owes and makes the upstream cancel of the job a cancelled execution left on its row (decisions 0042, 0045). */
  abandoner?: Pick<UpstreamJobAbandoner, 'owe' | 'abandon'> | undefined;
  /** Refuses a `webhook_url` delivery would never send to (src/webhooks/: private addresses); throws GatewayError. */
  checkWebhookUrl?: ((url: string) => void) | undefined;
  settings: ExecutionSettings;
  /** A row was committed: wake the in-process worker. */
  onSubmitted?: () => void;
  /** PostgreSQL: the channel a submission's transaction notifies, waking workers of other processes (pg-wake.ts). */
  notifyChannel?: string | undefined;
  /** Storage failures (never an input or a key). */
  logger?: Logger | undefined;
  /** A PROCESSING execution was cancelled: stop its run if it runs here. */
  onCancelled?: (id: string) => void;
  now?: () => number;
}

export type Answer =
  | { ok: true; status: number; body: Record<string, unknown>; headers: AnswerHeaders }
  | { ok: false; error: GatewayError; headers: AnswerHeaders };
export type Accepted = Extract<Answer, { ok: true }>;

interface Queued {
  row: ExecutionRow;
  hold: PreparedHold | undefined;
  /** Written in the same transaction as the row (the Idempotency-Key's answer). */
  inCommit: ((trx: Transaction<Database>) => Promise<void>) | undefined;
  resolve(written: boolean): void;
  reject(err: unknown): void;
}

const STATUSES: readonly ExecutionStatus[] = ['PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'CANCELLED'];
const MAX_METADATA_KEYS = 50;
const MAX_METADATA_VALUE = 500;
const MAX_URL = 2048;

export class ExecutionService {
  readonly #d: ExecutionServiceDeps;
  readonly #now: () => number;
  #batch: Queued[] = [];
  #flushing: Promise<void> = Promise.resolve();
  #scheduled = false;

  constructor(deps: ExecutionServiceDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
  }

  /**
   * `inCommit` runs in the transaction that inserts the execution, with the 202 it will answer (the route stores it
   * as the Idempotency-Key's answer there, so the execution and its key's answer commit together).
   */
  async submit(
    start: RequestStart,
    caller: Caller,
    body: unknown,
    options: { inCommit?: ((trx: Transaction<Database>, answer: Accepted) => Promise<void>) | undefined } = {},
  ): Promise<Answer> {
    let parsed: ReturnType<typeof parseSubmission>;
    let resolved: { model: ExecutionModel; runner: ExecutionRunner };
    try {
      parsed = parseSubmission(body);
      if (parsed.webhookUrl !== null) this.#d.checkWebhookUrl?.(parsed.webhookUrl);
      resolved = this.#d.registry.resolve(parsed.model);
    } catch (err) {
      return { ok: false, error: asGatewayError(err), headers: {} };
    }
    const { model, runner } = resolved;
    // A runner that routes with the caller's policy (text) validates once, into the request admission counts,
    // and plans with that policy (the hold's bound, the provider it will most likely use).
    const rich = runner as ExecutionRunner & {
      prepare?: (m: ExecutionModel, input: unknown) => { model: string };
      plan?: (
        m: ExecutionModel,
        input: unknown,
        c: Caller,
        prepared?: unknown,
      ) => Promise<{ estimateNanoUsd: number; provider: string | null }>;
    };
    let prepared: { model: string } | undefined;
    try {
      if (rich.prepare) prepared = rich.prepare(model, parsed.input);
      else runner.validate(model, parsed.input);
    } catch (err) {
      return { ok: false, error: asGatewayError(err), headers: {} };
    }
    const admitted = await this.#d.pipeline.admitSubmission({
      ...start,
      caller,
      request: { ...prepared, model: parsed.model },
    });
    if (!admitted.ok) return admitted;
    caller = admitted.caller;
    let estimate: number;
    // The provider per-provider concurrency counts it against: the routed first choice, else a concrete model's.
    let provider = model.id.includes('/') ? model.id.slice(0, model.id.indexOf('/')) : null;
    try {
      if (rich.plan) {
        const planned = await rich.plan(model, parsed.input, caller, prepared);
        estimate = planned.estimateNanoUsd;
        provider = planned.provider ?? provider;
      } else estimate = runner.estimateNanoUsd(model, parsed.input);
    } catch (err) {
      return { ok: false, error: asGatewayError(err), headers: admitted.headers };
    }
    const now = this.#now();
    const id = newExecutionId(now);
    let hold: PreparedHold | undefined;
    const ledger = this.#d.ledger;
    if (estimate > 0 && billedCaller(ledger, caller)) {
      const reserved = ledger!.prepareDurableHold({
        tenantId: caller.tenantId,
        keyId: caller.keyId,
        requestId: id,
        amountNano: estimate,
        keyQuota: this.#d.pipeline.keyQuotaOf(caller),
      });
      if (!reserved.ok) return { ok: false, error: reserved.error, headers: admitted.headers };
      hold = reserved;
    }
    const deadlineMs = this.#d.settings.deadlineMsByKind?.[model.kind] ?? this.#d.settings.deadlineMs;
    const row: ExecutionRow = {
      id,
      tenant_id: caller.tenantId,
      key_id: caller.keyId,
      model: parsed.model,
      resolved_model: model.id,
      kind: model.kind,
      provider,
      status: 'PENDING',
      input: JSON.stringify(parsed.input),
      caller: callerSnapshot(caller),
      webhook_url: parsed.webhookUrl,
      metadata: parsed.metadata === null ? null : JSON.stringify(parsed.metadata),
      estimated_nano: estimate,
      held_nano: hold ? estimate : 0,
      attempts: 0,
      run_after: now,
      deadline_at: now + deadlineMs,
      lease_owner: null,
      lease_until: null,
      created_at: now,
      started_at: null,
      completed_at: null,
      output: null,
      usage: null,
      cost_nano: null,
      served_by: null,
      error_code: null,
      error_message: null,
      upstream_job: null,
    };
    const accepted: Accepted = { ok: true, status: 202, body: executionView(row), headers: admitted.headers };
    const inCommit = options.inCommit;
    let written: boolean;
    try {
      written = await this.#write(row, hold, inCommit && ((trx) => inCommit(trx, accepted)));
    } catch (err) {
      this.#d.logger?.error({ err, executionId: id }, 'an execution could not be stored');
      return {
        ok: false,
        error: new GatewayError('internal_error', 'Internal error: the execution could not be stored', { cause: err }),
        headers: admitted.headers,
      };
    }
    if (!written) return { ok: false, error: hold!.refusal(), headers: admitted.headers };
    this.#d.onSubmitted?.();
    return accepted;
  }

  async get(start: RequestStart, caller: Caller, id: string): Promise<Answer> {
    const refused = keyAccess(caller, start.clientIp, 'executions');
    if (refused) return { ok: false, error: refused, headers: {} };
    const row = isExecutionId(id) ? await this.#d.queue.view(caller.tenantId, id) : undefined;
    if (!row) return notFound(id);
    return { ok: true, status: 200, body: executionView(row), headers: {} };
  }

  async list(start: RequestStart, caller: Caller, query: Record<string, unknown>): Promise<Answer> {
    const refused = keyAccess(caller, start.clientIp, 'executions');
    if (refused) return { ok: false, error: refused, headers: {} };
    let limit = 20;
    if (query['limit'] !== undefined) {
      limit = Number(query['limit']);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
        return invalid('limit must be a whole number from 1 to 100', 'limit');
      }
    }
    const after = query['after'];
    if (after !== undefined && (typeof after !== 'string' || !isExecutionId(after))) {
      return invalid('after must be the id of an execution (exec_…)', 'after');
    }
    const status = query['status'];
    if (status !== undefined && !STATUSES.includes(status as ExecutionStatus)) {
      return invalid(`status must be one of ${STATUSES.join(', ')}`, 'status');
    }
    const rows = await this.#d.queue.list(caller.tenantId, {
      limit: limit + 1,
      after: after as string | undefined,
      status: status as ExecutionStatus | undefined,
    });
    const data = rows.slice(0, limit).map(executionView);
    return {
      ok: true,
      status: 200,
      body: {
        object: 'list',
        data,
        first_id: data[0]?.['id'] ?? null,
        last_id: data.at(-1)?.['id'] ?? null,
        has_more: rows.length > limit,
      },
      headers: {},
    };
  }

  /** PENDING or PROCESSING → CANCELLED (its hold released, its webhook queued); a run here is stopped at once. */
  async cancel(start: RequestStart, caller: Caller, id: string): Promise<Answer> {
    const refused = keyAccess(caller, start.clientIp, 'executions');
    if (refused) return { ok: false, error: refused, headers: {} };
    if (!isExecutionId(id)) return notFound(id);
    const ended = await endExecution(this.#d, id, { tenantId: caller.tenantId }, { status: 'CANCELLED' }, this.#now());
    if (ended) this.#d.onCancelled?.(id);
    const row = await this.#d.queue.view(caller.tenantId, id);
    if (!row) return notFound(id);
    if (!ended && row.status !== 'CANCELLED') {
      return invalid(
        `The execution has already ended (${row.status}); only PENDING or PROCESSING ones can be cancelled`,
        null,
      );
    }
    return { ok: true, status: 200, body: executionView(row), headers: {} };
  }

  /** Waits for the submissions queued so far to be written (tests, shutdown). */
  async drain(): Promise<void> {
    while (this.#batch.length > 0 || this.#scheduled) {
      await new Promise((resolve) => setImmediate(resolve));
      await this.#flushing;
    }
    await this.#flushing;
  }

  /** Group commit: the row (and its hold's entry) joins the batch written at the next turn of the event loop. */
  #write(
    row: ExecutionRow,
    hold: PreparedHold | undefined,
    inCommit: ((trx: Transaction<Database>) => Promise<void>) | undefined,
  ): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.#batch.push({ row, hold, inCommit, resolve, reject });
      if (this.#scheduled) return;
      this.#scheduled = true;
      setImmediate(() => {
        this.#flushing = this.#flushing.then(() => this.#flush());
      });
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#batch;
    this.#batch = [];
    this.#scheduled = false;
    if (batch.length === 0) return;
    try {
      const written = await this.#d.queue.db.transaction().execute(async (trx) => {
        const out: boolean[] = [];
        const rows: ExecutionRow[] = [];
        for (const item of batch) {
          const ok = item.hold ? await item.hold.write(trx) : true;
          out.push(ok);
          if (!ok) continue;
          rows.push(item.row);
          if (item.inCommit) await item.inCommit(trx);
        }
        await this.#d.queue.insert(trx, rows);
        if (rows.length > 0 && this.#d.notifyChannel) await notifyQueued(trx, this.#d.notifyChannel);
        return out;
      });
      batch.forEach((item, i) => {
        if (written[i]) item.hold?.committed();
        else item.hold?.forget();
        item.resolve(written[i]!);
      });
    } catch (err) {
      for (const item of batch) {
        item.hold?.forget();
        item.reject(err);
      }
    }
  }
}

function parseSubmission(body: unknown): {
  model: string;
  input: unknown;
  webhookUrl: string | null;
  metadata: Record<string, string> | null;
} {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new GatewayError('invalid_request', 'Request body must be a JSON object');
  }
  const b = body as Record<string, unknown>;
  const known = new Set(['model', 'input', 'webhook_url', 'metadata']);
  const extra = Object.keys(b).filter((k) => !known.has(k));
  if (extra.length > 0) {
    throw new GatewayError(
      'invalid_request',
      `Unknown field '${clipped(extra[0]!)}'; an execution has model, input, webhook_url and metadata`,
      { param: extra[0]! },
    );
  }
  const model = b['model'];
  if (typeof model !== 'string' || model.length === 0 || model.length > 200) {
    throw new GatewayError('invalid_request', 'model must be a model slug (a string of 1 to 200 characters)', {
      param: 'model',
    });
  }
  if (b['input'] === undefined || b['input'] === null) {
    throw new GatewayError('invalid_request', 'input is required', { param: 'input' });
  }
  let webhookUrl: string | null = null;
  if (b['webhook_url'] !== undefined && b['webhook_url'] !== null) {
    const url = b['webhook_url'];
    const parsedUrl = typeof url === 'string' && url.length <= MAX_URL ? URL.parse(url) : null;
    if (!parsedUrl || (parsedUrl.protocol !== 'https:' && parsedUrl.protocol !== 'http:')) {
      throw new GatewayError('invalid_request', 'webhook_url must be an http or https URL of at most 2048 characters', {
        param: 'webhook_url',
      });
    }
    webhookUrl = url as string;
  }
  let metadata: Record<string, string> | null = null;
  if (b['metadata'] !== undefined && b['metadata'] !== null) {
    const m = b['metadata'];
    if (typeof m !== 'object' || Array.isArray(m)) {
      throw new GatewayError('invalid_request', 'metadata must be an object of strings', { param: 'metadata' });
    }
    const entries = Object.entries(m as Record<string, unknown>);
    const bad = entries.find(([k, v]) => k.length > 64 || typeof v !== 'string' || v.length > MAX_METADATA_VALUE);
    if (entries.length > MAX_METADATA_KEYS || bad) {
      throw new GatewayError(
        'invalid_request',
        `metadata holds up to ${MAX_METADATA_KEYS} keys of up to 64 characters, each a string of up to ${MAX_METADATA_VALUE}`,
        { param: bad ? `metadata.${clipped(bad[0])}` : 'metadata' },
      );
    }
    metadata = m as Record<string, string>;
  }
  return { model, input: b['input'], webhookUrl, metadata };
}

function asGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  return new GatewayError('internal_error', 'Internal error', { cause: err });
}

function notFound(id: string): Answer {
  return {
    ok: false,
    error: new GatewayError('not_found', `No execution '${clipped(id)}'`, { param: 'id' }),
    headers: {},
  };
}

function invalid(message: string, param: string | null): Answer {
  return { ok: false, error: new GatewayError('invalid_request', message, { param }), headers: {} };
}
