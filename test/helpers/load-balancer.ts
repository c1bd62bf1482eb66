import { Agent, createServer, type IncomingMessage, request, type Server } from 'node:http';

/**
 * A small round-robin HTTP load balancer in front of gateway replicas, as nginx or HAProxy would be: each
 * request goes to the next replica; one that refuses the connection (a dead process) is skipped and the
 * request goes to the following one, which is safe because nothing was sent. A replica that dies after
 * taking a request cannot be retried (the request may have been served): the client gets 502, as from nginx.
 */
export interface LoadBalancer {
  url: string;
  /** Requests sent to each upstream (by index), refused connections not counted. */
  served: number[];
  /** Points slot `index` at another replica (a restarted one listens elsewhere). */
  replace(index: number, url: string): void;
  close(): Promise<void>;
}

export async function startLoadBalancer(upstreams: string[]): Promise<LoadBalancer> {
  // A connection per request: a killed replica then refuses (ECONNREFUSED, retried elsewhere) instead of
  // resetting a pooled connection, which cannot be told apart from a request it was serving.
  const agent = new Agent({ keepAlive: false });
  const targets = upstreams.map((u) => new URL(u));
  const served = targets.map(() => 0);
  let next = 0;

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const first = next++ % targets.length;
      const attempt = (tries: number) => {
        const index = (first + tries) % targets.length;
        const target = targets[index]!;
        const upstream = request(
          {
            agent,
            host: target.hostname,
            port: target.port,
            method: req.method,
            path: req.url,
            headers: { ...req.headers, host: target.host, 'x-forwarded-for': req.socket.remoteAddress ?? '' },
          },
          (up: IncomingMessage) => {
            served[index]!++;
            res.writeHead(up.statusCode ?? 502, up.headers);
            up.pipe(res);
            up.on('error', () => res.destroy());
          },
        );
        upstream.on('error', (err: NodeJS.ErrnoException) => {
          if (err.code === 'ECONNREFUSED' && tries + 1 < targets.length) return attempt(tries + 1);
          if (!res.headersSent) {
            res.writeHead(502, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ error: { message: 'bad gateway', type: 'load_balancer' } }));
          } else res.destroy();
        });
        upstream.end(body);
      };
      attempt(0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    served,
    replace(index, url) {
      targets[index] = new URL(url);
    },
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
