import { GatewayError } from '../../core/errors.ts';
import {
  errorTableMapper,
  parseJSONObject,
  type UpstreamErrorMapper,
  upstreamFetchWhole,
  upstreamJSON,
} from '../http.ts';
import { mapOpenAIError } from '../openai-compatible/map-openai-error.ts';
import { endpoint, familyMember, type OpenAICall } from '../openai-compatible/openai-endpoint.ts';
import type { MediaCall } from './media-adapter.ts';
import { mediaRequest } from './media-http.ts';

/**
 * OpenAI's media endpoints through the family's own URL, auth header and error table
 * (openai-compatible/openai-endpoint.ts, map-openai-error.ts): JSON or multipart in, JSON or bytes out.
 */

export function errorMapper(call: MediaCall): UpstreamErrorMapper {
  return errorTableMapper(mapOpenAIError, call.target.provider.id, call.target.key.secret);
}

function where(call: MediaCall, path: OpenAICall, contentType?: string) {
  const { url, headers } = endpoint(call.target, familyMember(call.target), path);
  if (contentType) headers['content-type'] = contentType;
  return { url, headers };
}

/**
 * A JSON (or multipart, with its content type) request answered with a JSON object, typed as the SDK types the
 * answer (`T`), every field optional: callers still check each one they read.
 */
export async function openAIJSON<T extends object = Record<string, unknown>>(
  call: MediaCall,
  path: OpenAICall,
  body: string | Uint8Array | undefined,
  contentType?: string,
): Promise<Partial<T>> {
  const { url, headers } = where(call, path, contentType);
  const req = mediaRequest(call, {
    url,
    headers,
    method: body === undefined ? 'GET' : 'POST',
    ...(body === undefined ? {} : { body }),
  });
  if (body === undefined) delete req.headers['content-type'];
  return (await upstreamJSON(req, errorMapper(call))).json as Partial<T>;
}

/** A request answered with bytes (speech audio, video content): the body, capped at the output limit. */
export async function openAIBytes(
  call: MediaCall,
  path: OpenAICall,
  body?: string,
): Promise<{ bytes: Uint8Array; contentType: string | undefined }> {
  const { url, headers } = where(call, path);
  headers['accept'] = '*/*';
  if (body === undefined) delete headers['content-type'];
  const req = mediaRequest(call, {
    url,
    headers,
    method: body === undefined ? 'GET' : 'POST',
    ...(body === undefined ? {} : { body }),
  });
  req.limits = { ...req.limits, maxBodyBytes: call.settings.maxOutputBytes };
  const res = await upstreamFetchWhole(req);
  if (res.status < 200 || res.status >= 300) {
    let parsed: unknown;
    try {
      parsed = parseJSONObject(res.bytes, call.target.provider.id).json;
    } catch {
      parsed = undefined;
    }
    throw errorMapper(call)(res.status, res.headers, parsed);
  }
  const type = res.headers['content-type'];
  return { bytes: res.bytes, contentType: Array.isArray(type) ? type[0] : type };
}

/** How OpenAI's media model names begin. */
const OPENAI_MEDIA_MODEL = /^(gpt-image|dall-e|tts|whisper|gpt-4o|sora)/;

/**
 * The OpenAI model a family member's media model runs, which decides its parameters: the upstream name, unless that
 * is a deployment name naming no OpenAI model (Azure's `upstreamName`), then the catalog name (an Azure media model
 * is configured `name: dall-e-3, upstreamName: <deployment>`, docs/providers/media.md).
 */
export function openAIModelName(model: { name: string; upstreamName: string }): string {
  return OPENAI_MEDIA_MODEL.test(model.upstreamName) ? model.upstreamName : model.name;
}

/** An answer that lacks what it must carry: the provider misbehaved (retryable). */
export function malformed(call: MediaCall, what: string): GatewayError {
  return new GatewayError('provider_unavailable', `Upstream ${call.target.provider.id} returned ${what}`);
}
