import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A webhook receiver on loopback: records every request (headers, raw body, arrival time) and answers as told
 * (a status, or never: the connection is held open). `stop()` and `start()` again on the same port make a
 * receiver that is down, then up.
 */
export interface Received {
  headers: Record<string, string>;
  body: string;
  at: number;
  host: string;
}

export type Behaviour = number | 'hang' | ((req: Received, index: number) => number | 'hang');

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  behaviour: Behaviour;
  /** Answer body for 2xx and errors. */
  answer: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Waits until `count` requests arrived (or throws after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<Received[]>;
}

export async function startReceiver(
  options: { host?: string; port?: number; behaviour?: Behaviour; path?: string } = {},
): Promise<Receiver> {
  const host = options.host ?? '127.0.0.1';
  let server: Server | undefined;
  const held = new Set<ServerResponse>();
  const r: Receiver = {
    url: '',
    port: options.port ?? 0,
    received: [],
    behaviour: options.behaviour ?? 204,
    answer: 'ok',
    async stop() {
      for (const res of held) res.destroy();
      held.clear();
      const s = server;
      server = undefined;
      if (!s) return;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    async start() {
      const s = createServer((req: IncomingMessage, res: ServerResponse) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
          const got: Received = {
            headers,
            body: Buffer.concat(chunks).toString('utf8'),
            at: Date.now(),
            host: req.headers.host ?? '',
          };
          r.received.push(got);
          const b = typeof r.behaviour === 'function' ? r.behaviour(got, r.received.length - 1) : r.behaviour;
          if (b === 'hang') {
            held.add(res);
            return;
          }
          res.writeHead(b, { 'content-type': 'text/plain' }).end(r.answer);
        });
      });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(r.port, host, () => resolve());
      });
      server = s;
      r.port = (s.address() as AddressInfo).port;
      r.url = `http://${host.includes(':') ? `[${host}]` : host}:${r.port}${options.path ?? '/hook'}`;
    },
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (r.received.length < count) {
        if (Date.now() > deadline) throw new Error(`receiver got ${r.received.length} of ${count} requests`);
        await sleep(10);
      }
      return r.received;
    },
  };
  await r.start();
  return r;
}
