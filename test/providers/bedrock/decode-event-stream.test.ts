import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayError } from '../../../src/core/errors.ts';
import { decodeEventStream, type EventStreamMessage } from '../../../src/providers/bedrock/decode-event-stream.ts';
import { DEFAULT_UPSTREAM_LIMITS } from '../../helpers/upstream-limits.ts';
import { encodeEvent, encodeException } from '../../mocks/bedrock.ts';

async function* chunks(parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield part;
}

async function decode(
  parts: AsyncIterable<Uint8Array> | Uint8Array[],
  limits = DEFAULT_UPSTREAM_LIMITS,
): Promise<EventStreamMessage[]> {
  const out: EventStreamMessage[] = [];
  const body = Array.isArray(parts) ? chunks(parts) : parts;
  for await (const message of decodeEventStream(body, 'bedrock', limits)) out.push(message);
  return out;
}

const frames = [
  encodeEvent('messageStart', { role: 'assistant' }),
  encodeEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hello, wörld ✓' } }),
  encodeException('throttlingException', { message: 'Too many tokens' }),
];
const all = Buffer.concat(frames);

function summary(messages: EventStreamMessage[]) {
  return messages.map((m) => ({ headers: m.headers, body: JSON.parse(Buffer.from(m.body).toString('utf8')) }));
}

describe('decodeEventStream', () => {
  it('decodes headers and payloads of events and exceptions', async () => {
    const messages = summary(await decode([all]));
    assert.deepEqual(messages[0]!.headers, {
      ':event-type': 'messageStart',
      ':content-type': 'application/json',
      ':message-type': 'event',
    });
    assert.equal(messages[1]!.body.delta.text, 'Hello, wörld ✓');
    assert.deepEqual(messages[2], {
      headers: {
        ':exception-type': 'throttlingException',
        ':content-type': 'application/json',
        ':message-type': 'exception',
      },
      body: { message: 'Too many tokens' },
    });
  });

  it('gives the same messages however the bytes are split into chunks', async () => {
    const expected = summary(await decode([all]));
    for (let cut = 1; cut < all.length; cut++) {
      assert.deepEqual(summary(await decode([all.subarray(0, cut), all.subarray(cut)])), expected, `cut at ${cut}`);
    }
    const bytes = [...all].map((b) => Uint8Array.of(b));
    assert.deepEqual(summary(await decode(bytes)), expected, 'one byte per chunk');
  });

  it('rejects a frame whose checksum is wrong', async () => {
    const bad = Buffer.from(frames[1]!);
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 0x01;
    await assert.rejects(decode([frames[0]!, bad]), (err: GatewayError) => {
      assert.equal(err.code, 'provider_unavailable');
      assert.match(err.message, /malformed event stream/);
      return true;
    });
  });

  it('rejects an impossible length instead of waiting for it', async () => {
    const garbage = Buffer.from('<html>502 Bad Gateway</html>');
    await assert.rejects(decode([garbage]), { code: 'provider_unavailable' });
  });

  it('refuses a frame declaring more than maxEventBytes as soon as its length arrives', async () => {
    const limits = { ...DEFAULT_UPSTREAM_LIMITS, maxEventBytes: 64 * 1024 };
    // A prelude declaring 1 MiB (well under 4 GiB, the largest a prelude can say): the decoder must refuse it
    // without asking for, or holding, the rest.
    const prelude = Buffer.alloc(12);
    prelude.writeUInt32BE(1024 * 1024, 0);
    let askedForMore = false;
    async function* preludeThenRest(): AsyncGenerator<Uint8Array> {
      yield frames[0]!;
      yield prelude;
      askedForMore = true;
      yield Buffer.alloc(1024 * 1024 - 12);
    }
    await assert.rejects(decode(preludeThenRest(), limits), (err: GatewayError) => {
      assert.equal(err.code, 'provider_unavailable');
      assert.equal(err.retryable, true);
      assert.match(err.message, /event larger than 65536 bytes/);
      return true;
    });
    assert.equal(askedForMore, false, 'refused on the prelude alone');
    const huge = Buffer.alloc(12);
    huge.writeUInt32BE(0xffff_fff0, 0);
    await assert.rejects(decode([huge]), /event larger than 8388608 bytes/);
  });

  it('refuses a stream bringing more than maxStreamBytes in all', async () => {
    const limits = { ...DEFAULT_UPSTREAM_LIMITS, maxStreamBytes: all.length * 3 };
    assert.equal((await decode([all, all, all], limits)).length, 9, 'up to the cap every frame is delivered');
    await assert.rejects(decode([all, all, all, all], limits), /stream larger than/);
  });

  it('rejects a body that ends inside a message', async () => {
    const cut = all.subarray(0, all.length - 3);
    const seen: EventStreamMessage[] = [];
    await assert.rejects(
      (async () => {
        for await (const message of decodeEventStream(chunks([cut]), 'bedrock', DEFAULT_UPSTREAM_LIMITS))
          seen.push(message);
      })(),
      (err: GatewayError) => err instanceof GatewayError && err.code === 'provider_unavailable',
    );
    assert.equal(seen.length, 2, 'the complete messages before the cut were delivered');
  });

  it('turns a transport failure into a retryable error', async () => {
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield frames[0]!;
      throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    }
    await assert.rejects(
      (async () => {
        for await (const _ of decodeEventStream(broken(), 'bedrock', DEFAULT_UPSTREAM_LIMITS)) {
          // drain
        }
      })(),
      (err: GatewayError) => err.code === 'provider_unavailable' && err.retryable,
    );
  });
});
