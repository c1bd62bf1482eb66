import type { FastifyInstance } from 'fastify';
import { GatewayError } from '../../../core/errors.ts';
import type { DashboardDeps } from '../../deps.ts';
import { adminForApi } from './request.ts';

const MAX_PAGE = 500;
const STATES = ['pending', 'cancelled', 'failed'] as const;

/**
 * `/admin/api/upstream-cancels`: the cancels ended executions owe their providers' jobs (decision 0045), newest
 * first, `state` to filter (`failed`: given up, the job may still run and be billed by its provider), pages of
 * `limit` (default and most 500) with `next` the cursor of the following page. A job is named by its provider,
 * model, provider key id and job id, never a secret.
 */
export function registerAdminApiUpstreamCancels(app: FastifyInstance, deps: DashboardDeps): void {
  app.get('/admin/api/upstream-cancels', async (req, reply) => {
    if (!(await adminForApi(deps, req, reply, false))) return;
    const query = req.query as Record<string, unknown>;
    const state = query['state'];
    if (state !== undefined && !(STATES as readonly unknown[]).includes(state)) {
      throw new GatewayError('invalid_request', `state must be one of ${STATES.join(', ')}`);
    }
    const limit = query['limit'] === undefined ? MAX_PAGE : Number(query['limit']);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
      throw new GatewayError('invalid_request', `limit must be an integer from 1 to ${MAX_PAGE}`);
    }
    const after = query['after'] === undefined ? undefined : parseCursor(query['after']);
    let q = deps.store.db
      .selectFrom('upstream_cancel')
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('execution_id', 'desc')
      .limit(limit);
    if (state !== undefined) q = q.where('state', '=', state as (typeof STATES)[number]);
    if (after) {
      q = q.where((eb) =>
        eb.or([
          eb('created_at', '<', after.at),
          eb.and([eb('created_at', '=', after.at), eb('execution_id', '<', after.id)]),
        ]),
      );
    }
    const rows = await q.execute();
    const data = rows.map((r) => {
      const job = parseJob(r.job);
      return {
        execution_id: r.execution_id,
        tenant_id: r.tenant_id,
        kind: r.kind,
        provider: job.provider,
        model: job.model,
        provider_key: job.key,
        job_id: job.id,
        state: r.state,
        tries: Number(r.tries),
        next_at: Number(r.next_at),
        last_code: r.last_code,
        last_status: r.last_status === null ? null : Number(r.last_status),
        last_error: r.last_error,
        created_at: Number(r.created_at),
        updated_at: Number(r.updated_at),
      };
    });
    const last = data.length === limit ? data.at(-1) : undefined;
    return { data, next: last ? `${last.created_at}:${last.execution_id}` : null };
  });
}

function parseCursor(value: unknown): { at: number; id: string } {
  const text = typeof value === 'string' ? value : '';
  const colon = text.indexOf(':');
  const at = Number(text.slice(0, colon));
  if (colon <= 0 || !Number.isSafeInteger(at)) {
    throw new GatewayError('invalid_request', 'after must be the `next` cursor of a previous page');
  }
  return { at, id: text.slice(colon + 1) };
}

/** The job as the execution's row held it; fields missing from a malformed value are null. */
function parseJob(text: string): {
  provider: string | null;
  model: string | null;
  key: string | null;
  id: string | null;
} {
  let job: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object') job = parsed as Record<string, unknown>;
  } catch {
    // shown with nulls
  }
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  return { provider: str(job['provider']), model: str(job['model']), key: str(job['key']), id: str(job['id']) };
}
