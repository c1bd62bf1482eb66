import { formatUsd } from '../billing/cost.ts';
import { ERROR_CODES, type ErrorCode } from '../core/errors.ts';
import type { ViewRow } from './queue.ts';

/** An execution as the API (and its webhooks) show it: times in Unix seconds, money as USD strings. */
export function executionView(row: ViewRow): Record<string, unknown> {
  const view: Record<string, unknown> = {
    id: row.id,
    object: 'execution',
    status: row.status,
    model: row.model,
    kind: row.kind,
    created_at: seconds(row.created_at),
    started_at: seconds(row.started_at),
    completed_at: seconds(row.completed_at),
    attempts: Number(row.attempts),
    estimated_cost: formatUsd(Number(row.estimated_nano)),
    output: row.output === null ? null : JSON.parse(row.output),
    usage: row.usage === null ? null : snakeKeys(JSON.parse(row.usage) as Record<string, unknown>),
    cost: row.cost_nano === null ? null : formatUsd(Number(row.cost_nano)),
    /** The catalog model that served it (never a provider URL or key). */
    served_by: row.served_by,
    error: null as unknown,
    metadata: row.metadata === null ? null : JSON.parse(row.metadata),
    webhook_url: row.webhook_url,
  };
  // A retry's last error is kept while it waits; shown once the execution has ended.
  if (row.error_code !== null && (row.status === 'FAILED' || row.status === 'CANCELLED')) {
    const code = row.error_code as ErrorCode;
    view['error'] = { code, message: row.error_message ?? '', retryable: ERROR_CODES[code]?.retryable ?? false };
  }
  return view;
}

function seconds(ms: number | null): number | null {
  return ms === null ? null : Math.floor(Number(ms) / 1000);
}

/** `inputTokens` → `input_tokens`: the API's fields are snake_case like the rest of the object. */
function snakeKeys(usage: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(usage)) out[key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = value;
  return out;
}
