import type { FastifyReply } from 'fastify';
import type { GatewayError } from '../core/errors.ts';
import type { RequestContext } from '../pipeline/context.ts';
import type { Handled } from '../pipeline/outcome.ts';
import type { ErrorCodec, ProtocolCodec } from '../protocols/codec.ts';
import { sendRaw } from './respond.ts';
import { openSSE } from './sse.ts';

/**
 * Writing what the pipeline returned, in the codec's protocol: an answer, an error, or a stream. The record
 * is already durable for answers and errors; a stream is recorded by `finish` before its last frames.
 */
export function sendHandled(reply: FastifyReply, codec: ProtocolCodec, ctx: RequestContext, handled: Handled) {
  switch (handled.kind) {
    case 'error':
      return sendError(reply, codec, handled.error, handled.headers, ctx.requestId);
    case 'completion': {
      const encoded = codec.encodeCompletion(handled, ctx.requestId, ctx.request);
      return sendRaw(reply, 200, { ...handled.headers, ...encoded.headers }, encoded.body);
    }
    case 'stream':
      return relay(reply, codec, ctx, handled);
  }
}

/** A finished answer or error, encoded but not sent (an idempotent request stores it first). */
export function encodeAnswer(
  codec: ProtocolCodec,
  ctx: RequestContext,
  handled: Exclude<Handled, { kind: 'stream' }>,
): { status: number; headers: Record<string, string>; body: string | Buffer } {
  if (handled.kind === 'error') {
    const encoded = codec.encodeError(handled.error, ctx.requestId);
    return { status: encoded.status, headers: { ...handled.headers, ...encoded.headers }, body: encoded.body };
  }
  const encoded = codec.encodeCompletion(handled, ctx.requestId, ctx.request);
  return { status: 200, headers: { ...handled.headers, ...encoded.headers }, body: encoded.body };
}

export function sendError(
  reply: FastifyReply,
  codec: ErrorCodec,
  error: GatewayError,
  headers: Record<string, string>,
  requestId: string,
) {
  const encoded = codec.encodeError(error, requestId);
  return reply
    .code(encoded.status)
    .headers({ ...headers, ...encoded.headers })
    .send(encoded.body);
}

async function relay(
  reply: FastifyReply,
  codec: ProtocolCodec,
  ctx: RequestContext,
  { stream, headers }: Extract<Handled, { kind: 'stream' }>,
): Promise<void> {
  const encoder = codec.streamEncoder(stream, {
    requestId: ctx.requestId,
    at: ctx.at,
    includeUsage: ctx.request.includeUsage,
    request: ctx.request,
  });
  const streamError = (error: GatewayError) =>
    encoder.error ? encoder.error(error) : codec.encodeStreamError(error, ctx.requestId);
  const sse = openSSE(reply, { ...headers, ...codec.answerHeaders(ctx.requestId) }, streamError, ctx.abort);
  for await (const frame of stream.frames()) {
    const text = encoder.frame(frame);
    if (text !== undefined) await sse.write(text);
    if (sse.clientGone) break;
  }
  // Metered and recorded before the last frames: a client that read the whole stream has its record.
  const end = await stream.finish({ clientGone: sse.clientGone, interruption: sse.interruption });
  if (!sse.clientGone) {
    await sse.write(end.error ? streamError(end.error) : encoder.end(end));
  }
  sse.end();
}
