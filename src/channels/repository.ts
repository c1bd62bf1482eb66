import { randomBytes } from 'node:crypto';
import { type Kysely, sql, type Transaction } from 'kysely';
import type { Database } from '../store/schema.ts';
import { type Keyring, MasterKeyError, open, seal } from './master-key.ts';

/**
 * The channel tables (migration 0006_channels). Every write runs in a transaction that also bumps
 * `channel_revision`, so gateways polling the revision see each change once. Credentials are written only as
 * ciphertext (master-key.ts) and their last four characters; nothing here returns a plaintext except `secretsOf`,
 * which the runtime calls to build provider keys.
 */
export type CredentialState = 'active' | 'draining' | 'revoked';

export interface ChannelRow {
  id: string;
  kind: string;
  baseUrl: string | null;
  models: unknown[] | null;
  includeKnownModels: boolean;
  options: Record<string, string | number | boolean>;
  priority: number;
  weight: number;
  /** Groups allowed to use the channel; null: every tenant. */
  groups: string[] | null;
  enabled: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface CredentialRow {
  id: string;
  channelId: string;
  label: string | null;
  keyId: string;
  last4: string;
  state: CredentialState;
  createdAt: number;
  rotateBy: number | null;
  stateChangedAt: number;
}

/** A credential's secret parts (Bedrock has three; every other kind one). */
export interface CredentialSecret {
  key: string;
  secretAccessKey?: string | undefined;
  sessionToken?: string | undefined;
}

export interface NewCredential extends CredentialSecret {
  label?: string | undefined;
  rotateBy?: number | undefined;
}

export function newCredentialId(): string {
  return `cred_${randomBytes(9).toString('base64url')}`;
}

function channelFromRow(row: Database['channel']): ChannelRow {
  return {
    id: row.id,
    kind: row.kind,
    baseUrl: row.base_url,
    models: row.models === null ? null : (JSON.parse(row.models) as unknown[]),
    includeKnownModels: Number(row.include_known_models) === 1,
    options: JSON.parse(row.options) as Record<string, string | number | boolean>,
    priority: Number(row.priority),
    weight: Number(row.weight),
    groups: row.groups ? (JSON.parse(row.groups) as string[]) : null,
    enabled: Number(row.enabled) === 1,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

function credentialFromRow(row: Database['channel_credential']): CredentialRow {
  return {
    id: row.id,
    channelId: row.channel_id,
    label: row.label,
    keyId: row.key_id,
    last4: row.last4,
    state: row.state as CredentialState,
    createdAt: Number(row.created_at),
    rotateBy: row.rotate_by === null ? null : Number(row.rotate_by),
    stateChangedAt: Number(row.state_changed_at),
  };
}

/** The last four characters of a credential, the only part ever shown after creation. */
export function lastFour(secret: string): string {
  return secret.length >= 12 ? secret.slice(-4) : '';
}

export class ChannelRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async revision(): Promise<number> {
    const row = await this.#db.selectFrom('channel_revision').select('revision').where('id', '=', 1).executeTakeFirst();
    return Number(row?.revision ?? 0);
  }

  async listChannels(): Promise<ChannelRow[]> {
    const rows = await this.#db.selectFrom('channel').selectAll().orderBy('id').execute();
    return rows.map(channelFromRow);
  }

  async getChannel(id: string): Promise<ChannelRow | undefined> {
    const row = await this.#db.selectFrom('channel').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? channelFromRow(row) : undefined;
  }

  async listCredentials(channelId?: string): Promise<CredentialRow[]> {
    let query = this.#db
      .selectFrom('channel_credential')
      .select([
        'id',
        'channel_id',
        'label',
        'key_id',
        'last4',
        'state',
        'created_at',
        'rotate_by',
        'state_changed_at',
        sql<string>`''`.as('ciphertext'),
      ])
      .orderBy('created_at')
      .orderBy('id');
    if (channelId !== undefined) query = query.where('channel_id', '=', channelId);
    return (await query.execute()).map(credentialFromRow);
  }

  /**
   * The plaintext of the credentials in `states` not in `skip`, by credential id (for the runtime's provider
   * keys); those that cannot be opened are listed by id with the reason (never a value).
   */
  async secretsOf(
    keyring: Keyring,
    states: readonly CredentialState[],
    skip: ReadonlySet<string> = new Set(),
  ): Promise<{ secrets: Map<string, CredentialSecret>; failures: string[] }> {
    const rows = await this.#db
      .selectFrom('channel_credential')
      .select(['id', 'ciphertext'])
      .where('state', 'in', [...states])
      .execute();
    const secrets = new Map<string, CredentialSecret>();
    const failures: string[] = [];
    for (const row of rows) {
      if (skip.has(row.id)) continue;
      try {
        secrets.set(row.id, JSON.parse(open(keyring, row.id, row.ciphertext)) as CredentialSecret);
      } catch (err) {
        failures.push(err instanceof MasterKeyError ? err.message : `credential ${row.id}: unreadable`);
      }
    }
    return { secrets, failures };
  }

  async createChannel(
    channel: ChannelRow,
    credentials: Array<{ id: string; secret: NewCredential }>,
    keyring: Keyring,
  ) {
    await this.#write(async (trx) => {
      await trx.insertInto('channel').values(toRow(channel)).execute();
      for (const c of credentials) await insertCredential(trx, keyring, channel.id, c.id, c.secret, channel.createdAt);
    });
  }

  async updateChannel(channel: ChannelRow): Promise<void> {
    const { id, created_at: _created, ...rest } = toRow(channel);
    await this.#write((trx) => trx.updateTable('channel').set(rest).where('id', '=', id).execute());
  }

  async deleteChannel(id: string): Promise<boolean> {
    let deleted = false;
    await this.#write(async (trx) => {
      await trx.deleteFrom('channel_credential').where('channel_id', '=', id).execute();
      const result = await trx.deleteFrom('channel').where('id', '=', id).executeTakeFirst();
      deleted = Number(result.numDeletedRows) > 0;
    });
    return deleted;
  }

  async addCredential(channelId: string, id: string, secret: NewCredential, keyring: Keyring, now: number) {
    await this.#write(async (trx) => {
      await insertCredential(trx, keyring, channelId, id, secret, now);
      await trx.updateTable('channel').set({ updated_at: now }).where('id', '=', channelId).execute();
    });
  }

  /** Moves a credential to `state`; a revoked one loses its ciphertext for good. */
  async setCredentialState(channelId: string, id: string, state: CredentialState, now: number): Promise<boolean> {
    let changed = false;
    await this.#write(async (trx) => {
      const result = await trx
        .updateTable('channel_credential')
        .set({ state, state_changed_at: now, ...(state === 'revoked' ? { ciphertext: '' } : {}) })
        .where('channel_id', '=', channelId)
        .where('id', '=', id)
        .where('state', '!=', 'revoked')
        .executeTakeFirst();
      changed = Number(result.numUpdatedRows) > 0;
    });
    return changed;
  }

  /**
   * Re-seals every live credential not yet under the keyring's current key with it, one row per statement
   * (each checked against the ciphertext it replaced, so a concurrent write is not overwritten). Readers with
   * the current key in their keyring read every row before, during and after.
   */
  async reseal(keyring: Keyring): Promise<{ resealed: number; alreadyCurrent: number }> {
    const rows = await this.#db
      .selectFrom('channel_credential')
      .select(['id', 'ciphertext', 'key_id'])
      .where('state', '!=', 'revoked')
      .execute();
    let resealed = 0;
    let alreadyCurrent = 0;
    for (const row of rows) {
      if (row.key_id === keyring.current.id) {
        alreadyCurrent++;
        continue;
      }
      const ciphertext = seal(keyring, row.id, open(keyring, row.id, row.ciphertext));
      await this.#write((trx) =>
        trx
          .updateTable('channel_credential')
          .set({ ciphertext, key_id: keyring.current.id })
          .where('id', '=', row.id)
          .where('ciphertext', '=', row.ciphertext)
          .execute(),
      );
      resealed++;
    }
    return { resealed, alreadyCurrent };
  }

  async #write(body: (trx: Transaction<Database>) => Promise<unknown>): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      await body(trx);
      await trx.updateTable('channel_revision').set({ revision: sql`revision + 1` }).where('id', '=', 1).execute();
    });
  }
}

function toRow(channel: ChannelRow): Database['channel'] {
  return {
    id: channel.id,
    kind: channel.kind,
    base_url: channel.baseUrl,
    models: channel.models === null ? null : JSON.stringify(channel.models),
    include_known_models: channel.includeKnownModels ? 1 : 0,
    options: JSON.stringify(channel.options),
    priority: channel.priority,
    weight: channel.weight,
    groups: channel.groups && channel.groups.length > 0 ? JSON.stringify(channel.groups) : null,
    enabled: channel.enabled ? 1 : 0,
    created_at: channel.createdAt,
    updated_at: channel.updatedAt,
  };
}

async function insertCredential(
  trx: Transaction<Database>,
  keyring: Keyring,
  channelId: string,
  id: string,
  secret: NewCredential,
  now: number,
): Promise<void> {
  const plain: CredentialSecret = { key: secret.key };
  if (secret.secretAccessKey) plain.secretAccessKey = secret.secretAccessKey;
  if (secret.sessionToken) plain.sessionToken = secret.sessionToken;
  await trx
    .insertInto('channel_credential')
    .values({
      id,
      channel_id: channelId,
      label: secret.label ?? null,
      ciphertext: seal(keyring, id, JSON.stringify(plain)),
      key_id: keyring.current.id,
      last4: lastFour(secret.key),
      state: 'active',
      created_at: now,
      rotate_by: secret.rotateBy ?? null,
      state_changed_at: now,
    })
    .execute();
}
