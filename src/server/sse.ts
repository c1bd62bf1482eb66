import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { GatewayError } from '../core/errors.ts';

/**
 * Writes server-sent events to a client with backpressure: when the socket's buffer is full we wait for
 * `drain` (or the client going away) instead of buffering an unbounded stream in memory.
 */
export class SSEWriter {
  private readonly res: ServerResponse;
  private readonly errorFrame: (error: GatewayError) => string;
  private closed = false;
  #interruption: GatewayError | undefined;

  private readonly stopUpstream: (reason: GatewayError) => void;

  constructor(
    res: ServerResponse,
    errorFrame: (error: GatewayError) => string,
    stopUpstream: (reason: GatewayError) => void,
  ) {
    this.res = res;
    this.errorFrame = errorFrame;
    this.stopUpstream = stopUpstream;
    res.once('close', () => {
      this.closed = true;
    });
  }

  /** True once the client is gone, or the gateway interrupted the stream (then see `interruption`). */
  get clientGone(): boolean {
    return this.closed || this.res.destroyed || this.#interruption !== undefined;
  }

  /** Why the gateway ended this stream itself (shutdown), if it did. */
  get interruption(): GatewayError | undefined {
    return this.#interruption;
  }

  /**
   * The gateway ends this stream itself (shutdown): the upstream call is stopped, the route's relay sees
   * clientGone, records the error, and `end()` then sends the protocol's error event as the last frame,
   * never a bare TCP cut: the client learns the answer is incomplete, and its record exists first.
   */
  interrupt(error: GatewayError): void {
    if (this.clientGone || this.res.writableEnded) return;
    this.#interruption = error;
    this.stopUpstream(error);
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

  /** The route's last step with the stream (its outcome is then known); it leaves the server's openStreams. */
  end(): void {
    if (!this.res.writableEnded) {
      if (this.#interruption && !this.res.destroyed) this.res.end(this.errorFrame(this.#interruption));
      else this.res.end();
    }
    this.onEnd?.();
  }

  /** Called once by end(). */
  onEnd: (() => void) | undefined;
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

/**
 * Takes the response over from Fastify and starts an event stream with these headers. `errorFrame` renders
 * the protocol's terminal error event, for a stream the gateway must end itself (`stopUpstream` stops the
 * request's upstream call then). The stream is listed in
 * the server's `openStreams` until the route ends it (and has its outcome), so that shutdown can end what
 * is left with that event and wait for the routes to record them.
 */
export function openSSE(
  reply: FastifyReply,
  headers: Record<string, string>,
  errorFrame: (error: GatewayError) => string,
  stopUpstream: (reason: GatewayError) => void,
): SSEWriter {
  reply.hijack();
  reply.raw.writeHead(200, {
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  const writer = new SSEWriter(reply.raw, errorFrame, stopUpstream);
  const open = reply.server.openStreams;
  open.add(writer);
  writer.onEnd = () => open.delete(writer);
  return writer;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Event streams being written (see openSSE); shutdown interrupts those still open at the end of its grace. */
    openStreams: Set<SSEWriter>;
  }
}
