import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';

/**
 * Writes server-sent events to a client with backpressure: when the socket's buffer is full we wait for
 * `drain` (or the client going away) instead of buffering an unbounded stream in memory.
 */
export class SSEWriter {
  private readonly res: ServerResponse;
  private closed = false;

  constructor(res: ServerResponse) {
    this.res = res;
    res.once('close', () => {
      this.closed = true;
    });
  }

  get clientGone(): boolean {
    return this.closed || this.res.destroyed;
  }

  /** Writes raw SSE text; resolves when the socket can take more. */
  async write(text: string): Promise<void> {
    if (this.clientGone) return;
    if (!this.res.write(text)) {
      await Promise.race([once(this.res, 'drain'), once(this.res, 'close')]);
    }
  }

  data(payload: string): Promise<void> {
    return this.write(`data: ${dataField(payload)}\n\n`);
  }

  event(name: string, payload: string): Promise<void> {
    return this.write(`event: ${name}\ndata: ${dataField(payload)}\n\n`);
  }

  end(): void {
    if (!this.res.writableEnded) this.res.end();
  }
}

/**
 * The value of a `data:` field. A payload with line breaks (an upstream event sent as several `data:` lines,
 * which the parser joins with `\n`) becomes one `data:` line per line, as the SSE specification frames it, so
 * the client rebuilds the same payload; a raw break inside one line would cut the event. Single-line payloads
 * (every frame the gateway serialises itself) pass untouched after one scan.
 */
function dataField(payload: string): string {
  return LINE_BREAK.test(payload) ? payload.replace(LINE_BREAKS, '\ndata: ') : payload;
}

const LINE_BREAK = /[\r\n]/;
const LINE_BREAKS = /\r\n|\r|\n/g;

/** Takes the response over from Fastify and starts an event stream with these headers. */
export function openSSE(reply: FastifyReply, headers: Record<string, string>): SSEWriter {
  reply.hijack();
  reply.raw.writeHead(200, {
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  return new SSEWriter(reply.raw);
}
