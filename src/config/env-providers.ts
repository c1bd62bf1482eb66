import type { EnvSetup } from '../providers/kinds/descriptor.ts';
import { PROVIDER_DESCRIPTORS } from '../providers/kinds/index.ts';
import type { ProviderConfig } from './schema.ts';

/**
 * Providers switched on by the usual environment variables (each kind's descriptor names them), so
 * `OPENAI_API_KEY=... ./modro start` just works. A kind the configuration file already defines is left to the
 * file. Several keys may be given comma-separated (`OPENAI_API_KEY=sk-a,sk-b`) to spread load.
 */
export function providersFromEnv(env: NodeJS.ProcessEnv, configured: ProviderConfig[]): ProviderConfig[] {
  const kinds = new Set(configured.map((p) => p.kind));
  const found: ProviderConfig[] = [];
  for (const { id, env: setup } of PROVIDER_DESCRIPTORS) {
    if (!setup || kinds.has(id)) continue;
    const keys = keysFrom(setup, env);
    if (keys.length === 0) continue;
    const options: Record<string, string> = {};
    for (const [name, { vars, fallback }] of Object.entries(setup.options ?? {})) {
      options[name] = vars.map((v) => env[v]).find((v) => v !== undefined) ?? fallback;
    }
    found.push({ id, kind: id, keys, options, timeouts: { connectMs: 5_000, firstByteMs: 60_000, totalMs: 600_000 } });
  }
  return found;
}

function keysFrom(setup: EnvSetup, env: NodeJS.ProcessEnv): ProviderConfig['keys'] {
  const value = setup.keys.map((name) => env[name]).find((v) => v && v.trim() !== '');
  if (!value) return [];
  if (setup.secretAccessKey === undefined) {
    return value
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean);
  }
  const secretAccessKey = env[setup.secretAccessKey];
  if (!secretAccessKey) return [];
  const sessionToken = setup.sessionToken ? env[setup.sessionToken] : undefined;
  return [sessionToken ? { key: value, secretAccessKey, sessionToken } : { key: value, secretAccessKey }];
}
