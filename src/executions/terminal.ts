import type { Ledger } from '../billing/ledger.ts';
import type { WebhookEnqueue } from '../core/execution-contracts.ts';
import type { ExecutionStatus } from '../store/execution-tables.ts';
import type { UpstreamJobAbandoner } from './abandon.ts';
import { type ExecutionQueue, type ExecutionRow, VIEW_COLUMNS } from './queue.ts';
import { executionView } from './view.ts';

/**
 * The one way an execution ends (COMPLETED, FAILED, CANCELLED): in one transaction, the conditional update of
 * its row (so the terminal state is written once), the close of its balance hold (settled at the run's cost on
 * COMPLETED, released otherwise), when it has a webhook URL, the webhook message and, on FAILED or CANCELLED, the
 * upstream job still recorded on the row taken off it and its cancel owed (a row of `upstream_cancel`). Either all
 * of it happens or none. After the commit, the owed cancel is tried in the background (abandon.ts, decisions 0042
 * and 0045): its outcome changes nothing here.
 * Returns false when the row was no longer this writer's to end (cancelled, reclaimed, already ended).
 */
export interface TerminalDeps {
  queue: ExecutionQueue;
  ledger?: Ledger | undefined;
  webhooks?: WebhookEnqueue | undefined;
  /** Owes and makes the cancel of the job an ended execution left on its row; absent, such a job is only cleared. */
  abandoner?: Pick<UpstreamJobAbandoner, 'owe' | 'abandon'> | undefined;
}

export type TerminalValues = Partial<
  Pick<ExecutionRow, 'output' | 'usage' | 'cost_nano' | 'served_by' | 'error_code' | 'error_message'>
> & { status: Extract<ExecutionStatus, 'COMPLETED' | 'FAILED' | 'CANCELLED'> };

const EVENT: Record<TerminalValues['status'], string> = {
  COMPLETED: 'execution.completed',
  FAILED: 'execution.failed',
  CANCELLED: 'execution.cancelled',
};

export async function endExecution(
  deps: TerminalDeps,
  id: string,
  who: { owner: string } | { tenantId: string },
  values: TerminalValues,
  now = Date.now(),
): Promise<boolean> {
  let apply: (() => void) | undefined;
  let owed = false;
  const ended = await deps.queue.db.transaction().execute(async (trx) => {
    const row = await deps.queue.finish(trx, id, who, { ...values, completed_at: now });
    if (!row) return false;
    // A COMPLETED run's job has ended upstream (its output is stored): it stays on the row as the run left it.
    if (row.upstream_job !== null && values.status !== 'COMPLETED') {
      await deps.queue.dropUpstreamJob(trx, id);
      if (deps.abandoner) {
        await deps.abandoner.owe(trx, { id, tenantId: row.tenant_id, kind: row.kind, job: row.upstream_job }, now);
        owed = true;
      }
    }
    const held = Number(row.held_nano);
    if (held > 0 && deps.ledger) {
      const closed = await deps.ledger.closeDurableHold(trx, {
        tenantId: row.tenant_id,
        holdId: id,
        keyId: row.key_id,
        heldNano: held,
        costNano: values.status === 'COMPLETED' ? Number(values.cost_nano ?? 0) : null,
      });
      apply = closed.apply;
    }
    if (row.webhook_url && deps.webhooks) {
      const view = await trx
        .selectFrom('execution')
        .select(VIEW_COLUMNS)
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      await deps.webhooks.enqueue(trx, {
        tenantId: row.tenant_id,
        url: row.webhook_url,
        messageId: `msg_${id}`,
        type: EVENT[values.status],
        data: webhookData(EVENT[values.status], executionView(view), now),
      });
    }
    return true;
  });
  apply?.();
  if (owed) deps.abandoner?.abandon(id);
  return ended;
}

/**
 * Largest webhook body (256 KiB, docs/executions.md): a larger one (a long text output) goes without `output`, with
 * `output_omitted: true`; the receiver reads the output with `GET /v1/executions/{id}`. Everything else of the
 * execution is small and bounded (metadata, error message), so it always fits.
 */
export const WEBHOOK_MAX_BODY_BYTES = 256 * 1024;

/** The execution as its webhook carries it: whole when the body fits in WEBHOOK_MAX_BODY_BYTES, else without output. */
export function webhookData(type: string, view: Record<string, unknown>, now: number): Record<string, unknown> {
  // Measured as the outbox encodes the body (src/webhooks/outbox.ts).
  const body = JSON.stringify({ type, timestamp: new Date(now).toISOString(), data: view });
  if (view['output'] === null || Buffer.byteLength(body) <= WEBHOOK_MAX_BODY_BYTES) return view;
  return { ...view, output: null, output_omitted: true };
}
