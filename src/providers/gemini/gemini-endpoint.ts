import { descriptorOf } from '../kinds/index.ts';
import type { UpstreamTarget } from '../types.ts';

/**
 * Where and how a Gemini API request goes.
 *
 * `${baseUrl}/${apiVersion}/models/{model}:generateContent` (or `:streamGenerateContent?alt=sse`, which
 * makes Google frame the stream as server-sent events instead of one growing JSON array), with the key in
 * the `x-goog-api-key` header, never in the URL (URLs end up in logs).
 *
 * Provider settings: `baseUrl` is the host root (default in kinds/gemini.ts; a base that already ends in an
 * API version is used as-is), `options.apiVersion` (default `v1beta`, the version that carries
 * thinking, thought signatures and responseJsonSchema), `options.headers` (JSON object of extra headers).
 * @see https://ai.google.dev/api/generate-content#method:-models.generatecontent
 * @see https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent
 */

export const GEMINI_DEFAULT_API_VERSION = 'v1beta';

export function geminiEndpoint(
  target: UpstreamTarget,
  stream: boolean,
  /** Another method of the model resource (`batchEmbedContents`); default generateContent or its stream. */
  other?: 'batchEmbedContents',
): { url: string; headers: Record<string, string> } {
  const base = (target.provider.baseUrl || descriptorOf(target.provider.kind).defaultBaseUrl).replace(/\/+$/, '');
  const root = /\/v\d+(alpha|beta)?\d*$/.test(base)
    ? base
    : `${base}/${target.provider.options['apiVersion'] ?? GEMINI_DEFAULT_API_VERSION}`;
  const name = target.model.upstreamName.replace(/^models\//, '');
  const resource = name.startsWith('tunedModels/') ? name : `models/${name}`;
  const path = resource.split('/').map(encodeURIComponent).join('/');
  const method = other ?? (stream ? 'streamGenerateContent?alt=sse' : 'generateContent');
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: stream ? 'text/event-stream' : 'application/json',
    'x-goog-api-key': target.key.secret,
  };
  const extra = target.provider.options['headers'];
  if (extra) Object.assign(headers, JSON.parse(extra) as Record<string, string>);
  return { url: `${root}/${path}:${method}`, headers };
}
