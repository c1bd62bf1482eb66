import type { Caller } from '../pipeline/context.ts';
import type { RoutingPolicy } from '../router/router.ts';

/**
 * What a run needs of the caller that submitted it, stored in the execution's row: the tenant, the key and the
 * routing policy as admission narrowed it at submission (plan, key model list). Never a credential: callers
 * with their own provider key cannot submit executions. Limits are not stored: they were checked at submission.
 */
export function callerSnapshot(caller: Caller): string {
  const { keyModels, ...policy } = caller.policy;
  return JSON.stringify({
    tenantId: caller.tenantId,
    keyId: caller.keyId,
    policy: { ...policy, ...(keyModels ? { keyModels: [...keyModels] } : {}) },
  });
}

export function callerFromSnapshot(json: string): Caller {
  const raw = JSON.parse(json) as { tenantId: string; keyId: string | null; policy: Record<string, unknown> };
  const { keyModels, ...rest } = raw.policy;
  const policy: RoutingPolicy = { ...(rest as RoutingPolicy) };
  if (Array.isArray(keyModels)) policy.keyModels = new Set(keyModels as string[]);
  return { tenantId: raw.tenantId, keyId: raw.keyId, policy };
}
