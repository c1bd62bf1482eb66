import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Whether what a script holds only weakly is gone after full garbage collections: runs `setup` (module code
 * that must leave a `WeakRef` in a variable named `ref`) in a child Node with --expose-gc, from the project's
 * root, collects twice with a turn of the event loop between, and reports.
 */
export function collectedInChild(setup: string): boolean {
  const script = `${setup}
    await new Promise((resolve) => setTimeout(resolve, 10));
    globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
    globalThis.gc();
    console.log(ref.deref() === undefined ? 'collected' : 'alive');`;
  const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    encoding: 'utf8',
  });
  return out.trim() === 'collected';
}
