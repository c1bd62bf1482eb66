import { z } from 'zod';
import { type ProviderConfig, providerSchema } from '../config/schema.ts';
import { GatewayError } from '../core/errors.ts';
import { descriptorOf } from '../providers/kinds/index.ts';
import type { Keyring } from './master-key.ts';
import {
  type ChannelRepository,
  type ChannelRow,
  type CredentialRow,
  type NewCredential,
  newCredentialId,
} from './repository.ts';

/**
 * Channel management shared by the admin JSON API and the CLI: validation with clear messages, and the
 * views that go back out. A view never holds a credential: only its id, label, last four characters, state,
 * age and rotate-by date (with a warning when that date is near or past).
 */
export interface ChannelOps {
  repo: ChannelRepository;
  /** undefined when no master key is configured: reading works, anything that stores a credential is refused. */
  keyring: Keyring | undefined;
  /** Provider ids defined in YAML or the environment: a channel may not take one. */
  reservedIds: ReadonlySet<string>;
  now?: () => number;
}

const DAY_MS = 86_400_000;
/** A credential whose rotate-by date is this close (or past) carries a warning. */
export const ROTATE_WARNING_DAYS = 14;

const credentialSchema = z.strictObject({
  key: z.string().min(1, 'must not be empty').max(4096),
  secretAccessKey: z.string().min(1).max(4096).optional(),
  sessionToken: z.string().min(1).max(8192).optional(),
  label: z.string().min(1).max(100).optional(),
  rotateBy: z.iso.datetime({ offset: true }).or(z.iso.date()).optional(),
});

const base = providerSchema.pick({
  kind: true,
  baseUrl: true,
  options: true,
  models: true,
  includeKnownModels: true,
  groups: true,
});

const createSchema = base.extend({
  id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be 1-63 lowercase letters, digits, - or _'),
  priority: z.int().min(-1000).max(1000).default(0),
  weight: z.int().min(1).max(1000).default(1),
  enabled: z.boolean().default(true),
  credentials: z.array(credentialSchema).max(50).default([]),
});

const updateSchema = base
  .omit({ kind: true })
  .extend({
    baseUrl: z.url().nullable().optional(),
    models: base.shape.models.unwrap().nullable().optional(),
    groups: base.shape.groups.unwrap().nullable().optional(),
    priority: z.int().min(-1000).max(1000).optional(),
    weight: z.int().min(1).max(1000).optional(),
    enabled: z.boolean().optional(),
  })
  .partial();

export interface CredentialView {
  id: string;
  /** Requests and streams using it on the gateway that answers (admin API and page only; absent in the CLI). */
  inFlight?: number;
  label: string | null;
  /** The last four characters of the credential ('' for a short one); the rest is never shown again. */
  last4: string;
  state: CredentialRow['state'];
  createdAt: string;
  ageDays: number;
  rotateBy: string | null;
  warning: string | null;
  masterKeyId: string;
}

export interface ChannelView {
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
  createdAt: string;
  updatedAt: string;
  source: 'database';
  credentials: CredentialView[];
}

function invalid(error: z.ZodError): GatewayError {
  const issue = error.issues[0]!;
  const param = issue.path.map(String).join('.');
  return new GatewayError('invalid_request', `${param || 'body'}: ${issue.message}`, { param: param || null });
}

function parseWith<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw invalid(parsed.error);
  return parsed.data;
}

function requireKeyring(ops: ChannelOps): Keyring {
  if (!ops.keyring) {
    throw new GatewayError(
      'invalid_request',
      'Channel credentials need a master key: set MODRO_MASTER_KEY (base64 of 32 bytes) or MODRO_MASTER_KEY_FILE and restart (docs/channels.md)',
      { status: 409 },
    );
  }
  return ops.keyring;
}

function rotateByMs(value: string | undefined): number | undefined {
  return value === undefined ? undefined : Date.parse(value);
}

function newCredential(c: z.output<typeof credentialSchema>): NewCredential {
  return {
    key: c.key,
    secretAccessKey: c.secretAccessKey,
    sessionToken: c.sessionToken,
    label: c.label,
    rotateBy: rotateByMs(c.rotateBy),
  };
}

function checkKind(kind: string, baseUrl: string | null | undefined): void {
  const descriptor = descriptorOf(kind as ProviderConfig['kind']);
  if (kind === 'demo')
    throw new GatewayError('invalid_request', 'kind: the demo provider cannot be a channel', { param: 'kind' });
  if (!descriptor.defaultBaseUrl && !baseUrl) {
    throw new GatewayError('invalid_request', `baseUrl: kind '${kind}' has no default base URL; give one`, {
      param: 'baseUrl',
    });
  }
}

export async function createChannel(ops: ChannelOps, input: unknown): Promise<ChannelView> {
  const parsed = parseWith(createSchema, input);
  if (ops.reservedIds.has(parsed.id)) {
    throw new GatewayError('invalid_request', `id: '${parsed.id}' is a provider defined in the configuration file`, {
      param: 'id',
      status: 409,
    });
  }
  if (await ops.repo.getChannel(parsed.id)) {
    throw new GatewayError('invalid_request', `id: a channel '${parsed.id}' already exists`, {
      param: 'id',
      status: 409,
    });
  }
  checkKind(parsed.kind, parsed.baseUrl);
  if (parsed.kind === 'bedrock' && parsed.credentials.some((c) => !c.secretAccessKey)) {
    throw new GatewayError('invalid_request', 'credentials: a bedrock credential needs key and secretAccessKey', {
      param: 'credentials',
    });
  }
  const keyring = parsed.credentials.length > 0 ? requireKeyring(ops) : ops.keyring;
  const now = (ops.now ?? Date.now)();
  const channel: ChannelRow = {
    id: parsed.id,
    kind: parsed.kind,
    baseUrl: parsed.baseUrl?.replace(/\/+$/, '') ?? null,
    models: parsed.models ?? null,
    includeKnownModels: parsed.includeKnownModels ?? false,
    options: parsed.options,
    priority: parsed.priority,
    weight: parsed.weight,
    groups: parsed.groups && parsed.groups.length > 0 ? [...new Set(parsed.groups)] : null,
    enabled: parsed.enabled,
    createdAt: now,
    updatedAt: now,
  };
  await ops.repo.createChannel(
    channel,
    parsed.credentials.map((c) => ({ id: newCredentialId(), secret: newCredential(c) })),
    // Only used when there are credentials, and then required above.
    keyring as Keyring,
  );
  return viewOf(ops, channel);
}

export async function updateChannel(ops: ChannelOps, id: string, input: unknown): Promise<ChannelView> {
  const channel = await existing(ops, id);
  const patch = parseWith(updateSchema, input);
  const next: ChannelRow = {
    ...channel,
    ...(patch.baseUrl !== undefined ? { baseUrl: patch.baseUrl?.replace(/\/+$/, '') ?? null } : {}),
    ...(patch.models !== undefined ? { models: patch.models } : {}),
    ...(patch.includeKnownModels !== undefined ? { includeKnownModels: patch.includeKnownModels } : {}),
    ...(patch.options !== undefined ? { options: patch.options } : {}),
    ...(patch.priority !== undefined ? { priority: patch.priority } : {}),
    ...(patch.weight !== undefined ? { weight: patch.weight } : {}),
    ...(patch.groups !== undefined
      ? { groups: patch.groups && patch.groups.length > 0 ? [...new Set(patch.groups)] : null }
      : {}),
    ...(patch.enabled !== undefined ? { enabled: patch.enabled } : {}),
    updatedAt: (ops.now ?? Date.now)(),
  };
  checkKind(next.kind, next.baseUrl);
  await ops.repo.updateChannel(next);
  return viewOf(ops, next);
}

export async function deleteChannel(ops: ChannelOps, id: string): Promise<void> {
  if (!(await ops.repo.deleteChannel(id))) throw notFound(id);
}

/** Adds a credential; the answer names it by id and last four characters only. */
export async function addCredential(ops: ChannelOps, channelId: string, input: unknown): Promise<CredentialView> {
  const channel = await existing(ops, channelId);
  const parsed = parseWith(credentialSchema, input);
  if (channel.kind === 'bedrock' && !parsed.secretAccessKey) {
    throw new GatewayError('invalid_request', 'secretAccessKey: a bedrock credential needs it', {
      param: 'secretAccessKey',
    });
  }
  const keyring = requireKeyring(ops);
  const id = newCredentialId();
  const now = (ops.now ?? Date.now)();
  await ops.repo.addCredential(channelId, id, newCredential(parsed), keyring, now);
  const row = (await ops.repo.listCredentials(channelId)).find((c) => c.id === id)!;
  return credentialView(row, now);
}

/**
 * drain: no new requests (requests and streams already using it finish); activate: back in rotation;
 * revoke: gone for good, its ciphertext erased.
 */
export async function setCredentialState(
  ops: ChannelOps,
  channelId: string,
  credentialId: string,
  action: 'drain' | 'activate' | 'revoke',
): Promise<CredentialView> {
  await existing(ops, channelId);
  const state = action === 'drain' ? 'draining' : action === 'activate' ? 'active' : 'revoked';
  const now = (ops.now ?? Date.now)();
  const changed = await ops.repo.setCredentialState(channelId, credentialId, state, now);
  const row = (await ops.repo.listCredentials(channelId)).find((c) => c.id === credentialId);
  if (!row) {
    throw new GatewayError('not_found', `Channel ${channelId} has no credential ${credentialId}`, { status: 404 });
  }
  if (!changed) {
    throw new GatewayError('invalid_request', `Credential ${credentialId} is revoked; add a new one instead`, {
      status: 409,
    });
  }
  return credentialView(row, now);
}

export async function listChannels(ops: ChannelOps): Promise<ChannelView[]> {
  const [channels, credentials] = await Promise.all([ops.repo.listChannels(), ops.repo.listCredentials()]);
  const now = (ops.now ?? Date.now)();
  return channels.map((c) =>
    toView(
      c,
      credentials.filter((k) => k.channelId === c.id),
      now,
    ),
  );
}

export async function getChannel(ops: ChannelOps, id: string): Promise<ChannelView> {
  return viewOf(ops, await existing(ops, id));
}

async function viewOf(ops: ChannelOps, channel: ChannelRow): Promise<ChannelView> {
  return toView(channel, await ops.repo.listCredentials(channel.id), (ops.now ?? Date.now)());
}

async function existing(ops: ChannelOps, id: string): Promise<ChannelRow> {
  const channel = await ops.repo.getChannel(id);
  if (!channel) throw notFound(id);
  return channel;
}

function notFound(id: string): GatewayError {
  return new GatewayError('not_found', `No channel '${id}'`, { status: 404 });
}

function toView(channel: ChannelRow, credentials: CredentialRow[], now: number): ChannelView {
  return {
    id: channel.id,
    kind: channel.kind,
    baseUrl: channel.baseUrl,
    models: channel.models,
    includeKnownModels: channel.includeKnownModels,
    options: channel.options,
    priority: channel.priority,
    weight: channel.weight,
    groups: channel.groups,
    enabled: channel.enabled,
    createdAt: new Date(channel.createdAt).toISOString(),
    updatedAt: new Date(channel.updatedAt).toISOString(),
    source: 'database',
    credentials: credentials.map((c) => credentialView(c, now)),
  };
}

export function credentialView(c: CredentialRow, now: number): CredentialView {
  let warning: string | null = null;
  if (c.state !== 'revoked' && c.rotateBy !== null) {
    const days = Math.ceil((c.rotateBy - now) / DAY_MS);
    if (days < 0) warning = `rotate-by date passed ${-days} day(s) ago`;
    else if (days <= ROTATE_WARNING_DAYS)
      warning = `rotate by ${new Date(c.rotateBy).toISOString().slice(0, 10)} (in ${days} day(s))`;
  }
  return {
    id: c.id,
    label: c.label,
    last4: c.last4,
    state: c.state,
    createdAt: new Date(c.createdAt).toISOString(),
    ageDays: Math.floor((now - c.createdAt) / DAY_MS),
    rotateBy: c.rotateBy === null ? null : new Date(c.rotateBy).toISOString(),
    warning,
    masterKeyId: c.keyId,
  };
}
