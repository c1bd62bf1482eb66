import { GatewayError } from '../../core/errors.ts';
import type { ImagePart } from '../../core/ir.ts';
import type { GeminiPart } from './gemini-api-types.ts';

/**
 * An IR image → a Gemini part.
 *
 * - base64 bytes (and `data:` URLs) → `inlineData`.
 * - `http(s)://` and `gs://` URLs → `fileData.fileUri`: the Gemini API fetches public and signed HTTPS URLs
 *   itself, as OpenAI and Anthropic do, so the gateway never downloads caller-chosen URLs (no SSRF surface,
 *   no buffering). `fileData` requires a MIME type; it is taken from the URL's extension, else image/jpeg
 *   (Gemini sniffs the actual bytes; the type only has to be an image type).
 * - any other scheme → invalid_request.
 *
 * OpenAI's `detail` hint is not sent: Gemini's per-part `mediaResolution` exists only on Gemini 3.
 * @see https://ai.google.dev/gemini-api/docs/file-input-methods
 * @see https://ai.google.dev/api/caching#Part
 */
export function convertImagePart(part: ImagePart, param: string): GeminiPart {
  const source = part.source;
  if (source.kind === 'base64') return { inlineData: { mimeType: source.mediaType, data: source.data } };
  const url = source.url;
  if (url.startsWith('data:')) {
    const match = /^data:([^;,]*)(?:;[^,]*)?;base64,(.*)$/s.exec(url);
    if (!match) throw new GatewayError('invalid_request', 'Image data URLs must be base64-encoded', { param });
    return { inlineData: { mimeType: match[1] || 'application/octet-stream', data: match[2]! } };
  }
  if (/^(https?|gs):\/\//i.test(url)) return { fileData: { fileUri: url, mimeType: mimeTypeFromUrl(url) } };
  throw new GatewayError('invalid_request', 'Image URLs must use https, http, gs or data', { param });
}

const EXTENSIONS: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  heic: 'image/heic',
  heif: 'image/heif',
};

function mimeTypeFromUrl(url: string): string {
  let path = url;
  try {
    path = new URL(url).pathname;
  } catch {
    // gs:// and odd URLs: use the raw text.
  }
  const extension = /\.([a-z0-9]+)$/i.exec(path)?.[1]?.toLowerCase();
  return (extension && EXTENSIONS[extension]) || 'image/jpeg';
}
