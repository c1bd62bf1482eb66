import { readFileSync } from 'node:fs';
import type { ParseArgsOptionsConfig } from 'node:util';
import { buildCatalog } from '../catalog/catalog.ts';
import type { Config } from '../config/schema.ts';
import { GatewayError } from '../core/errors.ts';
import { limitsSummary } from '../limits/key-limits.ts';
import { dataDirOf, openStore, type Store, storeConfigFrom } from '../store/db.ts';
import {
  type AdminOps,
  createKey,
  createTenant,
  linesToList,
  revokeKey,
  revokeLinks,
  rotateKey,
  setKeyLimits,
  setSuspended,
  updateTenantSettings,
} from '../tenancy/admin-operations.ts';
import { AdminUsers } from '../tenancy/admin-users.ts';
import { DashboardLinks } from '../tenancy/dashboard-links.ts';
import { generatePassword } from '../tenancy/passwords.ts';
import { TenancyRepository } from '../tenancy/repository.ts';
import { loadServerSecret } from '../tenancy/secret.ts';
import type { ApiKeyRecord, Tenant } from '../tenancy/tenant.ts';
import {
  configPathOf,
  loadCommandConfig,
  noticeReplicas,
  type Out,
  parseCommand,
  type parseCommandArgs,
} from './shared.ts';

/**
 * `modro keys|tenants|admin ...`: management from the shell, straight against the configured database.
 * Every write bumps the settings version, so a running gateway on the same database applies it within its
 * poll interval (tenancy.cache.pollMs) without a restart.
 */
export const TENANCY_HELP = `Tenancy commands (same --config as start):
  tenants list [--json]
  tenants create <id> [--name NAME] [--preset cheapest|balanced|quality] [--groups g1,g2]
  tenants set <id> [--preset P|default] [--utility MODEL] [--fast MODEL] [--deep MODEL]
                   [--allowed a,b,... | --allowed ""] [--name NAME]     ("" resets a tier to the preset)
                   [--groups g1,g2 | --groups ""]   Channel groups (docs/channels.md); "" leaves every group
  tenants revoke-links <id>     Every dashboard link issued so far stops working
  tenants suspend <id> --reason TEXT   Its keys get 403 on every /v1 route (docs/billing.md)
  tenants unsuspend <id>
  tenants link <id>             Print a signed dashboard link (base: server.publicUrl or --base URL)
  keys create --tenant <id> [--name NAME] [--expires-days N] [LIMITS] [--json]   The key is printed once
  keys set <key-id> [LIMITS] [--clear]   Changes the given limits ("" removes one; --clear removes all)
  keys rotate <key-id> [--grace-hours H] A new secret (printed once); the old one works H more hours (default 24)
  keys list [--tenant <id>] [--json]
  keys revoke <key-id>
    LIMITS: --rpm N --tpm N --quota-usd USD [--quota-period total|monthly|daily] --ips CIDR,...
            --models MODEL,... --scopes chat,messages,models,read-only      (docs/limits.md)
  admin create-user <username> [--password-stdin]   Without --password-stdin a password is generated
  admin set-password <username> [--password-stdin]
`;

export async function runTenancyCommand(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  out: Out = process.stdout,
  err: Out = process.stderr,
): Promise<number> {
  const parsed = parseCommand(argv, OPTIONS, TENANCY_HELP, out, err);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const [group, action, target] = positionals as Array<string | undefined>;
  if (!action) return 2;
  const config = loadCommandConfig(configPathOf(values, env), env, err);
  if (!config) return 2;
  const store = await openStore(storeConfigFrom(config.storage));
  try {
    const ops: AdminOps = { repo: new TenancyRepository(store.db), catalog: buildCatalog(config, env) };
    const before = config.redis ? await ops.repo.settingsVersion() : undefined;
    const code = await dispatch({ group, action, target, values, config, store, ops, out, err, argvEnv: env });
    if (config.redis && before !== undefined) {
      const after = await ops.repo.settingsVersion();
      if (after !== before) await noticeSettings(config.redis, after, err);
    }
    return code;
  } catch (e) {
    if (e instanceof GatewayError) {
      err.write(`modro: ${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    await store.close();
  }
}

/** A write made here reaches running replicas at once through Redis (`<keyPrefix>settings`), else by their poll. */
function noticeSettings(redis: NonNullable<Config['redis']>, version: number, err: Out): Promise<void> {
  return noticeReplicas(redis, 'settings', String(version), err);
}

const OPTIONS = {
  name: { type: 'string' },
  preset: { type: 'string' },
  utility: { type: 'string' },
  fast: { type: 'string' },
  deep: { type: 'string' },
  allowed: { type: 'string' },
  groups: { type: 'string' },
  tenant: { type: 'string' },
  'expires-days': { type: 'string' },
  rpm: { type: 'string' },
  tpm: { type: 'string' },
  'quota-usd': { type: 'string' },
  'quota-period': { type: 'string' },
  ips: { type: 'string' },
  models: { type: 'string' },
  scopes: { type: 'string' },
  clear: { type: 'boolean' },
  'grace-hours': { type: 'string' },
  'password-stdin': { type: 'boolean' },
  base: { type: 'string' },
  reason: { type: 'string' },
} as const satisfies ParseArgsOptionsConfig;

interface Context {
  group: string | undefined;
  action: string;
  target: string | undefined;
  values: ReturnType<typeof parseCommandArgs<typeof OPTIONS>>['values'];
  config: Config;
  store: Store;
  ops: AdminOps;
  out: Out;
  err: Out;
  argvEnv: NodeJS.ProcessEnv;
}

async function dispatch(c: Context): Promise<number> {
  const { ops, values, out } = c;
  const need = (what: string): string => {
    if (!c.target) throw new GatewayError('invalid_request', `${c.group} ${c.action} needs ${what}`);
    return c.target;
  };
  switch (`${c.group} ${c.action}`) {
    case 'tenants list': {
      const tenants = await ops.repo.listTenants({ limit: 10_000 });
      out.write(values.json ? `${JSON.stringify(tenants, null, 2)}\n` : formatTenants(tenants));
      return 0;
    }
    case 'tenants create': {
      const tenant = await createTenant(ops, {
        id: need('an id'),
        name: values.name,
        preset: values.preset,
        ...(values.groups !== undefined ? { groups: linesToList(values.groups) ?? [] } : {}),
      });
      out.write(values.json ? `${JSON.stringify(tenant)}\n` : `Created tenant ${tenant.id} (${tenant.name}).\n`);
      return 0;
    }
    case 'tenants set': {
      const id = need('a tenant id');
      const tierModels: Record<string, string> = {};
      for (const tier of ['utility', 'fast', 'deep'] as const)
        if (values[tier] !== undefined) tierModels[tier] = values[tier];
      const tenant = await updateTenantSettings(ops, id, {
        ...(values.name !== undefined ? { name: values.name } : {}),
        ...(values.preset !== undefined ? { preset: values.preset } : {}),
        ...(Object.keys(tierModels).length > 0 ? { tierModels } : {}),
        ...(values.allowed !== undefined ? { allowedModels: linesToList(values.allowed) } : {}),
        ...(values.groups !== undefined ? { groups: linesToList(values.groups) ?? [] } : {}),
      });
      out.write(values.json ? `${JSON.stringify(tenant)}\n` : formatTenants([tenant]));
      return 0;
    }
    case 'tenants suspend':
    case 'tenants unsuspend': {
      const suspend = c.action === 'suspend';
      const tenant = await setSuspended(ops, need('a tenant id'), { suspended: suspend, reason: values.reason });
      out.write(
        suspend
          ? `Suspended ${tenant.id}: its keys are refused.
`
          : `Lifted the suspension of ${tenant.id}.
`,
      );
      return 0;
    }
    case 'tenants revoke-links': {
      await revokeLinks(ops, need('a tenant id'));
      out.write('Every dashboard link issued so far for this tenant is now refused.\n');
      return 0;
    }
    case 'tenants link': {
      const id = need('a tenant id');
      if (!(await ops.repo.getTenant(id))) throw new GatewayError('not_found', `No tenant '${id}'`);
      const settings = c.config.tenancy;
      const links = new DashboardLinks({
        key: loadServerSecret(settings.secret, dataDirOf(c.config.storage)).keys.dashboardLink,
        ttlMs: settings.dashboard.linkTtlMs,
        refreshMs: settings.dashboard.linkRefreshMs,
      });
      links.setBaseUrl(
        values.base ?? c.config.server.publicUrl ?? `http://${c.config.server.host}:${c.config.server.port}`,
      );
      out.write(`${links.issue(id)}\n`);
      return 0;
    }
    case 'keys create': {
      const { record, key } = await createKey(ops, {
        tenantId: values.tenant,
        name: values.name,
        expiresInDays: values['expires-days'],
        limits: limitsFromFlags(values, {}),
      });
      if (values.json) {
        out.write(`${JSON.stringify({ ...record, key })}\n`);
      } else {
        out.write(
          `Created key ${record.id} for tenant ${record.tenantId}${record.expiresAt ? `, expires ${new Date(record.expiresAt).toISOString()}` : ''}.\n`,
        );
        out.write(`Store it now; it is not shown again:\n\n  ${key}\n\n`);
      }
      return 0;
    }
    case 'keys set': {
      const id = need('a key id');
      const current = await ops.repo.getKey(id);
      if (!current) throw new GatewayError('not_found', `No key '${id}'`);
      const base: Record<string, unknown> = values.clear ? {} : { ...current.limits };
      const record = await setKeyLimits(ops, id, limitsFromFlags(values, base));
      out.write(
        values.json ? `${JSON.stringify(record)}\n` : `Limits of ${record.id}: ${JSON.stringify(record.limits)}\n`,
      );
      return 0;
    }
    case 'keys rotate': {
      const { record, key } = await rotateKey(ops, need('a key id'), values['grace-hours']);
      if (values.json) {
        out.write(`${JSON.stringify({ ...record, key })}\n`);
      } else {
        const until = record.previousValidUntil;
        out.write(
          `Rotated ${record.id}; ${until ? `the previous secret works until ${new Date(until).toISOString()}` : 'the previous secret no longer works'}.\n`,
        );
        out.write(`Store the new secret now; it is not shown again:\n\n  ${key}\n\n`);
      }
      return 0;
    }
    case 'keys list': {
      const keys = await ops.repo.listKeys(values.tenant ? { tenantId: values.tenant } : {});
      out.write(values.json ? `${JSON.stringify(keys, null, 2)}\n` : formatKeys(keys));
      return 0;
    }
    case 'keys revoke': {
      const key = await revokeKey(ops, need('a key id'));
      out.write(`Revoked ${key.id} (${key.prefix}…) of tenant ${key.tenantId}.\n`);
      return 0;
    }
    case 'admin create-user':
    case 'admin set-password': {
      const username = need('a username');
      const given = values['password-stdin'] ? readFileSync(0, 'utf8').replace(/\r?\n$/, '') : undefined;
      const password = given ?? generatePassword();
      const what = await new AdminUsers(c.store.db).upsert(username, password, {
        replace: c.action === 'set-password',
      });
      out.write(`Admin user ${username} ${what}.\n`);
      if (given === undefined) out.write(`Password (shown once): ${password}\n`);
      return 0;
    }
    default:
      c.err.write(`Unknown command '${c.group} ${c.action}'.\n\n${TENANCY_HELP}`);
      return 2;
  }
}

/**
 * Limit flags over `base` (a key's current limits): a flag given as "" removes that limit. The result is
 * validated by the operation (src/limits/key-limits.ts), like the admin API's.
 */
function limitsFromFlags(
  values: ReturnType<typeof parseCommandArgs<typeof OPTIONS>>['values'],
  base: Record<string, unknown>,
): Record<string, unknown> {
  const out = { ...base };
  const set = (name: string, value: unknown) => {
    if (value === '') delete out[name];
    else out[name] = value;
  };
  if (values.rpm !== undefined) set('rpm', values.rpm);
  if (values.tpm !== undefined) set('tpm', values.tpm);
  if (values.ips !== undefined) set('ips', values.ips);
  if (values.models !== undefined) set('models', values.models);
  if (values.scopes !== undefined) set('scopes', values.scopes);
  if (values['quota-usd'] !== undefined) {
    const period = values['quota-period'] ?? (base['quota'] as { period?: string } | undefined)?.period ?? 'monthly';
    set('quota', values['quota-usd'] === '' ? '' : { usd: values['quota-usd'], period });
  } else if (values['quota-period'] !== undefined && base['quota']) {
    out['quota'] = { ...(base['quota'] as object), period: values['quota-period'] };
  }
  return out;
}

function formatTenants(tenants: Tenant[]): string {
  const rows = tenants.map((t) =>
    [
      t.id,
      t.byokProvider ? `byok:${t.byokProvider}` : 'managed',
      t.preset ?? 'default',
      (['utility', 'fast', 'deep'] as const)
        .filter((tier) => t.tierModels[tier])
        .map((tier) => `${tier}=${t.tierModels[tier]}`)
        .join(',') || '-',
      t.name,
    ].join('\t'),
  );
  return `${['ID', 'KIND', 'PRESET', 'TIER MODELS', 'NAME'].join('\t')}\n${rows.join('\n')}\n`;
}

function formatKeys(keys: ApiKeyRecord[]): string {
  const now = Date.now();
  const rows = keys.map((k) =>
    [
      k.id,
      k.tenantId,
      `${k.prefix}…`,
      k.revokedAt !== null ? 'revoked' : k.expiresAt !== null && k.expiresAt <= now ? 'expired' : 'active',
      new Date(k.createdAt).toISOString(),
      k.lastUsedAt === null ? '-' : new Date(k.lastUsedAt).toISOString(),
      limitsSummary(k.limits),
      k.name,
    ].join('\t'),
  );
  return `${['ID', 'TENANT', 'PREFIX', 'STATUS', 'CREATED', 'LAST USED', 'LIMITS', 'NAME'].join('\t')}\n${rows.join('\n')}\n`;
}
