import type { Readable } from 'node:stream';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { GatewayError } from '../core/errors.ts';
import { overLimit, transportError } from './http.ts';
import type { UpstreamLimits } from './types.ts';

/**
 * Server-sent events from an upstream body (an async iterable of bytes), one message at a time, parsed by
 * eventsource-parser. A transport failure mid-stream becomes a retryable GatewayError; a stream that ends
 * without a terminal marker is the caller's to judge (protocols differ on what "complete" means).
 *
 * Memory stays bounded whatever the upstream sends: the parser holds at most `maxEventBytes` of an unfinished
 * event (its own buffer limit, checked as each chunk is fed) and the stream may bring `maxStreamBytes` in all;
 * past either the reader throws provider_unavailable. Unknown fields and bad `retry` values are ignored, as
 * the SSE specification says, and lines that cannot be fields are dropped unbuffered by the parser.
 *
 * Stopping early does not destroy a Node stream body: the caller releases it with releaseBody (http.ts),
 * draining it after a terminal event (`[DONE]`, `message_stop`) so the connection goes back to the pool, or
 * destroying it after an incomplete one. (Node's default, destroying on return, costs an AbortError with a
 * stack trace per stream and can cost the connection.)
 */
export interface SSEMessage {
  event: string | undefined;
  data: string;
}

export async function* readSSE(
  body: AsyncIterable<Uint8Array | string>,
  label: string,
  limits: Pick<UpstreamLimits, 'maxEventBytes' | 'maxStreamBytes'>,
): AsyncGenerator<SSEMessage> {
  const queue: EventSourceMessage[] = [];
  let eventTooLarge = false;
  const parser = createParser({
    maxBufferSize: limits.maxEventBytes,
    onEvent: (message) => {
      queue.push(message);
    },
    onError: (error) => {
      if (error.type === 'max-buffer-size-exceeded') eventTooLarge = true;
    },
  });
  const decoder = new TextDecoder();
  let received = 0;
  try {
    const chunks = isReadable(body) ? body.iterator({ destroyOnReturn: false }) : body;
    for await (const chunk of chunks) {
      received += typeof chunk === 'string' ? chunk.length : chunk.byteLength;
      if (received > limits.maxStreamBytes) throw overLimit(label, 'a stream', limits.maxStreamBytes);
      parser.feed(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
      if (eventTooLarge) throw overLimit(label, 'an event', limits.maxEventBytes);
      while (queue.length > 0) {
        const message = queue.shift()!;
        yield { event: message.event, data: message.data };
      }
    }
  } catch (err) {
    throw transportError(err, label);
  }
  // A final event without its blank line is still delivered by flushing the parser with one.
  parser.feed('\n\n');
  for (const message of queue) yield { event: message.event, data: message.data };
}

function isReadable(body: AsyncIterable<Uint8Array | string>): body is Readable {
  return typeof (body as Partial<Readable>).iterator === 'function';
}

/** Parses one event payload as a JSON object, or throws a retryable provider error. */
export function parseEventJSON(data: string, label: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    throw new GatewayError('provider_unavailable', `Upstream ${label} sent an event that is not JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new GatewayError('provider_unavailable', `Upstream ${label} sent an event that is not a JSON object`);
  }
  return value as Record<string, unknown>;
}
