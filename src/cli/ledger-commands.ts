import { userInfo } from 'node:os';
import type { ParseArgsOptionsConfig } from 'node:util';
import { parseAmount } from '../billing/amounts.ts';
import { formatUsd } from '../billing/cost.ts';
import { Ledger } from '../billing/ledger.ts';
import { verifyLedger } from '../billing/verify.ts';
import { GatewayError } from '../core/errors.ts';
import { openStore, storeConfigFrom } from '../store/db.ts';
import { configPathOf, loadCommandConfig, type Out, parseCommand } from './shared.ts';

/**
 * `modro ledger|plans ...`: money from the shell, straight against the configured database (docs/billing.md).
 * A running gateway on the same database picks the entries and plan changes up within billing.pollMs.
 */
export const LEDGER_HELP = `Money commands (same --config as start; amounts in dollars, up to 9 decimals):
  ledger verify [--json]        Entries sum to every balance and month's spend, holds closed once or in flight,
                                nothing negative; exits 1 when a check fails
  ledger balance <tenant> [--json]
  ledger open <tenant>          Bill a tenant (an account with a zero balance)
  ledger credit|debit <tenant> --usd AMOUNT --reason TEXT [--by NAME]
  ledger deposit <tenant> --usd AMOUNT --reason TEXT [--payment-id ID] [--by NAME]
                                A payment received: the deposit fee (billing.depositFeeBps) is taken from it
  ledger refund <tenant> --usd AMOUNT --reason TEXT [--payment-id ID] [--by NAME]
  plans list [--json]
  plans set <id> [--name NAME] [--cap-usd USD | --cap-usd ""] [--models a,b | --models ""] [--public yes|no]
  plans assign <tenant> <plan-id | none>
`;

export async function runLedgerCommand(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  out: Out = process.stdout,
  err: Out = process.stderr,
): Promise<number> {
  const parsed = parseCommand(argv, OPTIONS, LEDGER_HELP, out, err);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const [group, action, target, second] = positionals as Array<string | undefined>;
  if (!action) return 2;
  const config = loadCommandConfig(configPathOf(values, env), env, err);
  if (!config) return 2;
  const store = await openStore(storeConfigFrom(config.storage));
  const ledger = new Ledger({ db: store.db });
  try {
    await ledger.start({ recover: false });
    const json = (value: unknown) => out.write(`${JSON.stringify(value, null, 2)}\n`);
    const needTarget = (what: string): string => {
      if (!target) throw new GatewayError('invalid_request', `Name the ${what}`);
      return target;
    };
    if (group === 'ledger' && action === 'verify') {
      const result = await verifyLedger(store.db);
      if (values.json) json(result);
      else {
        out.write(
          `${result.ok ? 'ok' : 'FAILED'}: ${result.accounts} accounts, ${result.entries} entries, ${result.openHolds} holds in flight, ${result.months} months of spend\n`,
        );
        for (const problem of result.problems) out.write(`  ${problem}\n`);
      }
      return result.ok ? 0 : 1;
    }
    if (group === 'ledger' && action === 'balance') {
      const account = await ledger.view(needTarget('tenant'));
      if (!account) throw new GatewayError('not_found', `Tenant '${target}' has no billed account`);
      if (values.json) json(account);
      else {
        out.write(
          `${account.tenantId}: balance $${formatUsd(account.balanceNano)}, held $${formatUsd(account.heldNano)}, available $${formatUsd(account.availableNano)}, spent this month $${formatUsd(account.monthSpendNano)}, plan ${account.planId ?? '-'}\n`,
        );
      }
      return 0;
    }
    if (group === 'ledger' && action === 'open') {
      const account = await ledger.openAccount(needTarget('tenant'));
      out.write(`${account.tenantId}: billed, balance $${formatUsd(account.balanceNano)}\n`);
      return 0;
    }
    if (
      group === 'ledger' &&
      (action === 'credit' || action === 'debit' || action === 'deposit' || action === 'refund')
    ) {
      const tenantId = needTarget('tenant');
      const amountNano = parseAmount({ usd: values.usd });
      if (amountNano === undefined) {
        throw new GatewayError('invalid_request', '--usd: dollars, e.g. 12.50 (up to 9 decimals)');
      }
      const done = await ledger.manual({
        tenantId,
        kind: action,
        amountNano,
        admin: values.by ?? `cli:${userInfo().username}`,
        reason: values.reason ?? '',
        paymentId: values['payment-id'] ?? null,
        feeBps: config.billing.depositFeeBps,
      });
      for (const e of done.entries) out.write(`${e.kind}\t${formatUsd(e.amount_nano)}\n`);
      out.write(`${tenantId}: balance $${formatUsd(done.account.balanceNano)}\n`);
      return 0;
    }
    if (group === 'plans' && action === 'list') {
      const plans = ledger.plans();
      if (values.json) json(plans);
      else {
        for (const p of plans) {
          const cap = p.monthlyCapNano === null ? 'no cap' : `$${formatUsd(p.monthlyCapNano)} a month`;
          out.write(`${p.id}\t${p.name}\t${cap}\t${p.models ? p.models.join(',') : 'every model'}\n`);
        }
      }
      return 0;
    }
    if (group === 'plans' && action === 'set') {
      const id = needTarget('plan');
      const existing = ledger.plans().find((p) => p.id === id);
      let monthlyCapNano = existing?.monthlyCapNano ?? null;
      if (values['cap-usd'] !== undefined) {
        const cap = values['cap-usd'] === '' ? null : parseAmount({ usd: values['cap-usd'] });
        if (cap === undefined) throw new GatewayError('invalid_request', '--cap-usd: dollars, e.g. 50, or ""');
        monthlyCapNano = cap;
      }
      let models = existing?.models ?? null;
      if (values.models !== undefined) {
        models = values.models === '' ? null : values.models.split(',').map((m) => m.trim());
      }
      let isPublic = existing?.public ?? false;
      if (values.public !== undefined) {
        if (values.public !== 'yes' && values.public !== 'no') {
          throw new GatewayError('invalid_request', '--public: yes or no');
        }
        isPublic = values.public === 'yes';
      }
      const plan = await ledger.savePlan({
        id,
        name: values.name ?? existing?.name ?? id,
        monthlyCapNano,
        models,
        public: isPublic,
      });
      out.write(`plan ${plan.id} saved\n`);
      return 0;
    }
    if (group === 'plans' && action === 'assign') {
      const tenantId = needTarget('tenant');
      if (!second) throw new GatewayError('invalid_request', 'Name the plan (or none)');
      const account = await ledger.assignPlan(tenantId, second === 'none' ? null : second);
      out.write(`${tenantId}: plan ${account.planId ?? '-'}\n`);
      return 0;
    }
    err.write(`Unknown command '${group} ${action}'.\n\n${LEDGER_HELP}`);
    return 2;
  } catch (e) {
    if (e instanceof GatewayError) {
      err.write(`modro: ${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    await ledger.close();
    await store.close();
  }
}

const OPTIONS = {
  usd: { type: 'string' },
  reason: { type: 'string' },
  by: { type: 'string' },
  'payment-id': { type: 'string' },
  name: { type: 'string' },
  'cap-usd': { type: 'string' },
  models: { type: 'string' },
  public: { type: 'string' },
} as const satisfies ParseArgsOptionsConfig;
