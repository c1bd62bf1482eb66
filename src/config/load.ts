import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { transientModule } from '../core/transient-module.ts';
import { formatParamPath } from '../core/validation.ts';
import { type Config, configSchema } from './schema.ts';

/** The YAML parser is needed only while the configuration is read (transient-module.ts: ~0.9 MB of heap). */
const yaml = transientModule<typeof import('yaml')>('yaml');
const parseYaml = (text: string): unknown => yaml.use((module) => module.parse(text));

/**
 * Loads the configuration: YAML file (optional) → environment overrides → schema validation → secret
 * references resolved. Every failure names the key and why, e.g.
 * `providers[0].keys[1]: environment variable OPENAI_KEY_2 is not set`.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** `MODRO__SERVER__PORT=9000` sets server.port; values are read as YAML scalars (numbers, booleans, lists). */
export function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  // One load of the YAML parser for all the overrides.
  yaml.scope(() => {
    for (const [name, value] of Object.entries(env)) {
      if (!name.startsWith('MODRO__') || value === undefined) continue;
      const path = name
        .slice('MODRO__'.length)
        .split('__')
        .map((segment) => segment.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()));
      let node: Record<string, unknown> = raw;
      for (const segment of path.slice(0, -1)) {
        const next = node[segment];
        if (next === null || typeof next !== 'object' || Array.isArray(next)) node[segment] = {};
        node = node[segment] as Record<string, unknown>;
      }
      node[path[path.length - 1]!] = parseYaml(value);
    }
  });
}

function formatIssues(error: z.ZodError, source: string): string {
  const lines = error.issues.slice(0, 10).map((issue) => {
    const key = formatParamPath(issue.path) || '(top level)';
    return `  ${key}: ${issue.message}`;
  });
  return `Invalid configuration in ${source}:\n${lines.join('\n')}`;
}

/** Resolves `env:NAME` and `file:/path`; anything else is a literal. */
export function resolveSecret(value: string, where: string, env: NodeJS.ProcessEnv): string {
  if (value.startsWith('env:')) {
    const name = value.slice(4);
    const resolved = env[name];
    if (resolved === undefined || resolved === '') {
      throw new ConfigError(`${where}: environment variable ${name} is not set`);
    }
    return resolved.trim();
  }
  if (value.startsWith('file:')) {
    const path = value.slice(5);
    try {
      return readFileSync(path, 'utf8').trim();
    } catch (err) {
      throw new ConfigError(`${where}: cannot read secret file ${path} (${(err as NodeJS.ErrnoException).code})`);
    }
  }
  return value;
}

function resolveSecrets(config: Config, env: NodeJS.ProcessEnv): void {
  config.auth.keys = config.auth.keys.map((entry, i) => ({
    ...entry,
    key: resolveSecret(entry.key, `auth.keys[${i}].key`, env),
  }));
  config.providers.forEach((provider, p) => {
    provider.keys = provider.keys.map((key, k) => {
      const where = `providers[${p}].keys[${k}]`;
      if (typeof key === 'string') return resolveSecret(key, where, env);
      const resolved = { ...key, key: resolveSecret(key.key, `${where}.key`, env) };
      if (key.secretAccessKey) {
        resolved.secretAccessKey = resolveSecret(key.secretAccessKey, `${where}.secretAccessKey`, env);
      }
      if (key.sessionToken) resolved.sessionToken = resolveSecret(key.sessionToken, `${where}.sessionToken`, env);
      return resolved;
    });
  });
  if (config.storage.kind === 'postgres') {
    config.storage.url = resolveSecret(config.storage.url, 'storage.url', env);
  }
  if (config.redis) config.redis.url = resolveSecret(config.redis.url, 'redis.url', env);
  const stripe = config.billing.stripe;
  if (stripe) {
    stripe.secretKey = resolveSecret(stripe.secretKey, 'billing.stripe.secretKey', env);
    stripe.webhookSecret = resolveSecret(stripe.webhookSecret, 'billing.stripe.webhookSecret', env);
  }
  if (config.mail?.password) config.mail.password = resolveSecret(config.mail.password, 'mail.password', env);
  if (config.tenancy.secret) config.tenancy.secret = resolveSecret(config.tenancy.secret, 'tenancy.secret', env);
  if (config.tenancy.admin.password) {
    config.tenancy.admin.password = resolveSecret(config.tenancy.admin.password, 'tenancy.admin.password', env);
  }
}

export function parseConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env, source = 'configuration'): Config {
  const input: Record<string, unknown> =
    raw === null || raw === undefined
      ? {}
      : typeof raw === 'object' && !Array.isArray(raw)
        ? { ...(raw as object) }
        : {};
  if (raw !== null && raw !== undefined && (typeof raw !== 'object' || Array.isArray(raw))) {
    throw new ConfigError(`Invalid configuration in ${source}: the top level must be a mapping`);
  }
  applyEnvOverrides(input, env);
  const result = configSchema.safeParse(input);
  if (!result.success) throw new ConfigError(formatIssues(result.error, source));
  const config = result.data;
  resolveSecrets(config, env);
  const ids = new Set<string>();
  config.providers.forEach((provider, i) => {
    const id = provider.id ?? provider.kind;
    if (ids.has(id)) {
      throw new ConfigError(`providers[${i}].id: '${id}' is used twice; give each provider its own id`);
    }
    ids.add(id);
    provider.id = id;
  });
  return config;
}

export function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): Config {
  // One load of the YAML parser for the file and the environment overrides.
  return yaml.scope(() => readConfig(path, env));
}

/**
 * A configuration file's text, already read (the hot reload reads it without blocking: config/reload.ts). A YAML
 * error names its line and column only: the parser's message goes on to quote the file, which may hold a key.
 */
export function parseConfigText(text: string, source: string, env: NodeJS.ProcessEnv = process.env): Config {
  return yaml.scope(() => {
    let raw: unknown;
    try {
      raw = parseYaml(text);
    } catch (err) {
      const firstLine = String((err as Error).message)
        .split('\n')[0]
        ?.replace(/:\s*$/, '');
      throw new ConfigError(`Configuration file ${source} is not valid YAML: ${firstLine}`);
    }
    return parseConfig(raw, env, source);
  });
}

function readConfig(path: string | undefined, env: NodeJS.ProcessEnv): Config {
  if (!path) return parseConfig({}, env, 'the defaults');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`Cannot read configuration file ${path} (${(err as NodeJS.ErrnoException).code})`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`Configuration file ${path} is not valid YAML: ${(err as Error).message}`);
  }
  return parseConfig(raw, env, path);
}
