import type { EventStreamCodec, MessageHeaders } from '@smithy/eventstream-codec';
import { GatewayError } from '../../core/errors.ts';
import { overLimit, transportError } from '../http.ts';
import type { UpstreamLimits } from '../types.ts';

/**
 * AWS event-stream binary framing → messages. Each message is a 4-byte big-endian total length, a 4-byte
 * headers length, a prelude CRC, headers, payload and a message CRC; the smithy codec checks both CRCs and
 * parses the typed headers. Messages split across network chunks (or several in one chunk) are reassembled
 * here from the prelude's total length. A bad checksum, an impossible length, or a body that ends inside a
 * message is a malformed stream (retryable provider_unavailable), never silently skipped. A prelude declaring
 * more than `maxEventBytes` is refused as soon as its 4 length bytes arrive (nothing of it is buffered), and
 * the whole stream may bring at most `maxStreamBytes`.
 * @see https://docs.aws.amazon.com/transcribe/latest/dg/streaming-setting-up.html (event stream encoding)
 * @see https://smithy.io/2.0/aws/amazon-eventstream.html
 */

export interface EventStreamMessage {
  /** String-valued headers (`:message-type`, `:event-type`, `:exception-type`, `:content-type`...). */
  headers: Record<string, string>;
  body: Uint8Array;
}

const PRELUDE_AND_CRCS = 16;

function stringHeaders(headers: MessageHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, header] of Object.entries(headers)) {
    if (header.type === 'string') out[name] = header.value;
  }
  return out;
}

function malformed(label: string, cause?: unknown): GatewayError {
  return new GatewayError('provider_unavailable', `Upstream ${label} sent a malformed event stream`, { cause });
}

export async function* decodeEventStream(
  body: AsyncIterable<Uint8Array>,
  label: string,
  limits: Pick<UpstreamLimits, 'maxEventBytes' | 'maxStreamBytes'>,
): AsyncGenerator<EventStreamMessage> {
  // Loaded on the first Bedrock stream: a gateway without Bedrock never holds the codec in memory.
  const [{ EventStreamCodec }, { fromUtf8, toUtf8 }] = await Promise.all([
    import('@smithy/eventstream-codec'),
    import('@smithy/util-utf8'),
  ]);
  const codec = new EventStreamCodec(toUtf8, fromUtf8);
  let chunks: Buffer[] = [];
  let buffered = 0;
  let received = 0;
  /** Total length of the message being assembled, once its prelude has arrived. */
  let needed = 0;

  const take = (length: number): Buffer => {
    const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, buffered);
    const message = all.subarray(0, length);
    const rest = all.subarray(length);
    chunks = rest.length > 0 ? [rest] : [];
    buffered = rest.length;
    return message;
  };

  try {
    for await (const chunk of body) {
      if (chunk.length === 0) continue;
      received += chunk.length;
      if (received > limits.maxStreamBytes) throw overLimit(label, 'a stream', limits.maxStreamBytes);
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      buffered += chunk.length;
      while (true) {
        if (needed === 0) {
          if (buffered < 4) break;
          if (chunks[0]!.length < 4) chunks = [Buffer.concat(chunks, buffered)];
          needed = chunks[0]!.readUInt32BE(0);
          if (needed < PRELUDE_AND_CRCS) throw malformed(label);
          if (needed > limits.maxEventBytes) throw overLimit(label, 'an event', limits.maxEventBytes);
        }
        if (buffered < needed) break;
        const frame = take(needed);
        needed = 0;
        let decoded: ReturnType<EventStreamCodec['decode']>;
        try {
          decoded = codec.decode(frame);
        } catch (err) {
          throw malformed(label, err);
        }
        yield { headers: stringHeaders(decoded.headers), body: decoded.body };
      }
    }
  } catch (err) {
    throw transportError(err, label);
  }
  if (buffered > 0) {
    throw new GatewayError('provider_unavailable', `Upstream ${label} stream ended in the middle of a message`);
  }
}
