import type { GatewayError } from '../../core/errors.ts';
import type { ChatRequest } from '../../core/ir.ts';
import {
  errorBodyJSON,
  parseJSONObject,
  readErrorBody,
  retryAfterSeconds,
  type UpstreamResponse,
  upstreamFetch,
  upstreamFetchWhole,
} from '../http.ts';
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
  return {
    url: anthropicUrl(target, path),
    headers: anthropicHeaders(target, options),
    body: JSON.stringify(body),
    timeouts: target.provider.timeouts,
    signal: ctx.signal,
    label: target.provider.id,
  };
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
  const res = await upstreamFetch(call(target, ctx, path, body, options));
  if (res.status < 200 || res.status >= 300) {
    throw errorOf(res.status, res.headers, await readErrorBody(res.body, target.provider.id), target);
  }
  return res;
}

/**
 * A non-streaming POST read whole (upstreamFetchWhole): the body as received and parsed. A 200 carrying
 * Anthropic's error envelope is treated as that error.
 */
export async function postAnthropicJSON(
  target: UpstreamTarget,
  ctx: CallContext,
  path: AnthropicPath,
  body: Json,
  options: PostOptions = {},
): Promise<{ bytes: Uint8Array; json: Json }> {
  const res = await upstreamFetchWhole(call(target, ctx, path, body, options));
  if (res.status < 200 || res.status >= 300) throw errorOf(res.status, res.headers, errorBodyJSON(res.bytes), target);
  const label = target.provider.id;
  const { bytes, json } = parseJSONObject(res.bytes, label);
  if (json['type'] === 'error') {
    throw mapAnthropicError({ status: 500, body: json, label, secret: target.key.secret });
  }
  return { bytes, json };
}

function errorOf(
  status: number,
  headers: UpstreamResponse['headers'],
  body: unknown,
  target: UpstreamTarget,
): GatewayError {
  return mapAnthropicError({
    status,
    body,
    retryAfter: retryAfterSeconds(headers),
    label: target.provider.id,
    secret: target.key.secret,
  });
}
