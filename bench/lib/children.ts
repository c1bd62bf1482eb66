import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The Node flags `./modro start` runs the gateway with: MODRO_NODE_FLAGS if set, else scripts/gateway-node-flags. */
export function launcherNodeFlags(): string[] {
  const text =
    process.env['MODRO_NODE_FLAGS'] ??
    readFileSync(`${root}scripts/gateway-node-flags`, 'utf8')
      .split('\n')
      .filter((line) => !line.trim().startsWith('#'))
      .join(' ');
  return text.split(/\s+/).filter(Boolean);
}

/** `./modro start` compiles src/ into dist/ when it is out of date; the bench does the same first. */
export function buildIfStale(): void {
  const result = spawnSync(process.execPath, [`${root}scripts/build.ts`, '--if-stale'], { stdio: 'inherit' });
  if (result.status !== 0) throw new Error('building dist/ failed');
}

/**
 * The processes under test, each spawned with this Node binary so CPU and memory can be read per process.
 * Every child is tracked and killed by its own pid when the bench ends, even on failure.
 */
const children = new Set<ChildProcess>();

export interface Child {
  proc: ChildProcess;
  pid: number;
  origin: string;
}

const READY_TIMEOUT_MS = 30_000;

/** A bench helper process that reports `{ type: 'ready', origin }` over IPC. */
export function spawnIpcChild(script: string, env: Record<string, string> = {}): Promise<Child> {
  const proc = spawn(process.execPath, [script], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...env },
  });
  children.add(proc);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start in time`)), READY_TIMEOUT_MS);
    proc.once('exit', (code) => reject(new Error(`${script} exited early (code ${code})`)));
    proc.on('message', (message: { type?: string; origin?: string }) => {
      if (message.type !== 'ready' || !message.origin) return;
      clearTimeout(timer);
      resolve({ proc, pid: proc.pid!, origin: message.origin });
    });
  });
}

export interface GatewayChild extends Child {
  /** Log lines the gateway printed after it started (warnings, errors). */
  logLines: string[];
}

/** The gateway as `./modro start --config <file>` starts it: `node <launcher flags> dist/cli/main.js start --config <file>`. */
export function spawnGateway(
  cliPath: string,
  configPath: string,
  cwd: string,
  nodeArgs: string[] = [],
  /** Copy of everything the gateway prints (for diagnosis, e.g. with --trace-gc). */
  outputPath?: string,
): Promise<GatewayChild> {
  const copy = outputPath ? createWriteStream(outputPath) : undefined;
  const proc = spawn(process.execPath, [...nodeArgs, cliPath, 'start', '--config', configPath], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MODRO_API_KEY: '' },
  });
  children.add(proc);
  const logLines: string[] = [];
  let started = false;
  let buffered = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('gateway did not start in time')), READY_TIMEOUT_MS);
    proc.once('exit', (code) => reject(new Error(`gateway exited early (code ${code}): ${logLines.join('\n')}`)));
    const onLine = (line: string) => {
      if (!started) {
        const match = /listening on (http:\/\/\S+)/.exec(line);
        if (match) {
          started = true;
          clearTimeout(timer);
          resolve({ proc, pid: proc.pid!, origin: match[1]!, logLines });
          return;
        }
      }
      // The banner is not a log line; JSON lines are (bounded: keep the first 200).
      if (line.startsWith('{') && logLines.length < 200) logLines.push(line);
    };
    const take = (data: Buffer) => {
      copy?.write(data);
      buffered += data.toString('utf8');
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        onLine(buffered.slice(0, newline));
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
      }
    };
    proc.stdout!.on('data', take);
    proc.stderr!.on('data', take);
  });
}

/** Ends one child: SIGTERM, then SIGKILL if it is still there after `graceMs`. */
export async function stopChild(proc: ChildProcess, graceMs = 5_000): Promise<void> {
  children.delete(proc);
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Last resort (uncaught failure, Ctrl-C): every child still tracked gets SIGKILL by its pid. */
export function killAllChildrenNow(): void {
  for (const proc of children) {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }
  children.clear();
}
