import type { ImageGenerateParamsNonStreaming, ImagesResponse } from 'openai/resources/images';
import type { MediaMeter } from '../../billing/media-cost.ts';
import { IMAGE_TYPES, readInputFile, uploadName } from './input-files.ts';
import type { MediaAdapter, MediaCall, MediaOutcome } from './media-adapter.ts';
import { decodeBase64, multipartBody, sniffContentType } from './media-http.ts';
import type { ImageInput, MediaInput } from './media-input.ts';
import { unsupported } from './media-input.ts';
import { malformed, openAIJSON, openAIModelName } from './openai-media-call.ts';

/**
 * OpenAI Images: `POST /v1/images/generations` (JSON), or `POST /v1/images/edits` (multipart, the input image as
 * `image`) when the input names an image. Images come back as base64 (`b64_json`): GPT image models always
 * answer so (and refuse `response_format`), DALL·E models are asked to. gpt-image models report usage in tokens
 * (text and image input, image output), priced by the price library; DALL·E is priced per image by size and
 * quality.
 * @see https://platform.openai.com/docs/api-reference/images/create
 * @see https://platform.openai.com/docs/api-reference/images/createEdit
 */

const GPT_IMAGE_SIZES = ['1024x1024', '1536x1024', '1024x1536'];
const DALLE3_SIZES = ['1024x1024', '1792x1024', '1024x1792'];
const DALLE2_SIZES = ['256x256', '512x512', '1024x1024'];

/**
 * Output tokens of one gpt-image-1 image by quality and size, OpenAI's published table: what a run is held at and
 * what it is charged when an answer carries no usage.
 * @see https://platform.openai.com/docs/guides/image-generation#cost-and-latency
 */
const GPT_IMAGE_OUTPUT_TOKENS: Record<string, Record<string, number>> = {
  low: { '1024x1024': 272, '1024x1536': 408, '1536x1024': 400 },
  medium: { '1024x1024': 1056, '1024x1536': 1584, '1536x1024': 1568 },
  high: { '1024x1024': 4160, '1024x1536': 6240, '1536x1024': 6208 },
};
/** The most input image tokens one edit is held at (a high-fidelity input image). */
const MAX_INPUT_IMAGE_TOKENS = 10_000;
const MAX_EDIT_IMAGE_BYTES = 50 * 1024 * 1024;

type Family = 'gpt-image' | 'dall-e-3' | 'dall-e-2';
function familyOf(model: { name: string; upstreamName: string }): Family {
  const name = openAIModelName(model);
  if (name.startsWith('dall-e-3')) return 'dall-e-3';
  if (name.startsWith('dall-e-2')) return 'dall-e-2';
  return 'gpt-image';
}

function outputTokens(quality: string | undefined, size: string | undefined): number {
  const table = GPT_IMAGE_OUTPUT_TOKENS[quality && quality in GPT_IMAGE_OUTPUT_TOKENS ? quality : 'high']!;
  return size && table[size] !== undefined ? table[size] : Math.max(...Object.values(table));
}

export const openAIImages: MediaAdapter = {
  check(media, { model }) {
    if (media.kind !== 'image') throw unsupported('prompt', `${model.id} makes images only`);
    const input = media.input;
    const family = familyOf(model);
    const sizes = family === 'gpt-image' ? GPT_IMAGE_SIZES : family === 'dall-e-3' ? DALLE3_SIZES : DALLE2_SIZES;
    if (input.size && !sizes.includes(input.size)) {
      throw unsupported('size', `'input.size': ${model.id} makes ${sizes.join(', ')}`);
    }
    if (family === 'dall-e-3' && (input.n ?? 1) > 1)
      throw unsupported('n', `'input.n': ${model.id} makes one image a run`);
    if (family === 'dall-e-3' && input.image)
      throw unsupported('image', `'input.image': ${model.id} cannot edit images`);
    const qualities =
      family === 'gpt-image'
        ? ['low', 'medium', 'high', 'auto']
        : family === 'dall-e-3'
          ? ['standard', 'hd']
          : ['standard'];
    if (input.quality && !qualities.includes(input.quality)) {
      throw unsupported('quality', `'input.quality': ${model.id} takes ${qualities.join(', ')}`);
    }
  },

  worstMeter(media, { model }) {
    const input = media.input as ImageInput;
    const n = input.n ?? 1;
    if (familyOf(model) !== 'gpt-image') return { images: n, size: input.size, quality: input.quality };
    return {
      images: n,
      textInputTokens: input.prompt.length,
      imageInputTokens: input.image ? MAX_INPUT_IMAGE_TOKENS : 0,
      outputTokens: n * outputTokens(input.quality, input.size),
    };
  },

  async run(media: MediaInput, call: MediaCall): Promise<MediaOutcome> {
    const input = media.input as ImageInput;
    const model = call.target.model;
    const family = familyOf(model);
    const fields: Record<string, string | undefined> = {
      model: model.upstreamName,
      prompt: input.prompt,
      ...(input.n !== undefined ? { n: String(input.n) } : {}),
      ...(input.size ? { size: input.size } : {}),
      ...(input.quality ? { quality: input.quality } : {}),
      ...(family === 'gpt-image' ? {} : { response_format: 'b64_json' }),
    };
    /** The answer as OpenAI types it; each field is still checked before use (a provider may differ). */
    let json: Partial<ImagesResponse>;
    if (input.image) {
      const file = await readInputFile(call, input.image, 'image', {
        types: IMAGE_TYPES,
        maxBytes: MAX_EDIT_IMAGE_BYTES,
        what: 'PNG, JPEG or WebP images',
      });
      const form = await multipartBody({
        ...fields,
        image: { bytes: file.bytes, contentType: file.meta.contentType, filename: uploadName(file.meta, 'image') },
      });
      json = await openAIJSON<ImagesResponse>(call, 'images/edits', form.body, form.contentType);
    } else {
      const body: ImageGenerateParamsNonStreaming = {
        model: model.upstreamName,
        prompt: input.prompt,
        ...(input.n !== undefined ? { n: input.n } : {}),
        ...(input.size ? { size: input.size } : {}),
        ...(input.quality ? { quality: input.quality } : {}),
        ...(family === 'gpt-image' ? {} : { response_format: 'b64_json' as const }),
      };
      json = await openAIJSON<ImagesResponse>(call, 'images/generations', JSON.stringify(body));
    }
    const data = json.data;
    if (!Array.isArray(data) || data.length === 0) throw malformed(call, 'no images');
    const declared = `image/${typeof json.output_format === 'string' ? json.output_format : 'png'}`;
    const files = data.map((entry) => {
      const bytes = decodeBase64(entry?.b64_json, call, 'an image');
      return { bytes, contentType: sniffContentType(bytes, declared) };
    });
    const revised = data.map((entry) => entry?.revised_prompt).filter((p) => typeof p === 'string');
    const size = typeof json.size === 'string' ? json.size : input.size;
    const quality = typeof json.quality === 'string' ? json.quality : input.quality;
    return {
      files,
      meter: meterOf(json, family, files.length, size, quality, input),
      ...(revised.length > 0 ? { data: { revised_prompt: revised[0] } } : {}),
    };
  },
};

function meterOf(
  json: Partial<ImagesResponse>,
  family: Family,
  images: number,
  size: string | undefined,
  quality: string | undefined,
  input: ImageInput,
): MediaMeter {
  if (family !== 'gpt-image') return { images, size: size ?? '1024x1024', quality: quality ?? 'standard' };
  const usage = json.usage;
  const details = usage?.input_tokens_details;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);
  const output = num(usage?.output_tokens);
  if (!usage || output === undefined) {
    // No usage reported: OpenAI's own table for the images made (and the prompt at one token a character).
    return { images, textInputTokens: input.prompt.length, outputTokens: images * outputTokens(quality, size) };
  }
  const inputTokens = num(usage.input_tokens) ?? 0;
  const imageTokens = num(details?.image_tokens) ?? 0;
  return {
    images,
    textInputTokens: num(details?.text_tokens) ?? Math.max(0, inputTokens - imageTokens),
    imageInputTokens: imageTokens,
    outputTokens: output,
  };
}
