import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConfigInput } from '../../src/config/schema.ts';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;

/**
 * A gateway in its own process, started the way users start it from the sources (`node src/cli/main.ts start
 * --config …`), with a SQLite file in a temp folder. For tests that must measure the gateway's own event loop
 * (responsiveness) or kill it.
 */
export interface GatewayProcess {
  url: string;
  child: ChildProcess;
  dataDir: string;
  /** Everything it printed so far. */
  output(): string;
  /** Exit code (null while running). */
  exitCode(): number | null;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function spawnGateway(
  config: ConfigInput,
  dataDir = mkdtempSync(join(tmpdir(), 'modro-proc-')),
): Promise<GatewayProcess> {
  const configPath = join(dataDir, 'modro.yaml');
  writeFileSync(
    configPath,
    JSON.stringify({
      storage: { kind: 'sqlite', path: join(dataDir, 'modro.db') },
      ...config,
      server: { port: 0, ...config.server },
    }),
  );
  // In its data folder: on PostgreSQL a gateway's data folder (usage journal, secrets, files) is ./data, and two
  // gateways started from the repository shared one, which docs/deploy.md forbids: a gateway of another test (or
  // another schema) imported the journal a kill -9 left, into its own database. A restart on the same dataDir
  // finds its journal again, as a restarted replica does.
  const child = spawn(process.execPath, [MAIN, 'start', '--config', configPath], {
    cwd: dataDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // Generous: on a loaded machine (load average 17 on 2 cores) a start took 21 s to print its banner.
  const deadline = Date.now() + 90_000;
  while (!/listening on (http:\/\/\S+)/.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`gateway did not start: ${out.slice(-2000)}`);
    }
    await sleep(50);
  }
  return {
    url: /listening on (http:\/\/\S+)/.exec(out)![1]!,
    child,
    dataDir,
    output: () => out,
    exitCode: () => child.exitCode,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal);
      const code = await exited;
      return code;
    },
  };
}

export function removeDataDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Polls GET /healthz every `everyMs` until stopped; returns the slowest answer (ms from sending to the whole
 * answer) and how many polls ran. A poll that fails counts as Infinity.
 */
export function watchHealth(url: string, everyMs = 20): { stop(): Promise<{ slowestMs: number; polls: number }> } {
  let running = true;
  let slowestMs = 0;
  let polls = 0;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      try {
        const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer();
        if (res.status !== 200) slowestMs = Number.POSITIVE_INFINITY;
      } catch {
        slowestMs = Number.POSITIVE_INFINITY;
      }
      slowestMs = Math.max(slowestMs, performance.now() - started);
      polls++;
      await sleep(everyMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { slowestMs, polls };
    },
  };
}
