import { createRequire } from 'node:module';
import { dirname, sep } from 'node:path';

/**
 * A CommonJS package needed only for a bounded task at start (the price library while the catalog is built,
 * the YAML parser while the configuration is read). Imported as a module it would stay in the heap for the
 * life of the process: ESM modules are never unloaded, and V8 sizes the old generation from what is live, so
 * every MB kept costs about 1.5 MB of peak RSS under load (ADR 0015). Here the package is `require`d on the
 * first `use` and dropped from the module cache when the outermost `use` returns; the garbage collector then
 * takes its code and data (tests check that it does).
 */
export interface TransientModule<T> {
  /** Runs `fn` with the package loaded; nested calls (and calls inside `scope`) share one load. */
  use<R>(fn: (module: T) => R): R;
  /** Runs `fn`, keeping the package, if anything inside loads it, until `fn` returns. */
  scope<R>(fn: () => R): R;
  /** Whether the package is in memory now. */
  loaded(): boolean;
}

export function transientModule<T>(specifier: string): TransientModule<T> {
  let module: T | undefined;
  let holders = 0;
  const load = (): T => {
    // A fresh `require` each time: the module that loads another keeps it in its `children`, so the one doing
    // the loading must be as short-lived as the package.
    module ??= createRequire(import.meta.url)(specifier) as T;
    return module;
  };
  const unload = (): void => {
    if (module === undefined) return;
    module = undefined;
    const require = createRequire(import.meta.url);
    // Every file of the package (some are one bundle, others many files).
    const marker = `${sep}node_modules${sep}${specifier.split('/').join(sep)}${sep}`;
    const entry = require.resolve(specifier);
    const root = entry.includes(marker)
      ? entry.slice(0, entry.indexOf(marker) + marker.length)
      : `${dirname(entry)}${sep}`;
    for (const id of Object.keys(require.cache)) if (id.startsWith(root)) delete require.cache[id];
  };
  const scope = <R>(fn: () => R): R => {
    holders++;
    try {
      return fn();
    } finally {
      holders--;
      if (holders === 0) unload();
    }
  };
  return {
    use: (fn) => scope(() => fn(load())),
    scope,
    loaded: () => module !== undefined,
  };
}
