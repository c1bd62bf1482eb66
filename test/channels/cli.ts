import { execFile } from 'node:child_process';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;

/**
 * `modro …` (src/cli/main.ts) as its own process, as an operator runs it beside a gateway: exit code and
 * everything it printed. (In the test's own process the CLI's synchronous SQLite calls would wait on the
 * gateway's open transactions, which cannot move while the thread waits.) The deadline is generous: a process
 * start takes seconds on a loaded machine.
 */
export function runCli(
  args: string[],
  env: Record<string, string>,
  stdin = '',
): Promise<{ code: number; stdout: string; output: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [MAIN, ...args],
      { env: { PATH: process.env['PATH'] ?? '', ...env }, timeout: 120_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, output: stdout + stderr });
      },
    );
    child.stdin?.end(stdin);
  });
}
