import { readFileSync } from 'node:fs';
import type { ParseArgsOptionsConfig } from 'node:util';
import { generateMasterKey, loadKeyring, MasterKeyError } from '../channels/master-key.ts';
import {
  addCredential,
  type ChannelOps,
  type ChannelView,
  createChannel,
  deleteChannel,
  listChannels,
  setCredentialState,
  updateChannel,
} from '../channels/operations.ts';
import { ChannelRepository } from '../channels/repository.ts';
import { providersFromEnv } from '../config/env-providers.ts';
import { ConfigError, loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { GatewayError } from '../core/errors.ts';
import { dataDirOf, openStore, storeConfigFrom } from '../store/db.ts';
import { loadWebhookKeyring, SigningSecrets } from '../webhooks/signing-secrets.ts';
import { configPathOf, noticeReplicas, type Out, parseCommand } from './shared.ts';

/**
 * `modro channels ...`: channels from the shell, straight against the configured database. Every write bumps
 * the channel revision, so a running gateway on the same database applies it within a second (its poll),
 * without a restart. Credentials are read from standard input, never from the command line (shell history,
 * process lists), and are never printed: only their id and last four characters.
 */
export const CHANNELS_HELP = `Channel commands (same --config as start; master key: MODRO_MASTER_KEY or MODRO_MASTER_KEY_FILE):
  channels list [--json]
  channels create <id> --kind KIND [--base-url URL] [--models-json JSON] [--priority N] [--weight N]
                  [--groups g1,g2] [--disabled] [--key-stdin] [--label L] [--rotate-by YYYY-MM-DD]
  channels set <id> [--base-url URL] [--models-json JSON] [--priority N] [--weight N] [--groups g1,g2 | --groups ""]
  channels enable <id> | disable <id> | delete <id>
  channels add-key <id> [--label L] [--rotate-by YYYY-MM-DD]   The key is read from standard input
  channels drain-key <id> <credential>    No new requests; requests and streams under way finish
  channels activate-key <id> <credential> | revoke-key <id> <credential>
  channels generate-master-key            Prints a new random master key (base64 of 32 bytes)
  channels rotate-master-key              Re-encrypts every credential (and webhook signing secret) under the current master key
                                          (MODRO_MASTER_KEY, or the first line of MODRO_MASTER_KEY_FILE); the
                                          old key must be in MODRO_MASTER_KEY_PREVIOUS (or later lines of the file)
`;

export async function runChannelCommand(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  out: Out = process.stdout,
  err: Out = process.stderr,
  stdin: () => string = () => readFileSync(0, 'utf8'),
): Promise<number> {
  const parsed = parseCommand(argv, OPTIONS, CHANNELS_HELP, out, err);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  const [, action, target, second] = positionals as Array<string | undefined>;
  if (!action) return 2;
  if (action === 'generate-master-key') {
    out.write(`${generateMasterKey()}\n`);
    return 0;
  }
  const path = configPathOf(values, env);
  let config: Config;
  let keyring: Awaited<ReturnType<typeof loadKeyring>>;
  try {
    config = loadConfig(path, env);
    keyring = await loadKeyring(env);
  } catch (e) {
    if (e instanceof ConfigError || e instanceof MasterKeyError) {
      err.write(`${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const store = await openStore(storeConfigFrom(config.storage));
  const repo = new ChannelRepository(store.db);
  const reserved = [...config.providers, ...providersFromEnv(env, config.providers)].map((p) => p.id ?? p.kind);
  const ops: ChannelOps = { repo, keyring, reservedIds: new Set([...reserved, 'demo']) };
  // With Redis, a change made here is announced to running replicas, as the admin API does (docs/channels.md).
  const revisionBefore = config.redis ? await repo.revision() : undefined;
  const need = (what: string | undefined, name: string): string => {
    if (!what) throw new GatewayError('invalid_request', `Missing ${name}\n\n${CHANNELS_HELP}`);
    return what;
  };
  const readKey = (): string => {
    // Said before waiting on standard input, which would otherwise hang a terminal for nothing.
    if (!keyring) {
      throw new GatewayError(
        'invalid_request',
        'No master key: set MODRO_MASTER_KEY or MODRO_MASTER_KEY_FILE (docs/channels.md)',
      );
    }
    const key = stdin().replace(/\r?\n$/, '');
    if (!key) throw new GatewayError('invalid_request', 'No key on standard input');
    return key;
  };
  const credentialInput = (key: string) => ({
    key,
    ...(values.label ? { label: values.label } : {}),
    ...(values['rotate-by'] ? { rotateBy: values['rotate-by'] } : {}),
  });
  const numbers = () => ({
    ...(values.priority !== undefined ? { priority: Number(values.priority) } : {}),
    ...(values.weight !== undefined ? { weight: Number(values.weight) } : {}),
    ...(values['base-url'] !== undefined ? { baseUrl: values['base-url'] } : {}),
    ...(values['models-json'] !== undefined ? { models: parseJson(values['models-json']) } : {}),
    // Only these tenants' groups may use the channel; "" opens it to every tenant again.
    ...(values.groups !== undefined
      ? {
          groups: values.groups
            .split(',')
            .map((g) => g.trim())
            .filter((g) => g !== ''),
        }
      : {}),
  });
  try {
    switch (action) {
      case 'list': {
        const channels = await listChannels(ops);
        out.write(values.json ? `${JSON.stringify(channels, null, 2)}\n` : channels.map(describeChannel).join(''));
        return 0;
      }
      case 'create': {
        const created = await createChannel(ops, {
          id: need(target, '<id>'),
          kind: need(values.kind, '--kind'),
          ...numbers(),
          ...(values.disabled ? { enabled: false } : {}),
          credentials: values['key-stdin'] ? [credentialInput(readKey())] : [],
        });
        out.write(describeChannel(created));
        return 0;
      }
      case 'set':
        out.write(describeChannel(await updateChannel(ops, need(target, '<id>'), numbers())));
        return 0;
      case 'enable':
      case 'disable':
        out.write(describeChannel(await updateChannel(ops, need(target, '<id>'), { enabled: action === 'enable' })));
        return 0;
      case 'delete':
        await deleteChannel(ops, need(target, '<id>'));
        out.write(`deleted ${target}\n`);
        return 0;
      case 'add-key': {
        const view = await addCredential(ops, need(target, '<id>'), credentialInput(readKey()));
        out.write(`added ${view.id} (…${view.last4}) to ${target}\n`);
        return 0;
      }
      case 'drain-key':
      case 'activate-key':
      case 'revoke-key': {
        const act = action === 'drain-key' ? 'drain' : action === 'activate-key' ? 'activate' : 'revoke';
        const view = await setCredentialState(ops, need(target, '<id>'), need(second, '<credential>'), act);
        out.write(`${view.id} (…${view.last4}) is ${view.state}\n`);
        return 0;
      }
      case 'rotate-master-key': {
        if (!keyring)
          throw new GatewayError('invalid_request', 'No master key: set MODRO_MASTER_KEY or MODRO_MASTER_KEY_FILE');
        const done = await repo.reseal(keyring);
        out.write(
          `re-encrypted ${done.resealed} credential(s) under master key ${keyring.current.id}; ${done.alreadyCurrent} already were\n`,
        );
        // Tenants' webhook signing secrets are sealed under the same key (src/webhooks/signing-secrets.ts).
        const hooks = await loadWebhookKeyring(env, dataDirOf(config.storage));
        const secrets = new SigningSecrets({ db: store.db, keyring: hooks.keyring, rotationOverlapMs: 0 });
        out.write(`re-encrypted ${await secrets.reseal()} webhook signing secret(s)\n`);
        return 0;
      }
      default:
        err.write(`Unknown channels command '${action}'.\n\n${CHANNELS_HELP}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof GatewayError || e instanceof MasterKeyError) {
      err.write(`modro: ${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    if (config.redis && revisionBefore !== undefined) {
      const after = await repo.revision().catch(() => revisionBefore);
      if (after !== revisionBefore) await noticeReplicas(config.redis, 'channels', '1', err);
    }
    await store.close();
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new GatewayError('invalid_request', '--models-json is not valid JSON');
  }
}

function describeChannel(c: ChannelView): string {
  const lines = [
    `${c.id}\t${c.kind}\t${c.enabled ? 'enabled' : 'disabled'}\tpriority ${c.priority}\tweight ${c.weight}\t${c.baseUrl ?? '(default URL)'}${c.groups ? `\tgroups ${c.groups.join(',')}` : ''}`,
  ];
  for (const k of c.credentials) {
    lines.push(
      `  ${k.id}\t…${k.last4 || '????'}\t${k.state}\t${k.ageDays}d old${k.rotateBy ? `\trotate by ${k.rotateBy.slice(0, 10)}` : ''}${k.warning ? `\tWARNING: ${k.warning}` : ''}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

const OPTIONS = {
  kind: { type: 'string' },
  'base-url': { type: 'string' },
  'models-json': { type: 'string' },
  priority: { type: 'string' },
  weight: { type: 'string' },
  groups: { type: 'string' },
  disabled: { type: 'boolean' },
  'key-stdin': { type: 'boolean' },
  label: { type: 'string' },
  'rotate-by': { type: 'string' },
} as const satisfies ParseArgsOptionsConfig;
