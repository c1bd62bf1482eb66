import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What the media mocks (OpenAI images/audio/videos, Imagen, Replicate) share: a loopback HTTP server whose
 * handler gets the whole request body (and, for multipart, the parsed form), and a log of what arrived.
 */

export interface MediaRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  /** Parsed JSON body, when it was JSON. */
  json?: Record<string, unknown>;
  /** Parsed multipart form, when it was multipart: strings as they came, files as name, type and bytes. */
  form?: Record<string, string | { filename: string; type: string; bytes: Uint8Array }>;
  bytes: Uint8Array;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Raw bytes instead of JSON. */
  bytes?: Uint8Array;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Send headers, then this many bytes every `trickleMs` (a slow download). */
  trickleMs?: number;
}

export interface MediaServer {
  url: string;
  origin: string;
  requests: MediaRequest[];
  close(): Promise<void>;
}

export async function startMediaServer(
  handle: (req: MediaRequest, raw: IncomingMessage) => Promise<Answer> | Answer,
): Promise<MediaServer> {
  const requests: MediaRequest[] = [];
  const server: Server = createServer(async (raw, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of raw) chunks.push(chunk as Buffer);
    const bytes = Buffer.concat(chunks);
    const type = raw.headers['content-type'] ?? '';
    const req: MediaRequest = { method: raw.method ?? 'GET', path: raw.url ?? '/', headers: raw.headers, bytes };
    if (type.startsWith('application/json') && bytes.length > 0) {
      try {
        req.json = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
      } catch {
        // left undefined: the handler answers 400
      }
    }
    if (type.startsWith('multipart/form-data')) {
      const form = await new Response(bytes, { headers: { 'content-type': type } }).formData();
      req.form = {};
      for (const [name, value] of form) {
        req.form[name] =
          typeof value === 'string'
            ? value
            : { filename: value.name, type: value.type, bytes: new Uint8Array(await value.arrayBuffer()) };
      }
    }
    requests.push(req);
    let answer: Answer;
    try {
      answer = await handle(req, raw);
    } catch (err) {
      answer = { status: 500, body: { error: { message: String(err) } } };
    }
    await send(res, answer);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    url: origin,
    origin,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function send(res: ServerResponse, answer: Answer): Promise<void> {
  if (answer.delayMs) await new Promise((r) => setTimeout(r, answer.delayMs));
  if (res.destroyed) return;
  const body =
    answer.bytes ?? (answer.body === undefined ? new Uint8Array(0) : Buffer.from(JSON.stringify(answer.body)));
  const headers: Record<string, string> = {
    ...(answer.bytes ? {} : { 'content-type': 'application/json' }),
    'content-length': String(body.byteLength),
    ...answer.headers,
  };
  res.writeHead(answer.status, headers);
  if (!answer.trickleMs) {
    res.end(body);
    return;
  }
  // A slow download: a byte at a time until the client gives up.
  for (let i = 0; i < body.byteLength && !res.destroyed; i++) {
    res.write(body.subarray(i, i + 1));
    await new Promise((r) => setTimeout(r, answer.trickleMs));
  }
  res.end();
}

/** A minimal valid MP4 header (an `ftyp` box and an empty `mdat`), enough for type sniffing and players' probes. */
export function tinyMp4(payload = 'modro'): Uint8Array {
  const ftyp = Buffer.alloc(24);
  ftyp.writeUInt32BE(24, 0);
  ftyp.write('ftypisom', 4, 'latin1');
  ftyp.writeUInt32BE(512, 12);
  ftyp.write('isomiso2', 16, 'latin1');
  const data = Buffer.from(payload);
  const mdat = Buffer.alloc(8);
  mdat.writeUInt32BE(8 + data.length, 0);
  mdat.write('mdat', 4, 'latin1');
  return Buffer.concat([ftyp, mdat, data]);
}
