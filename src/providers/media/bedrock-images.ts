import { GatewayError } from '../../core/errors.ts';
import { bedrockRegion, invokeUrl } from '../bedrock/bedrock-endpoint.ts';
import { bedrockErrorMapper } from '../bedrock/map-bedrock-error.ts';
import { authorizeBedrockRequest } from '../bedrock/sign-bedrock-request.ts';
import { upstreamJSON } from '../http.ts';
import { IMAGE_TYPES, readInputFile } from './input-files.ts';
import type { MediaAdapter, MediaCall, MediaOutcome, ProducedFile } from './media-adapter.ts';
import { decodeBase64, mediaRequest, sniffContentType } from './media-http.ts';
import type { ImageInput, MediaInput } from './media-input.ts';
import { unsupported } from './media-input.ts';
import { malformed } from './openai-media-call.ts';

/**
 * Bedrock image models through InvokeModel (`POST /model/{modelId}/invoke`, SigV4-signed like Converse, or a
 * Bedrock API key), each family in its own body:
 * - Amazon Nova Canvas and Titan Image Generator: `{taskType: 'TEXT_IMAGE', textToImageParams: {text},
 *   imageGenerationConfig: {numberOfImages, width, height, quality}}`, or `IMAGE_VARIATION` with
 *   `imageVariationParams: {text, images: [base64]}` for an input image → `{images: [base64], error}`.
 *   `quality: hd` is Bedrock's `premium`. Priced per image by quality and size class (up to 1024 px, up to
 *   2048 px; Titan: up to 512 px, above).
 * - Stability (SD3.5 Large, Stable Image Ultra and Core): `{prompt, aspect_ratio, output_format: 'png', mode}`
 *   (SD3.5: `image-to-image` with `image` and `strength` for an input image) → `{images, finish_reasons, seeds}`,
 *   one image a call. A `finish_reasons` entry naming a filter is content_filtered.
 * Errors go through the Bedrock table (bedrock/map-bedrock-error.ts): a prompt blocked by content filters is
 * content_filtered.
 * @see https://docs.aws.amazon.com/nova/latest/userguide/image-gen-req-resp-structure.html
 * @see https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-image.html
 * @see https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-diffusion-3-5-large.html
 */

type Family = 'amazon' | 'stability';
const STABILITY_ASPECTS = ['16:9', '1:1', '21:9', '2:3', '3:2', '4:5', '5:4', '9:16', '9:21'];
const MAX_INPUT_IMAGE_BYTES = 10 * 1024 * 1024;

export function bedrockImageFamily(modelId: string): Family | undefined {
  if (/(^|\.)amazon\.(nova-canvas|titan-image-generator)/.test(modelId)) return 'amazon';
  if (/(^|\.)stability\./.test(modelId)) return 'stability';
  return undefined;
}

function dimensions(size: string | undefined): [number, number] {
  return (size ?? '1024x1024').split('x').map(Number) as [number, number];
}

/** The size class Bedrock prices by: Titan by 512 px, Nova Canvas by 1024 and 2048 px. */
function sizeClass(modelId: string, size: string | undefined): string {
  const side = Math.max(...dimensions(size));
  if (/titan-image/.test(modelId)) return side <= 512 ? '512' : '1024';
  return side <= 1024 ? '1024' : '2048';
}

function stabilityAspect(size: string): string | undefined {
  const [w, h] = dimensions(size);
  const ratio = (aspect: string) => {
    const [a, b] = aspect.split(':').map(Number) as [number, number];
    return a / b;
  };
  const best = STABILITY_ASPECTS.reduce((x, y) => (Math.abs(ratio(y) - w / h) < Math.abs(ratio(x) - w / h) ? y : x));
  return Math.abs(ratio(best) - w / h) / ratio(best) <= 0.03 ? best : undefined;
}

const premium = (quality: string | undefined) => (quality === 'hd' || quality === 'high' ? 'premium' : 'standard');

export const bedrockImages: MediaAdapter = {
  check(media, { model }) {
    const family = bedrockImageFamily(model.upstreamName);
    if (media.kind !== 'image' || !family)
      throw unsupported('prompt', `${model.id} is not a Bedrock image model Modro runs`);
    const input = media.input;
    if (family === 'amazon') {
      if ((input.n ?? 1) > 5) throw unsupported('n', `'input.n': ${model.id} makes at most 5 images a run`);
      const [w, h] = dimensions(input.size);
      if (w % 16 !== 0 || h % 16 !== 0 || Math.min(w, h) < 320 || Math.max(w, h) > 4096) {
        throw unsupported('size', `'input.size': ${model.id} makes sides of 320 to 4096 pixels, multiples of 16`);
      }
      if (input.quality && !['standard', 'hd'].includes(input.quality)) {
        throw unsupported('quality', `'input.quality': ${model.id} takes standard or hd`);
      }
      return;
    }
    if ((input.n ?? 1) > 4) throw unsupported('n', `'input.n': ${model.id} makes at most 4 images a run`);
    if (input.size && !stabilityAspect(input.size)) {
      throw unsupported('size', `'input.size': ${model.id} makes aspect ratios ${STABILITY_ASPECTS.join(', ')}`);
    }
    if (input.quality) throw unsupported('quality', `'input.quality': ${model.id} has no quality setting`);
    if (input.image && !/sd3-5/.test(model.upstreamName)) {
      throw unsupported('image', `'input.image': ${model.id} makes images from text only`);
    }
  },
  worstMeter(media, { model }) {
    const input = media.input as ImageInput;
    return { images: input.n ?? 1, size: sizeClass(model.upstreamName, input.size), quality: premium(input.quality) };
  },
  async run(media: MediaInput, call: MediaCall): Promise<MediaOutcome> {
    const input = media.input as ImageInput;
    const modelId = call.target.model.upstreamName;
    const image = input.image
      ? Buffer.from(
          (
            await readInputFile(call, input.image, 'image', {
              types: IMAGE_TYPES,
              maxBytes: MAX_INPUT_IMAGE_BYTES,
              what: 'PNG, JPEG or WebP images',
            })
          ).bytes,
        ).toString('base64')
      : undefined;
    const meter = { images: 0, size: sizeClass(modelId, input.size), quality: premium(input.quality) };
    const files: ProducedFile[] = [];
    if (bedrockImageFamily(modelId) === 'amazon') {
      const [width, height] = dimensions(input.size);
      const body = {
        taskType: image ? 'IMAGE_VARIATION' : 'TEXT_IMAGE',
        ...(image
          ? { imageVariationParams: { text: input.prompt, images: [image] } }
          : { textToImageParams: { text: input.prompt } }),
        imageGenerationConfig: { numberOfImages: input.n ?? 1, width, height, quality: meter.quality },
      };
      const json = await invoke(call, body);
      if (typeof json['error'] === 'string' && json['error'] !== '') {
        throw new GatewayError(
          'content_filtered',
          `Upstream ${call.target.provider.id} refused the image: ${json['error'].slice(0, 200)}`,
        );
      }
      for (const b64 of Array.isArray(json['images']) ? json['images'] : []) files.push(decoded(b64, call));
    } else {
      const body: Record<string, unknown> = { prompt: input.prompt, output_format: 'png' };
      if (image) Object.assign(body, { mode: 'image-to-image', image, strength: 0.7 });
      else {
        body['mode'] = 'text-to-image';
        if (input.size) body['aspect_ratio'] = stabilityAspect(input.size);
      }
      for (let i = 0; i < (input.n ?? 1); i++) {
        const json = await invoke(call, body);
        const reason = Array.isArray(json['finish_reasons']) ? json['finish_reasons'][0] : null;
        if (typeof reason === 'string' && reason !== '') {
          throw new GatewayError(
            'content_filtered',
            `Upstream ${call.target.provider.id} withheld the image (${reason.slice(0, 100)})`,
          );
        }
        const first = Array.isArray(json['images']) ? json['images'][0] : undefined;
        if (first !== undefined) files.push(decoded(first, call));
      }
    }
    if (files.length === 0) throw malformed(call, 'no images');
    meter.images = files.length;
    return { files, meter };
  },
};

function decoded(b64: unknown, call: MediaCall): ProducedFile {
  const bytes = decodeBase64(b64, call, 'an image');
  return { bytes, contentType: sniffContentType(bytes, 'image/png') };
}

async function invoke(call: MediaCall, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { provider, model, key } = call.target;
  const url = invokeUrl(provider, model.upstreamName);
  const bytes = Buffer.from(JSON.stringify(body), 'utf8');
  const headers = await authorizeBedrockRequest({
    url,
    body: bytes,
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    key,
    region: bedrockRegion(provider),
  });
  return (await upstreamJSON(mediaRequest(call, { url, headers, body: bytes }), bedrockErrorMapper(provider.id))).json;
}
