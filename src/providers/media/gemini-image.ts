import { GatewayError } from '../../core/errors.ts';
import { geminiEndpoint } from '../gemini/gemini-endpoint.ts';
import { mapGeminiError } from '../gemini/map-gemini-error.ts';
import { errorTableMapper, upstreamJSON } from '../http.ts';
import { IMAGE_TYPES, readInputFile } from './input-files.ts';
import type { MediaAdapter, MediaCall, MediaOutcome, ProducedFile } from './media-adapter.ts';
import { decodeBase64, mediaRequest, sniffContentType } from './media-http.ts';
import type { ImageInput, MediaInput } from './media-input.ts';
import { unsupported } from './media-input.ts';
import { malformed } from './openai-media-call.ts';

/**
 * Gemini image models (gemini-2.5-flash-image) through `POST {base}/v1beta/models/{model}:generateContent`
 * with `generationConfig.responseModalities: ['IMAGE']`: the prompt (and the input image, for an edit) as parts
 * of one user turn, the image back as an `inlineData` part. `size` becomes `imageConfig.aspectRatio` (one of
 * Gemini's ratios); one image per call, so `n` is n calls. Metered in tokens from `usageMetadata` (text in,
 * image out: `candidatesTokensDetails` by modality), priced by the price library. A blocked prompt
 * (`promptFeedback.blockReason`) or a safety stop is `content_filtered`. Errors go through the Gemini table.
 * Imagen's `:predict` is left out: the Gemini SDK serves it on Vertex AI only.
 * @see https://ai.google.dev/gemini-api/docs/image-generation
 * @see https://ai.google.dev/api/generate-content
 */

const RATIOS: Array<[string, number]> = ['1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', '21:9'].map(
  (r) => {
    const [w, h] = r.split(':').map(Number) as [number, number];
    return [r, w / h];
  },
);
const MAX_IMAGES = 4;
const MAX_INPUT_IMAGE_BYTES = 20 * 1024 * 1024;
/** Output tokens of one image (Gemini bills 1290 per image up to 1024 px), and the most a prompt is held at. */
export const GEMINI_IMAGE_TOKENS = 1_290;
const HELD_INPUT_IMAGE_TOKENS = 1_290;
const SAFETY_STOPS = new Set([
  'SAFETY',
  'PROHIBITED_CONTENT',
  'BLOCKLIST',
  'SPII',
  'RECITATION',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
  'IMAGE_RECITATION',
]);

/** Gemini's aspect ratio for `WxH` (within 5%), or undefined. */
export function geminiAspectRatio(size: string): string | undefined {
  const [w, h] = size.split('x').map(Number) as [number, number];
  const ratio = w / h;
  const best = RATIOS.reduce((a, b) => (Math.abs(b[1] - ratio) < Math.abs(a[1] - ratio) ? b : a));
  return Math.abs(best[1] - ratio) / best[1] <= 0.05 ? best[0] : undefined;
}

export const geminiImage: MediaAdapter = {
  check(media, { model }) {
    if (media.kind !== 'image') throw unsupported('prompt', `${model.id} makes images only`);
    const input = media.input;
    if ((input.n ?? 1) > MAX_IMAGES) {
      throw unsupported('n', `'input.n': ${model.id} makes at most ${MAX_IMAGES} images a run`);
    }
    if (input.size && !geminiAspectRatio(input.size)) {
      throw unsupported('size', `'input.size': ${model.id} makes aspect ratios ${RATIOS.map(([r]) => r).join(', ')}`);
    }
    if (input.quality) throw unsupported('quality', `'input.quality': ${model.id} has no quality setting`);
  },
  worstMeter(media) {
    const input = media.input as ImageInput;
    const n = input.n ?? 1;
    return {
      images: n,
      textInputTokens: n * input.prompt.length,
      imageInputTokens: input.image ? n * HELD_INPUT_IMAGE_TOKENS : 0,
      outputImageTokens: n * GEMINI_IMAGE_TOKENS,
    };
  },
  async run(media: MediaInput, call: MediaCall): Promise<MediaOutcome> {
    const input = media.input as ImageInput;
    const parts: Array<Record<string, unknown>> = [{ text: input.prompt }];
    if (input.image) {
      const file = await readInputFile(call, input.image, 'image', {
        types: IMAGE_TYPES,
        maxBytes: MAX_INPUT_IMAGE_BYTES,
        what: 'PNG, JPEG or WebP images',
      });
      parts.push({ inlineData: { mimeType: file.meta.contentType, data: Buffer.from(file.bytes).toString('base64') } });
    }
    const generationConfig: Record<string, unknown> = { responseModalities: ['IMAGE'] };
    if (input.size) generationConfig['imageConfig'] = { aspectRatio: geminiAspectRatio(input.size) };
    const body = JSON.stringify({ contents: [{ role: 'user', parts }], generationConfig });
    const { url, headers } = geminiEndpoint(call.target, false);
    const mapError = errorTableMapper(mapGeminiError, call.target.provider.id, call.target.key.secret);
    const files: ProducedFile[] = [];
    const meter = { images: 0, textInputTokens: 0, imageInputTokens: 0, outputTokens: 0, outputImageTokens: 0 };
    for (let i = 0; i < (input.n ?? 1); i++) {
      const { json } = await upstreamJSON(mediaRequest(call, { url, headers, body }), mapError);
      files.push(imageOf(json, call));
      addUsage(meter, json['usageMetadata']);
      meter.images += 1;
    }
    return { files, meter };
  },
};

function imageOf(json: Record<string, unknown>, call: MediaCall): ProducedFile {
  const label = call.target.provider.id;
  const feedback = json['promptFeedback'] as Record<string, unknown> | undefined;
  if (typeof feedback?.['blockReason'] === 'string') {
    throw new GatewayError('content_filtered', `Upstream ${label} blocked the prompt (${feedback['blockReason']})`);
  }
  const candidate = (Array.isArray(json['candidates']) ? json['candidates'][0] : undefined) as
    | Record<string, unknown>
    | undefined;
  const reason = String(candidate?.['finishReason'] ?? '');
  const parts = ((candidate?.['content'] as Record<string, unknown> | undefined)?.['parts'] ?? []) as Array<
    Record<string, unknown>
  >;
  const inline = parts.map((p) => p?.['inlineData'] as Record<string, unknown> | undefined).find((d) => d?.['data']);
  if (!inline) {
    if (SAFETY_STOPS.has(reason)) {
      throw new GatewayError('content_filtered', `Upstream ${label} withheld the image (${reason})`);
    }
    throw malformed(call, `no image${reason ? ` (${reason.slice(0, 40)})` : ''}`);
  }
  const bytes = decodeBase64(inline['data'], call, 'an image');
  return {
    bytes,
    contentType: sniffContentType(bytes, typeof inline['mimeType'] === 'string' ? inline['mimeType'] : undefined),
  };
}

/** Adds one answer's usageMetadata: prompt tokens by modality (text, image), output tokens by modality. */
function addUsage(
  meter: { textInputTokens: number; imageInputTokens: number; outputTokens: number; outputImageTokens: number },
  usage: unknown,
): void {
  const u = (usage ?? {}) as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);
  const byModality = (list: unknown) => {
    const out: Record<string, number> = {};
    if (Array.isArray(list))
      for (const d of list) out[String(d?.modality)] = (out[String(d?.modality)] ?? 0) + num(d?.tokenCount);
    return out;
  };
  const prompt = byModality(u['promptTokensDetails']);
  const output = byModality(u['candidatesTokensDetails']);
  const promptTotal = num(u['promptTokenCount']);
  const image = prompt['IMAGE'] ?? 0;
  meter.imageInputTokens += image;
  meter.textInputTokens += prompt['TEXT'] ?? Math.max(0, promptTotal - image);
  const candidates = num(u['candidatesTokenCount']);
  const outImage = output['IMAGE'] ?? (u['candidatesTokensDetails'] ? 0 : candidates);
  meter.outputImageTokens += outImage;
  meter.outputTokens += Math.max(0, candidates - outImage);
}
