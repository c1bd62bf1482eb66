import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { runLedgerCommand } from '../../src/cli/ledger-commands.ts';
import { runTenancyCommand } from '../../src/cli/tenancy-commands.ts';

/**
 * The gateway's configuration for the bench, as a user would write it: a real SQLite file, one API key,
 * the mock as an `openai` provider with four models so `fast` is resolved by real routing (two models in
 * the tier, ranked by the balanced preset), and everything else at its defaults: usage records batched
 * (500 rows or 1 s), Prometheus metrics, circuit breakers, logging at `info`.
 */
export const BENCH_GATEWAY_KEY = 'mdr-bench-0123456789abcdefghij';

export function writeGatewayConfig(
  dir: string,
  mockOrigin: string,
  mockKey: string,
  /** Top-level settings replacing the defaults (the replicas profile: PostgreSQL storage, redis, tenancy). */
  overrides: Record<string, unknown> = {},
): string {
  const config = {
    server: { host: '127.0.0.1', port: 0 },
    storage: { kind: 'sqlite', path: join(dir, 'modro.db') },
    auth: { keys: [{ id: 'bench', key: BENCH_GATEWAY_KEY }] },
    logging: { level: 'info' },
    providers: [
      {
        id: 'mock',
        kind: 'openai',
        baseUrl: `${mockOrigin}/v1`,
        keys: [mockKey],
        models: [
          model('gpt-4.1-nano', 40, 0.1, 0.4),
          model('gpt-4o-mini', 68, 0.15, 0.6),
          model('gpt-4.1-mini', 72, 0.4, 1.6),
          model('gpt-4o', 85, 2.5, 10),
          { ...model('text-embedding-3-small', 50, 0.02, 0), mode: 'embedding' },
        ],
      },
    ],
    ...overrides,
  };
  const path = join(dir, 'modro.yaml');
  writeFileSync(path, stringify(config));
  return path;
}

/**
 * The limits of the bench's managed key: every per-key check runs on every request (scopes, client address,
 * model list, quota, rpm and tpm with their headers), set high enough never to refuse. docs/limits.md.
 */
export const BENCH_KEY_LIMITS = [
  '--rpm',
  '1000000000',
  '--tpm',
  '1000000000',
  '--quota-usd',
  '1000000',
  '--quota-period',
  'monthly',
  '--ips',
  '127.0.0.0/8,::1/128',
  '--models',
  'gpt-4.1-nano,gpt-4o-mini,gpt-4.1-mini,gpt-4o,text-embedding-3-small',
  '--scopes',
  'chat,embeddings',
];

/** A managed key with BENCH_KEY_LIMITS, made with the CLI in the bench's database before the gateway starts. */
export async function createLimitedBenchKey(configPath: string): Promise<string> {
  const cli = async (args: string[]): Promise<string> => {
    let out = '';
    let err = '';
    const code = await runTenancyCommand(
      [...args, '--config', configPath],
      {},
      { write: (text) => (out += text) },
      { write: (text) => (err += text) },
    );
    if (code !== 0) throw new Error(`creating the bench's limited key failed: ${err}`);
    return out;
  };
  await cli(['tenants', 'create', 'bench']);
  const created = await cli(['keys', 'create', '--tenant', 'bench', '--name', 'bench', ...BENCH_KEY_LIMITS, '--json']);
  return (JSON.parse(created) as { key: string }).key;
}

/**
 * `--billed`: the bench tenant becomes a billed account (docs/billing.md) with a $1,000,000 deposit, on a plan
 * with a $1,000,000 monthly cap, so every gateway request also holds, settles and writes ledger entries.
 */
export async function billBenchTenant(configPath: string): Promise<void> {
  const cli = async (args: string[]): Promise<void> => {
    let err = '';
    const code = await runLedgerCommand(
      [...args, '--config', configPath],
      {},
      { write: () => {} },
      {
        write: (text) => {
          err += text;
        },
      },
    );
    if (code !== 0) throw new Error(`billing the bench tenant failed: ${err}`);
  };
  await cli(['ledger', 'deposit', 'bench', '--usd', '1000000', '--reason', 'bench']);
  await cli(['plans', 'set', 'bench', '--name', 'Bench', '--cap-usd', '1000000']);
  await cli(['plans', 'assign', 'bench', 'bench']);
}

/** `--billed`: the bench tenant's ledger after the run (every hold closed, verify passing). */
export async function verifyBenchLedger(configPath: string): Promise<string> {
  let out = '';
  const code = await runLedgerCommand(
    ['ledger', 'verify', '--config', configPath],
    {},
    {
      write: (text) => {
        out += text;
      },
    },
  );
  return `ledger verify exit ${code}: ${out.trim()}`;
}

function model(name: string, qualityRank: number, input: number, output: number) {
  return {
    name,
    qualityRank,
    price: { input, output },
    contextWindow: 128_000,
    maxOutputTokens: 16_384,
    capabilities: { tools: true, vision: true, jsonSchema: true, streaming: true },
  };
}
