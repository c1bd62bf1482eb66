import { GatewayError } from '../../core/errors.ts';
import { geminiEndpoint } from '../gemini/gemini-endpoint.ts';
import { mapGeminiError } from '../gemini/map-gemini-error.ts';
import { errorTableMapper, upstreamJSON } from '../http.ts';
import type { MediaAdapter, MediaCall, MediaOutcome } from './media-adapter.ts';
import { decodeBase64, mediaRequest, sniffContentType } from './media-http.ts';
import type { ImageInput, MediaInput } from './media-input.ts';
import { unsupported } from './media-input.ts';
import { malformed } from './openai-media-call.ts';

/**
 * Imagen on the Gemini API: `POST {base}/v1beta/models/{model}:predict` with the key in `x-goog-api-key`,
 * `{instances: [{prompt}], parameters: {sampleCount, aspectRatio, sampleImageSize}}` →
 * `{predictions: [{bytesBase64Encoded, mimeType} | {raiFilteredReason}]}`. `size` becomes the nearest of
 * Imagen's aspect ratios (and `2K` above 1024 pixels); editing an input image is Vertex-only, so refused here.
 * Errors go through the Gemini table (gemini/map-gemini-error.ts). Priced per image (kinds/gemini.ts).
 * @see https://ai.google.dev/gemini-api/docs/imagen
 * @see https://ai.google.dev/api/models#method:-models.predict
 */

const RATIOS: Array<[string, number]> = [
  ['1:1', 1],
  ['3:4', 3 / 4],
  ['4:3', 4 / 3],
  ['9:16', 9 / 16],
  ['16:9', 16 / 9],
];
const MAX_IMAGES = 4;

/** Imagen's aspect ratio for `WxH` (within 5%), or undefined. */
export function imagenAspectRatio(size: string): string | undefined {
  const [w, h] = size.split('x').map(Number) as [number, number];
  const ratio = w / h;
  const best = RATIOS.reduce((a, b) => (Math.abs(b[1] - ratio) < Math.abs(a[1] - ratio) ? b : a));
  return Math.abs(best[1] - ratio) / best[1] <= 0.05 ? best[0] : undefined;
}

export const imagen: MediaAdapter = {
  check(media, { model }) {
    if (media.kind !== 'image') throw unsupported('prompt', `${model.id} makes images only`);
    const input = media.input;
    if (input.image) throw unsupported('image', `'input.image': ${model.id} cannot edit images on the Gemini API`);
    if ((input.n ?? 1) > MAX_IMAGES)
      throw unsupported('n', `'input.n': ${model.id} makes at most ${MAX_IMAGES} images a run`);
    if (input.size && !imagenAspectRatio(input.size)) {
      throw unsupported('size', `'input.size': ${model.id} makes aspect ratios ${RATIOS.map(([r]) => r).join(', ')}`);
    }
    if (input.quality) throw unsupported('quality', `'input.quality': ${model.id} has no quality setting`);
  },
  worstMeter: (media) => ({ images: (media.input as ImageInput).n ?? 1 }),
  async run(media: MediaInput, call: MediaCall): Promise<MediaOutcome> {
    const input = media.input as ImageInput;
    const parameters: Record<string, unknown> = { sampleCount: input.n ?? 1 };
    if (input.size) {
      parameters['aspectRatio'] = imagenAspectRatio(input.size);
      const [w, h] = input.size.split('x').map(Number) as [number, number];
      if (Math.max(w, h) > 1024 && !call.target.model.upstreamName.includes('fast'))
        parameters['sampleImageSize'] = '2K';
    }
    const { url, headers } = geminiEndpoint(call.target, false, 'predict');
    const body = JSON.stringify({ instances: [{ prompt: input.prompt }], parameters });
    const { json } = await upstreamJSON(
      mediaRequest(call, { url, headers, body }),
      errorTableMapper(mapGeminiError, call.target.provider.id, call.target.key.secret),
    );
    const predictions = Array.isArray(json['predictions'])
      ? (json['predictions'] as Array<Record<string, unknown>>)
      : [];
    const images = predictions.filter((p) => typeof p?.['bytesBase64Encoded'] === 'string');
    if (images.length === 0) {
      const filtered = predictions.find((p) => typeof p?.['raiFilteredReason'] === 'string');
      if (filtered || predictions.length === 0) {
        // Imagen answers 200 with no predictions when its safety filter removed every image.
        throw new GatewayError(
          'content_filtered',
          `Upstream ${call.target.provider.id} filtered every image of the prompt`,
        );
      }
      throw malformed(call, 'no images');
    }
    const files = images.map((p) => {
      const bytes = decodeBase64(p['bytesBase64Encoded'], call, 'an image');
      return {
        bytes,
        contentType: sniffContentType(bytes, typeof p['mimeType'] === 'string' ? p['mimeType'] : undefined),
      };
    });
    const enhanced = images.find((p) => typeof p['prompt'] === 'string')?.['prompt'];
    return {
      files,
      meter: { images: files.length },
      ...(typeof enhanced === 'string' ? { data: { revised_prompt: enhanced } } : {}),
    };
  },
};
