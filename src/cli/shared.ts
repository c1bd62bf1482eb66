import { existsSync } from 'node:fs';
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';

/** Where a command writes (process.stdout/stderr, or a collector in tests). */
export interface Out {
  write(text: string): void;
}

/** The options every management command takes. */
const COMMON_OPTIONS = {
  config: { type: 'string', short: 'c' },
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
} as const satisfies ParseArgsOptionsConfig;

/** A command's parsed arguments: its own options and the common ones, and the positionals (`group action …`). */
export function parseCommandArgs<O extends ParseArgsOptionsConfig>(argv: string[], options: O) {
  return parseArgs({ args: argv, allowPositionals: true, options: { ...COMMON_OPTIONS, ...options } });
}

/**
 * Parses a command line, or answers its exit code after printing: a bad option (the message and the help, 2),
 * `--help` (the help, 0), no action (the help, 2).
 */
export function parseCommand<O extends ParseArgsOptionsConfig>(
  argv: string[],
  options: O,
  help: string,
  out: Out,
  err: Out,
): ReturnType<typeof parseCommandArgs<O>> | number {
  let parsed: ReturnType<typeof parseCommandArgs<O>>;
  try {
    parsed = parseCommandArgs(argv, options);
  } catch (e) {
    err.write(`${(e as Error).message}\n\n${help}`);
    return 2;
  }
  const { help: asked } = parsed.values as { help?: boolean };
  if (asked || !parsed.positionals[1]) {
    out.write(help);
    return asked ? 0 : 2;
  }
  return parsed;
}

/** The configuration file a command reads: --config, MODRO_CONFIG, else ./modro.yaml when it exists. */
export function configPathOf(values: { config?: string | undefined }, env: NodeJS.ProcessEnv): string | undefined {
  return values.config ?? env['MODRO_CONFIG'] ?? (existsSync('modro.yaml') ? 'modro.yaml' : undefined);
}

/** The loaded configuration, or undefined after writing why it is invalid (the command then exits 2). */
export function loadCommandConfig(path: string | undefined, env: NodeJS.ProcessEnv, err: Out): Config | undefined {
  try {
    return loadConfig(path, env);
  } catch (e) {
    if (e instanceof ConfigError) {
      err.write(`${e.message}\n`);
      return undefined;
    }
    throw e;
  }
}

/**
 * A notice to running replicas over Redis (`<keyPrefix><channel>`), as a write through the admin API sends one:
 * they apply the CLI's change at once; when Redis cannot be reached they pick it up through their poll.
 */
export async function noticeReplicas(
  redis: { url: string; keyPrefix: string },
  channel: string,
  message: string,
  err: Out,
): Promise<void> {
  const { Redis } = await import('ioredis'); // only commands of a deployment with Redis load it
  const client = new Redis(redis.url, {
    lazyConnect: true,
    connectTimeout: 2_000,
    commandTimeout: 2_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.publish(`${redis.keyPrefix}${channel}`, message);
  } catch {
    err.write('modro: Redis could not be reached; running gateways pick the change up through their poll\n');
  } finally {
    client.disconnect();
  }
}
