import type { FastifyReply } from 'fastify';

/**
 * Writes a finished response straight to the socket, skipping Fastify's reply pipeline (serializers,
 * onSend hooks): the hot /v1 success path already has its bytes and headers ready, and the pipeline costs
 * measurable CPU per request (docs/benchmarks.md). Errors and every other route keep the normal reply.
 */
export function sendRaw(
  reply: FastifyReply,
  status: number,
  headers: Record<string, string>,
  payload: string | Buffer,
) {
  reply.hijack();
  const res = reply.raw;
  headers['content-length'] = String(typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length);
  res.writeHead(status, headers);
  res.end(payload);
  return reply;
}
