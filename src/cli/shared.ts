import { existsSync } from 'node:fs';
import { ConfigError, loadConfig } from '../config/load.ts';
import type { Config } from '../config/schema.ts';

/** Where a command writes (process.stdout/stderr, or a collector in tests). */
export interface Out {
  write(text: string): void;
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
