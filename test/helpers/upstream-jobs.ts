import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MockOpenAIMedia } from '../mocks/openai-media.ts';

/**
 * What the tests of executions' upstream jobs share (decisions 0038, 0042, 0045): OpenAI video inputs, the fault
 * that leaves an execution PENDING with its job recorded, the provider mock's deletes of a job, polling until a
 * condition holds, and a proxy in front of the mock that can hold requests (a gateway killed while its call is on
 * the way: the provider never gets it).
 */

export const video = (i: number | string) => ({
  model: 'openai/sora-2',
  input: { prompt: `video number ${i}`, duration: 4 },
});

/** A poll that fails retryably: the run goes back to PENDING (for the backoff), its job still recorded on the row. */
export const POLL_FAILS = {
  method: 'GET',
  path: /^\/v1\/videos\/video_\d+$/,
  answer: { status: 503, body: { error: { message: 'The server is overloaded.', type: 'server_error', code: null } } },
};

/** The job id of a row's `upstream_job`. */
export const jobIdOf = (upstreamJob: string | null): string => (JSON.parse(upstreamJob!) as { id: string }).id;

export const deletesOf = (mock: MockOpenAIMedia, job: string): number =>
  mock.requests.filter((r) => r.method === 'DELETE' && r.path === `/v1/videos/${job}`).length;

/** Reads until `done`, every 20 ms, failing with the last value after `ms`. */
export async function waitFor<T>(
  what: string,
  read: () => Promise<T>,
  done: (v: T) => boolean,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    assert.ok(Date.now() < deadline, `${what}: ${JSON.stringify(value)}`);
    await sleep(20);
  }
}

export interface HoldingProxy {
  /** The proxy's origin: a provider's `baseUrl` is this plus the target's path. */
  origin: string;
  /** From now on, requests with this method and a matching path are held: never forwarded, never answered. */
  hold(method: string, path: RegExp): void;
  /** Requests held so far. */
  held(): number;
  /** Stops holding; the requests held are cut (their connection closed), never forwarded. */
  drop(): void;
  close(): Promise<void>;
}

/** An HTTP proxy to `target` (an origin) that forwards every request, except those it is told to hold. */
export async function startHoldingProxy(target: string): Promise<HoldingProxy> {
  let rule: { method: string; path: RegExp } | undefined;
  const held: ServerResponse[] = [];
  let count = 0;
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const path = req.url ?? '/';
    if (rule && req.method === rule.method && rule.path.test(path)) {
      count++;
      held.push(res);
      return;
    }
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || ['host', 'connection', 'content-length'].includes(name)) continue;
      headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    try {
      const body = Buffer.concat(chunks);
      const answer = await fetch(`${target}${path}`, {
        method: req.method ?? 'GET',
        headers,
        ...(body.length > 0 ? { body } : {}),
      });
      const bytes = Buffer.from(await answer.arrayBuffer());
      const out: Record<string, string> = {};
      answer.headers.forEach((value, name) => {
        if (!['content-encoding', 'transfer-encoding', 'content-length', 'connection'].includes(name)) {
          out[name] = value;
        }
      });
      res.writeHead(answer.status, out).end(bytes);
    } catch {
      res.destroy();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    hold: (method, path) => {
      rule = { method, path };
    },
    held: () => count,
    drop: () => {
      rule = undefined;
      for (const res of held.splice(0)) res.destroy();
    },
    close: async () => {
      for (const res of held.splice(0)) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
