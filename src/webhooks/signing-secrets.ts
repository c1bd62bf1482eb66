import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { Webhook } from 'standardwebhooks';
import { type Keyring, keyringOf, loadKeyring, masterKeyOf, open, seal } from '../channels/master-key.ts';
import type { Database } from '../store/schema.ts';

/**
 * Each tenant's webhook signing secret (`whsec_` + base64 of 32 random bytes, as the Standard Webhooks
 * libraries read it), created on first need, sealed with AES-256-GCM at rest (the channels' sealing,
 * src/channels/master-key.ts) and rotatable: after a rotation the previous secret signs beside the new one for
 * `rotationOverlapMs` (Standard Webhooks sends one signature per secret, space-separated), so receivers can
 * switch without dropping a message.
 *
 * The key that seals them: the master key (MODRO_MASTER_KEY or MODRO_MASTER_KEY_FILE) when one is configured;
 * otherwise a key generated once into `<data folder>/webhook-secrets.key` (mode 0600). Replicas sharing a
 * PostgreSQL database must share that key: configure the master key. Rows sealed by the local key stay
 * readable after a master key is configured, and every row is re-sealed under the current key at start.
 */
export const LOCAL_KEY_FILE = 'webhook-secrets.key';

export async function loadWebhookKeyring(
  env: NodeJS.ProcessEnv,
  dataDir: string,
): Promise<{ keyring: Keyring; source: 'master-key' | 'local-file' }> {
  const master = await loadKeyring(env);
  const path = join(dataDir, LOCAL_KEY_FILE);
  const local = await readLocalKey(path);
  if (master) {
    return {
      keyring: keyringOf(master.current, [...master.all.slice(1), ...(local ? [local] : [])]),
      source: 'master-key',
    };
  }
  if (local) return { keyring: keyringOf(local), source: 'local-file' };
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  try {
    // `wx`: two processes starting together must not both write; the loser reads the winner's key.
    await writeFile(path, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    await chmod(path, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const created = await readLocalKey(path);
  if (!created) throw new Error(`${path} holds no key`);
  return { keyring: keyringOf(created), source: 'local-file' };
}

async function readLocalKey(path: string) {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return masterKeyOf(text, path);
}

export interface SecretView {
  secret: string;
  createdAt: number;
  rotatedAt: number | null;
  /** Until when the previous secret still signs (after a rotation); null when none does. */
  previousValidUntil: number | null;
}

export class SigningSecrets {
  readonly #db: Kysely<Database>;
  readonly #keyring: Keyring;
  readonly #overlapMs: number;
  readonly #now: () => number;

  constructor(options: { db: Kysely<Database>; keyring: Keyring; rotationOverlapMs: number; now?: () => number }) {
    this.#db = options.db;
    this.#keyring = options.keyring;
    this.#overlapMs = options.rotationOverlapMs;
    this.#now = options.now ?? Date.now;
  }

  /** The tenant's secret (created now if it has none), for the tenant API. */
  async get(tenantId: string): Promise<SecretView> {
    const row = await this.#row(tenantId);
    const now = this.#now();
    return {
      secret: this.#open(tenantId, row.ciphertext),
      createdAt: row.created_at,
      rotatedAt: row.rotated_at,
      previousValidUntil: row.previous_ciphertext && (row.previous_until ?? 0) > now ? row.previous_until : null,
    };
  }

  /** A new secret; the current one keeps signing beside it for the overlap. */
  async rotate(tenantId: string): Promise<SecretView> {
    await this.#row(tenantId);
    const now = this.#now();
    const next = newSecret();
    await this.#db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('webhook_secret')
        .select(['ciphertext'])
        .where('tenant_id', '=', tenantId)
        .executeTakeFirstOrThrow();
      await trx
        .updateTable('webhook_secret')
        .set({
          ciphertext: seal(this.#keyring, aadOf(tenantId), next),
          key_id: this.#keyring.current.id,
          previous_ciphertext: this.#overlapMs > 0 ? row.ciphertext : null,
          previous_until: this.#overlapMs > 0 ? now + this.#overlapMs : null,
          rotated_at: now,
        })
        .where('tenant_id', '=', tenantId)
        .execute();
    });
    return this.get(tenantId);
  }

  /** Signs one attempt: the `webhook-signature` value, one `v1,…` per secret in use. */
  async sign(tenantId: string, messageId: string, at: Date, body: string): Promise<string> {
    const row = await this.#row(tenantId);
    const secrets = [this.#open(tenantId, row.ciphertext)];
    if (row.previous_ciphertext && (row.previous_until ?? 0) > this.#now()) {
      secrets.push(this.#open(tenantId, row.previous_ciphertext));
    }
    return secrets.map((s) => new Webhook(s).sign(messageId, at, body)).join(' ');
  }

  /** Re-seals rows sealed by an older key under the current one (after a master-key change); returns how many. */
  async reseal(): Promise<number> {
    const rows = await this.#db
      .selectFrom('webhook_secret')
      .selectAll()
      .where('key_id', '!=', this.#keyring.current.id)
      .execute();
    let count = 0;
    for (const row of rows) {
      const current = this.#open(row.tenant_id, row.ciphertext);
      const previous = row.previous_ciphertext ? this.#open(row.tenant_id, row.previous_ciphertext) : null;
      await this.#db
        .updateTable('webhook_secret')
        .set({
          ciphertext: seal(this.#keyring, aadOf(row.tenant_id), current),
          previous_ciphertext: previous === null ? null : seal(this.#keyring, aadOf(row.tenant_id), previous),
          key_id: this.#keyring.current.id,
        })
        .where('tenant_id', '=', row.tenant_id)
        .where('key_id', '=', row.key_id)
        .execute();
      count++;
    }
    return count;
  }

  async #row(tenantId: string) {
    const found = await this.#select(tenantId);
    if (found) return found;
    // Two deliverers creating it at once: the second insert is ignored and both read the winner's secret.
    await this.#db
      .insertInto('webhook_secret')
      .values({
        tenant_id: tenantId,
        ciphertext: seal(this.#keyring, aadOf(tenantId), newSecret()),
        key_id: this.#keyring.current.id,
        previous_ciphertext: null,
        previous_until: null,
        created_at: this.#now(),
        rotated_at: null,
      })
      .onConflict((oc) => oc.column('tenant_id').doNothing())
      .execute();
    const created = await this.#select(tenantId);
    if (!created) throw new Error('webhook secret was not stored');
    return created;
  }

  #select(tenantId: string) {
    return this.#db.selectFrom('webhook_secret').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();
  }

  #open(tenantId: string, ciphertext: string): string {
    return open(this.#keyring, aadOf(tenantId), ciphertext);
  }
}

/** The sealed row's identity (GCM additional data): a ciphertext copied to another tenant's row does not open. */
function aadOf(tenantId: string): string {
  return `webhook-secret:${tenantId}`;
}

function newSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}
