import { sql, type Transaction } from 'kysely';
import type { Database } from '../store/schema.ts';

/**
 * Wakes the workers of other processes sharing a PostgreSQL queue as soon as work is queued, instead of at
 * their next poll: a submission's transaction sends `NOTIFY` (delivered at its commit, so a worker never wakes
 * to a row it cannot see yet), and each worker process LISTENs on a connection of its own. The channel is
 * named after the schema, so gateways of different schemas in one database do not wake each other. A lost
 * connection only means polling (`executions.pollMs`) until it is back.
 */
export function wakeChannel(schema: string | undefined): string {
  return `modro_executions_${(schema ?? 'public').toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
}

export async function notifyQueued(trx: Transaction<Database>, channel: string): Promise<void> {
  await sql`select pg_notify(${channel}, '')`.execute(trx);
}

export interface WakeListener {
  close(): Promise<void>;
}

/** LISTENs on `channel` and calls `wake` on each notification; reconnects after a failure, every `retryMs`. */
export async function listenForWork(
  url: string,
  channel: string,
  wake: () => void,
  onError: (err: unknown) => void,
  retryMs = 5_000,
): Promise<WakeListener> {
  const { default: pg } = await import('pg');
  let closed = false;
  let client: InstanceType<typeof pg.Client> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const connect = async (): Promise<void> => {
    if (closed) return;
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
    client = c;
    const retry = (err: unknown) => {
      if (closed || client !== c) return;
      client = undefined;
      onError(err);
      void c.end().catch(() => {});
      timer = setTimeout(() => void connect(), retryMs);
      timer.unref();
    };
    c.on('error', retry);
    c.on('end', () => retry(new Error('the LISTEN connection ended')));
    c.on('notification', () => wake());
    try {
      await c.connect();
      await c.query(`listen "${channel}"`);
      // Work queued while this connection was down is found now rather than at the next poll.
      wake();
    } catch (err) {
      retry(err);
    }
  };
  await connect();
  return {
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      const c = client;
      client = undefined;
      await c?.end().catch(() => {});
    },
  };
}
