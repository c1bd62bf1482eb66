/**
 * The worker thread of sqlite-checkpointer.ts: its own connection to the gateway's SQLite file, which moves
 * committed WAL frames into the database file (a checkpoint) so that the event loop's connection never does.
 * A checkpoint syncs the WAL and the database file (synchronous=NORMAL): two fsyncs that take 1 ms at the
 * median and tens of ms at the tail on a virtual disk, and that the event loop's commits ran about ten times a
 * second under load when they checkpointed themselves (SQLite's default, every 1,000 WAL pages).
 *
 * Every `intervalMs` a PASSIVE checkpoint copies what it can without taking any lock a writer needs. Under
 * continuous writes a passive checkpoint rarely copies the last frame before the next commit adds another, and
 * SQLite starts the WAL over only once every frame has been copied; so when the WAL holds `restartPages`
 * frames a RESTART checkpoint finishes the copy and lets the next writer start the WAL over. It briefly blocks
 * writers (the frames since the last pass and one sync), once per `restartPages` frames of writes instead of
 * once per 1,000.
 */
import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';

export interface CheckpointWorkerData {
  path: string;
  intervalMs: number;
  restartPages: number;
  busyTimeoutMs: number;
}

export type CheckpointMessage =
  | { kind: 'ready' }
  | { kind: 'checkpoint'; mode: 'PASSIVE' | 'RESTART'; log: number; checkpointed: number; ms: number }
  | { kind: 'error'; message: string };

interface CheckpointRow {
  busy: number;
  log: number;
  checkpointed: number;
}

const data = workerData as CheckpointWorkerData;
const db = new DatabaseSync(data.path, { timeout: data.busyTimeoutMs });
db.exec('PRAGMA synchronous = NORMAL');
// This connection never writes; it must not checkpoint on close either way (the last connection does).
const passive = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
const restart = db.prepare('PRAGMA wal_checkpoint(RESTART)');
let timer: NodeJS.Timeout | undefined;
let stopped = false;
/** The WAL's state after the last pass: `checkpointed` counts the frames copied since the WAL started over. */
let last = { log: -1, checkpointed: -1 };
/** The WAL size at the last complete RESTART (no new one until the WAL has changed). */
let restartedAtLog = -1;

function post(message: CheckpointMessage): void {
  parentPort?.postMessage(message);
}

function run(mode: 'PASSIVE' | 'RESTART'): CheckpointRow {
  const started = performance.now();
  const row = (mode === 'PASSIVE' ? passive : restart).get() as unknown as CheckpointRow;
  // Only passes that moved frames are reported: an idle gateway's passes cost nothing and say nothing.
  const moved = row.checkpointed > 0 && (row.checkpointed !== last.checkpointed || row.log !== last.log);
  last = { log: row.log, checkpointed: row.checkpointed };
  if (moved || mode === 'RESTART') {
    post({ kind: 'checkpoint', mode, log: row.log, checkpointed: row.checkpointed, ms: performance.now() - started });
  }
  return row;
}

function tick(): void {
  if (stopped) return;
  try {
    const row = run('PASSIVE');
    // Once a RESTART has copied everything, the next writer starts the WAL over; until it writes, `log` stays.
    if (row.log >= data.restartPages && row.log !== restartedAtLog) {
      const restarted = run('RESTART');
      if (restarted.busy === 0) restartedAtLog = restarted.log;
    }
  } catch (err) {
    post({ kind: 'error', message: err instanceof Error ? err.message : String(err) });
  }
  timer = setTimeout(tick, data.intervalMs);
}

parentPort?.on('message', (message: unknown) => {
  if (message === 'stop') {
    stopped = true;
    if (timer) clearTimeout(timer);
    db.close();
    parentPort?.close();
  }
});
post({ kind: 'ready' });
timer = setTimeout(tick, data.intervalMs);
