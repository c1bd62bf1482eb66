import type { ChatRequest } from '../../core/ir.ts';
import { errorTableMapper, type UpstreamResponse, upstreamJSON, upstreamRequest, upstreamStream } from '../http.ts';
import type { CallContext, UpstreamTarget } from '../types.ts';
import { anthropicHeaders, anthropicUrl } from './anthropic-endpoint.ts';
import { mapAnthropicError } from './map-anthropic-error.ts';

/** POSTs to Anthropic: postAnthropic for streams, postAnthropicJSON for whole JSON answers. */

type Json = Record<string, unknown>;

interface PostOptions {
  stream?: boolean;
  passthroughOf?: ChatRequest;
}

function call(target: UpstreamTarget, ctx: CallContext, path: AnthropicPath, body: Json, options: PostOptions) {
  return upstreamRequest(target, ctx, {
    url: anthropicUrl(target, path),
    headers: anthropicHeaders(target, options),
    body: JSON.stringify(body),
  });
}

type AnthropicPath = '/messages' | '/messages/count_tokens';

/** A streaming POST; resolves on 2xx with the body still a stream, throws the mapped GatewayError otherwise. */
export async function postAnthropic(
  target: UpstreamTarget,
  ctx: CallContext,
  path: AnthropicPath,
  body: Json,
  options: PostOptions = {},
): Promise<UpstreamResponse> {
  return upstreamStream(
    call(target, ctx, path, body, options),
    errorTableMapper(mapAnthropicError, target.provider.id, target.key.secret),
  );
}

/** A non-streaming POST read whole; a 200 carrying Anthropic's error envelope is treated as that error. */
export async function postAnthropicJSON(
  target: UpstreamTarget,
  ctx: CallContext,
  path: AnthropicPath,
  body: Json,
  options: PostOptions = {},
): Promise<{ bytes: Uint8Array; json: Json }> {
  const label = target.provider.id;
  const mapError = errorTableMapper(mapAnthropicError, label, target.key.secret);
  const { bytes, json } = await upstreamJSON(call(target, ctx, path, body, options), mapError);
  if (json['type'] === 'error') {
    throw mapAnthropicError({ status: 500, body: json, label, secret: target.key.secret });
  }
  return { bytes, json };
}
