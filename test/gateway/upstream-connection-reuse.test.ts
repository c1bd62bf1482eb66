import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { mockProvider, startGateway } from '../helpers/gateway.ts';

/**
 * A stream that ended with `[DONE]` gives its upstream connection back to the pool even when the upstream
 * closes the HTTP response a moment after `[DONE]` (the reader drains the rest instead of destroying the
 * body, which would close the socket): three streams in a row use one upstream connection, and the client
 * gets each `[DONE]` before the upstream has ended its response.
 */
describe('upstream connections after a stream', () => {
  test('are reused when the stream ended with [DONE]', async () => {
    let connections = 0;
    let upstreamEnded = 0;
    const chunk = (body: Record<string, unknown>) =>
      `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', ...body })}\n\n`;
    const upstream = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(chunk({ choices: [{ index: 0, delta: { role: 'assistant', content: 'Hi' }, finish_reason: null }] }));
        res.write(chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }));
        res.write(chunk({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } }));
        res.write('data: [DONE]\n\n');
        // The response itself ends a moment later, as it may behind a proxy.
        setTimeout(() => res.end(() => upstreamEnded++), 1_000);
      });
    });
    upstream.on('connection', () => connections++);
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const gw = await startGateway({
      providers: [mockProvider('up', `${origin}/v1`, [{ name: 'gpt-4o-mini', qualityRank: 70 }])],
    });
    try {
      for (let i = 0; i < 3; i++) {
        const res = await gw.post('/v1/chat/completions', {
          model: 'fast',
          stream: true,
          messages: [{ role: 'user', content: `hello ${i}` }],
        });
        const text = await res.text();
        assert.equal(res.status, 200, text);
        assert.match(text, /data: \[DONE\]\n\n$/);
        assert.equal(upstreamEnded, i, 'the client got [DONE] before the upstream ended its response');
        // Let the drained response finish so the connection is idle in the pool again.
        // (Bounded: if the gateway dropped the connection instead, the upstream's response never ends.)
        for (let wait = 0; wait < 100 && upstreamEnded === i; wait++) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
      assert.equal(connections, 1);
    } finally {
      await gw.close();
      upstream.closeAllConnections();
      upstream.close();
    }
  });
});
