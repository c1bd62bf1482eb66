import { GatewayError } from '../../core/errors.ts';
import type { FileMeta } from '../../core/execution-contracts.ts';
import type { MediaCall } from './media-adapter.ts';

/**
 * A `file_…` named in an execution's input, read from the tenant's own files (another tenant's id reads as
 * missing) and checked against what the provider takes.
 */
export async function readInputFile(
  call: MediaCall,
  id: string,
  param: string,
  accept: { types: RegExp; maxBytes: number; what: string },
): Promise<{ meta: FileMeta; bytes: Uint8Array }> {
  const file = await call.ctx.files.read(call.ctx.tenantId, id);
  if (!file) {
    throw new GatewayError('invalid_request', `'input.${param}': file ${id} does not exist`, {
      param: `input.${param}`,
    });
  }
  if (!accept.types.test(file.meta.contentType)) {
    throw new GatewayError(
      'invalid_request',
      `'input.${param}': ${call.target.model.id} takes ${accept.what}, not ${file.meta.contentType}`,
      { param: `input.${param}` },
    );
  }
  if (file.bytes.byteLength > accept.maxBytes) {
    throw new GatewayError(
      'invalid_request',
      `'input.${param}': ${call.target.model.id} takes files up to ${accept.maxBytes} bytes`,
      { param: `input.${param}`, status: 413 },
    );
  }
  return file;
}

export const IMAGE_TYPES = /^image\/(png|jpeg|webp)$/;
export const AUDIO_TYPES = /^(audio\/(flac|mpeg|mp3|mp4|m4a|x-m4a|ogg|wav|x-wav|wave|webm)|video\/(mp4|mpeg|webm))$/;

/** The file name a provider sees: the uploaded one, else one with the extension of its type. */
export function uploadName(meta: FileMeta, fallbackBase: string): string {
  if (meta.filename && /^[\w.\- ]{1,200}$/.test(meta.filename)) return meta.filename;
  const ext = meta.contentType.split('/')[1]?.replace(/^x-/, '').replace('mpeg', 'mp3') ?? 'bin';
  return `${fallbackBase}.${ext}`;
}
