import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { GatewayError } from '../../src/core/errors.ts';
import { readSSE, type SSEMessage } from '../../src/providers/sse.ts';

/** readSSE, the upstream SSE reader of the OpenAI family, Anthropic and Gemini: caps, and the SSE grammar. */

const encoder = new TextEncoder();
const LIMITS = { maxEventBytes: 1024 * 1024, maxStreamBytes: 4 * 1024 * 1024 };

async function* chunks(parts: string[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield encoder.encode(part);
}

async function read(body: AsyncIterable<Uint8Array>, limits = LIMITS): Promise<SSEMessage[]> {
  const out: SSEMessage[] = [];
  for await (const message of readSSE(body, 'up', limits)) out.push(message);
  return out;
}

describe('readSSE', () => {
  test('an event growing past maxEventBytes is refused as it arrives, not once it is whole', async () => {
    let pulled = 0;
    const piece = encoder.encode('x'.repeat(64 * 1024));
    // 16 MiB in 64 KiB chunks, one event that never ends its line (a reader without the cap would take it all).
    async function* flood(): AsyncGenerator<Uint8Array> {
      yield encoder.encode('data: {"ok":true}\n\ndata: ');
      for (let i = 0; i < 256; i++) {
        pulled++;
        yield piece;
      }
    }
    const seen: SSEMessage[] = [];
    await assert.rejects(
      (async () => {
        for await (const message of readSSE(flood(), 'up', LIMITS)) seen.push(message);
      })(),
      (err: GatewayError) => {
        assert.equal(err.code, 'provider_unavailable');
        assert.equal(err.retryable, true);
        assert.equal(err.failover, true);
        assert.equal(err.message, 'Upstream up sent an event larger than 1048576 bytes');
        return true;
      },
    );
    assert.deepEqual(seen, [{ event: undefined, data: '{"ok":true}' }], 'the event before it was delivered');
    // `data: ` (6 bytes) and 16 chunks of 64 KiB pass 1 MiB: the 16th chunk is the last one read.
    assert.equal(pulled, 16, 'reading stopped at the chunk that passed the cap');
  });

  test('a stream past maxStreamBytes is refused, however small its events', async () => {
    const event = `data: ${'y'.repeat(1000)}\n\n`;
    const limits = { ...LIMITS, maxStreamBytes: event.length * 10 };
    assert.equal((await read(chunks(Array(10).fill(event)), limits)).length, 10);
    await assert.rejects(read(chunks(Array(11).fill(event)), limits), /sent a stream larger than 10080 bytes/);
  });

  test('unknown fields, a bad retry and comments are ignored; data lines are joined with a line feed', async () => {
    const messages = await read(
      chunks(['id: 7\nx-vendor: 1\nretry: soon\n: keep-alive\nnonsense\nevent: delta\ndata: {"a":\n', 'data: 1}\n\n']),
    );
    assert.deepEqual(messages, [{ event: 'delta', data: '{"a":\n1}' }]);
  });
});
