import type { FileMeta } from '../core/execution-contracts.ts';

/**
 * A file as OpenAI's API shows it (the `OpenAIFile` schema: what the official SDK's `files.*` return), plus
 * `content_type`. Times are Unix seconds; `status` is the deprecated field the schema still requires.
 *
 * @see https://platform.openai.com/docs/api-reference/files/object
 */
export interface OpenAIFileObject {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  expires_at?: number;
  filename: string;
  purpose: string;
  status: 'processed';
  content_type: string;
}

export function toOpenAIFile(meta: FileMeta): OpenAIFileObject {
  return {
    id: meta.id,
    object: 'file',
    bytes: meta.bytes,
    created_at: Math.floor(meta.createdAt / 1000),
    ...(meta.expiresAt !== null ? { expires_at: Math.floor(meta.expiresAt / 1000) } : {}),
    filename: meta.filename ?? '',
    purpose: meta.purpose,
    status: 'processed',
    content_type: meta.contentType,
  };
}
