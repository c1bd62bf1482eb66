import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The server secret: the root of BYOK tenant ids and signed dashboard links. From `tenancy.secret`
 * (an `env:`/`file:` reference, resolved by the config loader), else generated once at first start and kept
 * in `<data folder>/tenancy-secret` with mode 0600. Changing it changes every BYOK tenant id and
 * invalidates every dashboard link, so several nodes sharing a database must share it (set it in config).
 */
export const SECRET_FILE = 'tenancy-secret';

export interface ServerSecret {
  /** Where it came from, for the start-up log (never the value). */
  source: 'config' | 'generated' | 'file';
  /** Subkeys, one per purpose: a value signed for one use can never be replayed for another. */
  keys: PurposeKeys;
}

export interface PurposeKeys {
  byokTenant: Buffer;
  dashboardLink: Buffer;
}

const MIN_SECRET_CHARS = 32;

export function loadServerSecret(configured: string | undefined, dataDir: string): ServerSecret {
  if (configured !== undefined) {
    if (configured.length < MIN_SECRET_CHARS) {
      throw new Error(`tenancy.secret is too short: use at least ${MIN_SECRET_CHARS} random characters`);
    }
    return { source: 'config', keys: deriveKeys(configured) };
  }
  const path = join(dataDir, SECRET_FILE);
  if (existsSync(path)) {
    const value = readFileSync(path, 'utf8').trim();
    if (value.length < MIN_SECRET_CHARS) throw new Error(`${path} holds no usable secret; delete it to regenerate`);
    return { source: 'file', keys: deriveKeys(value) };
  }
  mkdirSync(dirname(path), { recursive: true });
  const value = randomBytes(32).toString('base64url');
  // `wx`: two processes starting together must not both write; the loser reads the winner's secret.
  try {
    writeFileSync(path, `${value}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadServerSecret(undefined, dataDir);
    throw err;
  }
  chmodSync(path, 0o600);
  return { source: 'generated', keys: deriveKeys(value) };
}

export function deriveKeys(secret: string): PurposeKeys {
  const derive = (purpose: string) => createHmac('sha256', secret).update(`modro:${purpose}:v1`).digest();
  return { byokTenant: derive('byok-tenant'), dashboardLink: derive('dashboard-link') };
}
