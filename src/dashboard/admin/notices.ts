import type { FastifyRequest } from 'fastify';
import { GatewayError } from '../../core/errors.ts';
import type { Notice } from '../layout.ts';

/**
 * What an admin page says after a form: a good notice named in the query of the redirect that followed it,
 * or the refusal of a form the operations rejected (shown on the same page with the status to send).
 */
const NOTICES: Record<string, string> = {
  created: 'Tenant created. Create a key for it below.',
  saved: 'Saved. The tenant’s next request uses the new policy.',
  revoked: 'Key revoked. Requests with it are refused from now on.',
  'links-revoked': 'All dashboard links of this tenant were revoked.',
  credited: 'Credit recorded in the ledger.',
  debited: 'Debit recorded in the ledger.',
  'plan-saved': 'Plan saved. Accounts on it use the change from their next request.',
  'plan-assigned': 'Plan assigned. The account’s next request uses it.',
  suspended: 'Account suspended: its API keys are refused from now on, on every gateway process.',
  unsuspended: 'Suspension lifted: the account’s API keys work again.',
};

export function noticeFrom(req: FastifyRequest): Notice | undefined {
  const key = (req.query as Record<string, unknown>)['notice'];
  const text = typeof key === 'string' ? NOTICES[key] : undefined;
  return text ? { tone: 'good', text } : undefined;
}

/** A form the operations refused as invalid (or naming a missing tenant): its status and message; anything else is rethrown. */
export function refusal(err: unknown): { status: number; notice: Notice } {
  if (err instanceof GatewayError && (err.code === 'invalid_request' || err.code === 'not_found'))
    return { status: err.status, notice: { tone: 'bad', text: err.message } };
  throw err;
}
