import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Logger } from '../ops/logger.ts';
import { ConfigError, parseConfigText } from './load.ts';
import type { Config } from './schema.ts';

/**
 * Hot reload of the configuration file (docs/configuration.md, "Reloading"): on SIGHUP and when the file
 * changes (fs.watch on the file, re-armed when it is replaced; debounced: editors write a file in several steps, or replace it), the file
 * is read and validated again. A file that does not validate changes nothing and is logged in one line; a
 * valid one goes to `apply`, which swaps what may change at runtime and names what needs a restart.
 */

/** Top-level sections applied at runtime (the catalog and router table are rebuilt, as on a channel edit). */
export const RELOADABLE_SECTIONS = ['providers', 'catalog', 'routing', 'demo'] as const;
/** Within `routing`, what is fixed when the gateway starts (the chooser is built once). */
export const ROUTING_RESTART_KEYS = ['defaultPreset', 'autoChooser', 'learnedVersion', 'calibration'] as const;

export interface ConfigChanges {
  /** Reloadable sections that changed. */
  reloadable: string[];
  /** Settings that changed but take effect only after a restart (`server`, `storage`, `routing.autoChooser`...). */
  restartNeeded: string[];
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** What differs between the running configuration and a newly read one, by setting name (never by value). */
export function configChanges(current: Config, next: Config): ConfigChanges {
  const reloadable: string[] = [];
  const restartNeeded: string[] = [];
  const keys = new Set([...Object.keys(current), ...Object.keys(next)]) as Set<keyof Config>;
  for (const key of keys) {
    if (key === 'routing') {
      const a = current.routing;
      const b = next.routing;
      for (const k of ROUTING_RESTART_KEYS) if (!same(a[k], b[k])) restartNeeded.push(`routing.${k}`);
      const rest = (r: Config['routing']) =>
        Object.fromEntries(Object.entries(r).filter(([k]) => !(ROUTING_RESTART_KEYS as readonly string[]).includes(k)));
      if (!same(rest(a), rest(b))) reloadable.push('routing');
      continue;
    }
    if (same(current[key], next[key])) continue;
    if ((RELOADABLE_SECTIONS as readonly string[]).includes(key)) reloadable.push(key);
    else restartNeeded.push(key);
  }
  return { reloadable, restartNeeded };
}

export interface ConfigReloaderOptions {
  path: string;
  env: NodeJS.ProcessEnv;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Applies a validated configuration; throws to keep the running one. */
  apply(next: Config): ConfigChanges;
  debounceMs?: number;
  /** How often a missing file is looked for again (default 1,000 ms). */
  rewatchMs?: number;
  /** Listen for SIGHUP (default true). */
  signal?: boolean;
}

export class ConfigReloader {
  readonly #o: ConfigReloaderOptions;
  #watcher: FSWatcher | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #rewatch: NodeJS.Timeout | undefined;
  /** The file was not there when last watched: its reappearance is a change. */
  #missing = false;
  /** The pass under way or last finished (passes run one at a time). */
  #tail: Promise<unknown> = Promise.resolve();
  /** A pass queued behind the one under way and not started yet: later callers share it. */
  #queued: Promise<boolean> | undefined;
  #closed = false;
  readonly #onSignal = () => {
    this.#o.logger.info('SIGHUP: reloading the configuration');
    void this.reload();
  };

  constructor(options: ConfigReloaderOptions) {
    this.#o = options;
  }

  start(): void {
    if (this.#o.signal !== false) process.on('SIGHUP', this.#onSignal);
    this.#watch();
  }

  /**
   * Watches the file itself, not its folder: a folder watch wakes the gateway for every write to any file in
   * it, and the data folder may be the configuration's (the usage journal and SQLite's WAL then cost a wake-up
   * and an inotify read each). An editor that saves by writing a new file and renaming it over the old one
   * ends this watch ('rename': the watched file is gone): it reloads and watches the new file, or, while no
   * file is there, looks again every `rewatchMs`.
   */
  #watch(): void {
    if (this.#closed) return;
    try {
      this.#watcher = watch(this.#o.path, { persistent: false }, (event) => {
        this.#scheduleReload();
        if (event === 'rename') {
          this.#watcher?.close();
          this.#watcher = undefined;
          this.#watch();
        }
      });
      this.#watcher.on('error', (err) =>
        this.#unwatched(err, 'configuration file watch stopped; SIGHUP still reloads'),
      );
      if (this.#missing) {
        this.#missing = false;
        this.#scheduleReload();
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        // Between an editor's delete and its new file, or deleted for good: look again shortly.
        this.#missing = true;
        this.#rewatch = setTimeout(() => this.#watch(), this.#o.rewatchMs ?? 1_000);
        this.#rewatch.unref();
        return;
      }
      this.#unwatched(err, 'configuration file cannot be watched; SIGHUP still reloads');
    }
  }

  #unwatched(err: unknown, message: string): void {
    this.#o.logger.warn({ code: (err as NodeJS.ErrnoException).code }, message);
  }

  #scheduleReload(): void {
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => void this.reload(), this.#o.debounceMs ?? 250);
    this.#debounce.unref();
  }

  close(): void {
    this.#closed = true;
    process.off('SIGHUP', this.#onSignal);
    clearTimeout(this.#debounce);
    clearTimeout(this.#rewatch);
    this.#watcher?.close();
  }

  /**
   * Reads, validates and applies the file; true when it was applied. Passes run one at a time, and each call
   * gets the result of a pass that starts after it (so that reads the file as the caller left it): a call
   * while one runs queues one more, shared by every call until it starts. Not the running pass's result: the
   * file watch's debounced reload landing during a caller's pass would otherwise be folded into it, and its
   * "nothing to apply" (the caller's pass applied it all) would tell the caller that its change was not applied.
   */
  reload(): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    if (this.#queued) return this.#queued;
    const pass = this.#tail.then(() => {
      this.#queued = undefined;
      return this.#closed ? false : this.#once();
    });
    this.#queued = pass;
    this.#tail = pass.catch(() => undefined);
    return pass;
  }

  async #once(): Promise<boolean> {
    const { path, env, logger } = this.#o;
    let next: Config;
    try {
      const text = await readFile(path, 'utf8');
      next = parseConfigText(text, path, env);
    } catch (err) {
      const reason =
        err instanceof ConfigError
          ? err.message.replace(/:\s*\n\s*/g, ': ').replace(/\s*\n\s*/g, '; ')
          : `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
      logger.error({ file: path }, `configuration not reloaded, the running one stays: ${reason}`);
      return false;
    }
    let changes: ConfigChanges;
    try {
      changes = this.#o.apply(next);
    } catch (err) {
      const reason = err instanceof Error ? err.message : 'failed';
      logger.error({ file: path }, `configuration not reloaded, the running one stays: ${reason}`);
      return false;
    }
    if (changes.restartNeeded.length > 0) {
      logger.warn(
        { file: path, settings: changes.restartNeeded },
        `configuration changes need a restart and were not applied: ${changes.restartNeeded.join(', ')}`,
      );
    }
    logger.info(
      { file: path, applied: changes.reloadable },
      changes.reloadable.length > 0 ? 'configuration reloaded' : 'configuration reloaded: nothing to apply',
    );
    return changes.reloadable.length > 0;
  }
}
