/**
 * The floor: the least a Node HTTP gateway can do. node:http in, a keep-alive http.Agent out to the upstream
 * given in BENCH_UPSTREAM (an origin), request and response bodies piped both ways, headers copied. Nothing
 * else: no parsing, auth, routing, logging or metrics. Whatever Node costs per proxied request on this
 * machine, this process pays it, so the gateway is judged by what it adds on top.
 */
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

const upstream = new URL(process.env['BENCH_UPSTREAM'] ?? '');
if (upstream.protocol !== 'http:') throw new Error('BENCH_UPSTREAM must be an http:// origin');

const agent = new Agent({ keepAlive: true });

const server = createServer((req, res) => {
  const out = request(
    {
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: req.headers,
      agent,
    },
    (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    },
  );
  out.on('error', () => {
    if (res.headersSent) res.destroy();
    else res.writeHead(502).end();
  });
  req.pipe(out);
});
server.keepAliveTimeout = 65_000;

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.send?.({ type: 'ready', origin: `http://127.0.0.1:${port}` });
});

process.on('disconnect', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
