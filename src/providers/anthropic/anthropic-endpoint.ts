import type { ChatRequest } from '../../core/ir.ts';
import { descriptorOf } from '../kinds/index.ts';
import type { UpstreamTarget } from '../types.ts';

/**
 * Where and how to call Anthropic. `baseUrl` is the API origin without `/v1` (the official SDKs' convention;
 * default `https://api.anthropic.com`, kinds/anthropic.ts); a base that already ends in `/v1` is accepted too,
 * so a URL copied from an OpenAI-style config still works. The key goes in `x-api-key` (the SDKs since
 * 2026-10-21 send it as a Bearer token; the API takes both). Provider options: `anthropicVersion` and
 * `anthropicBeta` (comma-separated beta flags sent on every request).
 *
 * API version: translated requests use 2023-06-01 unless configured otherwise, because it still accepts
 * `temperature`/`top_p`/`top_k` on the models that honour them, which 2026-10-21 rejects outright; the
 * converter drops them where a model or version would refuse them. Pass-through requests carry the
 * caller's own `anthropic-version`, since their body was written for it.
 * @see https://platform.claude.com/docs/en/api/overview#authentication
 * @see https://platform.claude.com/docs/en/api/versioning
 */
export const ANTHROPIC_VERSION = '2023-06-01';

/** The API version for translated requests (provider option `anthropicVersion`, default 2023-06-01). */
export function anthropicVersion(target: UpstreamTarget): string {
  return target.provider.options['anthropicVersion'] ?? ANTHROPIC_VERSION;
}

export function anthropicUrl(target: UpstreamTarget, path: '/messages' | '/messages/count_tokens'): string {
  let base = (target.provider.baseUrl || descriptorOf(target.provider.kind).defaultBaseUrl).replace(/\/+$/, '');
  if (base.endsWith('/v1')) base = base.slice(0, -3);
  return `${base}/v1${path}`;
}

/**
 * Request headers. On the pass-through path the caller's own `anthropic-beta` flags go along, since the body
 * they sent may use beta features; a translated body only uses what the converter produced.
 */
export function anthropicHeaders(
  target: UpstreamTarget,
  options: { stream?: boolean; passthroughOf?: ChatRequest } = {},
): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json',
    'x-api-key': target.key.secret,
    'anthropic-version': options.passthroughOf?.inbound.headers?.['anthropic-version'] ?? anthropicVersion(target),
  };
  const betas = new Set<string>();
  for (const source of [
    target.provider.options['anthropicBeta'],
    options.passthroughOf?.inbound.headers?.['anthropic-beta'],
  ]) {
    if (!source) continue;
    for (const beta of source.split(',')) if (beta.trim()) betas.add(beta.trim());
  }
  if (betas.size > 0) headers['anthropic-beta'] = [...betas].join(',');
  if (options.stream) headers['accept'] = 'text/event-stream';
  return headers;
}
