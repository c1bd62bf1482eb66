import type { GatewayError } from '../../core/errors.ts';
import type { ChatRequest } from '../../core/ir.ts';
import {
  discardBody,
  readBody,
  readJSONObject,
  retryAfterSeconds,
  type UpstreamResponse,
  upstreamFetch,
} from '../http.ts';
import type { CallContext, UpstreamTarget } from '../types.ts';
import { anthropicHeaders, anthropicUrl } from './anthropic-endpoint.ts';
import { mapAnthropicError } from './map-anthropic-error.ts';

/** One POST to Anthropic; resolves on 2xx, throws the mapped GatewayError otherwise. */

type Json = Record<string, unknown>;

export async function postAnthropic(
  target: UpstreamTarget,
  ctx: CallContext,
  path: '/messages' | '/messages/count_tokens',
  body: Json,
  options: { stream?: boolean; passthroughOf?: ChatRequest } = {},
): Promise<UpstreamResponse> {
  const res = await upstreamFetch({
    url: anthropicUrl(target, path),
    headers: anthropicHeaders(target, options),
    body: JSON.stringify(body),
    timeouts: target.provider.timeouts,
    signal: ctx.signal,
    label: target.provider.id,
  });
  if (res.status < 200 || res.status >= 300) throw await anthropicErrorFrom(res, target);
  return res;
}

export async function anthropicErrorFrom(res: UpstreamResponse, target: UpstreamTarget): Promise<GatewayError> {
  const label = target.provider.id;
  let body: unknown;
  try {
    const bytes = await readBody(res.body, label, 1024 * 1024);
    body = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    discardBody(res.body);
  }
  return mapAnthropicError({
    status: res.status,
    body,
    retryAfter: retryAfterSeconds(res.headers),
    label,
    secret: target.key.secret,
  });
}

/** Reads a whole JSON body; a 200 carrying Anthropic's error envelope is treated as that error. */
export async function readAnthropicJSON(
  res: UpstreamResponse,
  target: UpstreamTarget,
): Promise<{ bytes: Uint8Array; json: Json }> {
  const label = target.provider.id;
  const { bytes, json } = await readJSONObject(res.body, label);
  if (json['type'] === 'error') {
    throw mapAnthropicError({ status: 500, body: json, label, secret: target.key.secret });
  }
  return { bytes, json };
}

/** Lets the connection go back to the pool after a complete stream, or drops it after an incomplete one. */
export function releaseBody(res: UpstreamResponse, complete: boolean): void {
  if (complete) discardBody(res.body);
  else if (!res.body.destroyed) res.body.destroy();
}
