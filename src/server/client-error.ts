import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { GatewayError, openAIErrorBody } from '../core/errors.ts';

/** How long an answered socket stays half-closed so the client can read the answer before it is destroyed. */
const LINGER_MS = 1_000;

/**
 * Requests that Node's HTTP parser refuses before any route sees them (headers over the size limit, a
 * malformed request, a request not received within the request or headers timeout) get the OpenAI error
 * envelope every other error gets, instead of the HTTP server's own body. The answer is written only when no
 * response has started on the socket (a second one would corrupt it). The socket is then half-closed, not
 * destroyed at once: closing with the client's unread bytes still queued would send a reset that can erase
 * the answer before the client reads it (RFC 9112 section 9.6). It is destroyed after a short linger.
 */
export function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  // Already answered: the parser reports the same error again for each chunk that still arrives.
  if (socket.writableEnded) return;
  if (err.code === 'ECONNRESET' || !socket.writable || responseStarted(socket)) {
    socket.destroy();
    return;
  }
  const error = errorFor(err.code);
  const body = JSON.stringify(openAIErrorBody(error));
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
}

function errorFor(code: string | undefined): GatewayError {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return new GatewayError('invalid_request', 'Request headers are too large', { status: 431 });
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new GatewayError('invalid_request', 'Chunk extensions of the request body are too large', {
        status: 413,
      });
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new GatewayError('invalid_request', 'The request was not received in time', { status: 408 });
    default:
      return new GatewayError('invalid_request', 'Malformed HTTP request', { status: 400 });
  }
}

/** Whether the response in flight on this socket has sent its headers (Node's own check, on its own field). */
function responseStarted(socket: Socket): boolean {
  return (socket as Socket & { _httpMessage?: { headersSent: boolean } | null })._httpMessage?.headersSent === true;
}
