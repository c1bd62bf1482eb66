import { GatewayError } from '../core/errors.ts';
import { toSafeInt } from '../store/usage.ts';
import { MAX_MANUAL_NANO } from './amounts.ts';

/** Plans (docs/billing.md): a monthly spending cap and the models they give access to. */
export interface Plan {
  id: string;
  name: string;
  monthlyCapNano: number | null;
  /** Model ids the plan gives access to; null: every model. */
  models: string[] | null;
  /** Users may choose it themselves (`POST /v1/account/plan`); otherwise only an admin assigns it. */
  public: boolean;
}

export function planFromRow(p: {
  id: string;
  name: string;
  monthly_cap_nano: number | null;
  models: string | null;
  public?: number | boolean | null;
}): Plan {
  return {
    id: p.id,
    name: p.name,
    monthlyCapNano: p.monthly_cap_nano == null ? null : toSafeInt(p.monthly_cap_nano),
    models: p.models ? (JSON.parse(p.models) as string[]) : null,
    public: Number(p.public ?? 0) === 1 || p.public === true,
  };
}

export function validatePlan(plan: Plan): void {
  if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(plan.id)) {
    throw new GatewayError('invalid_request', 'A plan id is 1-64 lowercase letters, digits, - or _', {
      param: 'id',
    });
  }
  if (plan.name.length === 0 || plan.name.length > 100) {
    throw new GatewayError('invalid_request', 'A plan name is 1-100 characters', { param: 'name' });
  }
  const cap = plan.monthlyCapNano;
  if (cap !== null && (!Number.isSafeInteger(cap) || cap < 0 || cap > MAX_MANUAL_NANO)) {
    throw new GatewayError('invalid_request', 'The monthly cap must be between $0 and $1,000,000', {
      param: 'monthlyCap',
    });
  }
  if (plan.models && (plan.models.length === 0 || plan.models.some((m) => typeof m !== 'string' || m === ''))) {
    throw new GatewayError('invalid_request', 'models: a non-empty list of model ids', { param: 'models' });
  }
}
