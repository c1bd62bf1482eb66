/**
 * InvokeModel for the Bedrock mock's image models, in each family's native body (checked by
 * `@aws-sdk/client-bedrock-runtime`'s InvokeModelCommand in media-mocks.test.ts):
 *
 * - Amazon Nova Canvas, Titan Image Generator (`amazon.nova-canvas-v1:0`, `amazon.titan-image-generator-v2:0`):
 *   `{taskType: TEXT_IMAGE | IMAGE_VARIATION, textToImageParams | imageVariationParams, imageGenerationConfig:
 *   {numberOfImages, width, height, quality}}` → `{images: [base64 PNG], error: null}`.
 * - Stability (`stability.*`): `{prompt, mode, aspect_ratio?, output_format, image?}` → `{seeds, finish_reasons,
 *   images}`; a prompt containing `filtered output` comes back with `finish_reasons: ['Filter reason: output
 *   image']` and no usable image.
 * A prompt containing `forbidden` is refused as Bedrock does (ValidationException, blocked by content filters).
 * @see https://docs.aws.amazon.com/nova/latest/userguide/image-gen-req-resp-structure.html
 * @see https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-diffusion-3-5-large.html
 */
import { solidPng } from '../../src/providers/demo/media.ts';
import type { InvokeAnswer } from './bedrock-embeddings.ts';

type Json = Record<string, unknown>;

/** The PNG every mock image model answers (made once: InvokeModel answers are synchronous in the mock). */
export const BEDROCK_MOCK_PNG = Buffer.from(await solidPng(16, 16, [30, 60, 90]));
const B64 = BEDROCK_MOCK_PNG.toString('base64');
const BLOCKED = 'This request has been blocked by our content filters.';

export function isBedrockImageModel(modelId: string): boolean {
  return /(^|\.)amazon\.(nova-canvas|titan-image-generator)|(^|\.)stability\./.test(modelId);
}

export function answerImageInvoke(modelId: string, body: Json): InvokeAnswer {
  if (/stability\./.test(modelId)) {
    const prompt = body['prompt'];
    if (typeof prompt !== 'string' || prompt === '') {
      return {
        ok: false,
        message:
          'Malformed input request: #: required key [prompt] not found, please reformat your input and try again.',
      };
    }
    if (prompt.includes('forbidden')) return { ok: false, message: BLOCKED };
    if (body['mode'] === 'image-to-image' && typeof body['image'] !== 'string') {
      return {
        ok: false,
        message:
          'Malformed input request: #: required key [image] not found, please reformat your input and try again.',
      };
    }
    const filtered = prompt.includes('filtered output');
    return {
      ok: true,
      body: {
        seeds: [42],
        finish_reasons: [filtered ? 'Filter reason: output image' : null],
        images: [filtered ? '' : B64],
      },
      tokens: 0,
    };
  }
  const taskType = body['taskType'];
  const params = (taskType === 'IMAGE_VARIATION' ? body['imageVariationParams'] : body['textToImageParams']) as
    | Json
    | undefined;
  const text = params?.['text'];
  if ((taskType !== 'TEXT_IMAGE' && taskType !== 'IMAGE_VARIATION') || typeof text !== 'string' || text === '') {
    return {
      ok: false,
      message:
        'Malformed input request: #/taskType: TEXT_IMAGE requires textToImageParams.text, please reformat your input and try again.',
    };
  }
  if (taskType === 'IMAGE_VARIATION' && !Array.isArray(params?.['images'])) {
    return {
      ok: false,
      message:
        'Malformed input request: #/imageVariationParams: required key [images] not found, please reformat your input and try again.',
    };
  }
  if (text.includes('forbidden')) return { ok: false, message: BLOCKED };
  const config = (body['imageGenerationConfig'] ?? {}) as Json;
  const count = Number(config['numberOfImages'] ?? 1);
  if (!(count >= 1 && count <= 5)) {
    return {
      ok: false,
      message: `Malformed input request: #/imageGenerationConfig/numberOfImages: ${count} is not less or equal to 5, please reformat your input and try again.`,
    };
  }
  if (config['quality'] !== undefined && config['quality'] !== 'standard' && config['quality'] !== 'premium') {
    return {
      ok: false,
      message:
        'Malformed input request: #/imageGenerationConfig/quality: is not a valid enum value, please reformat your input and try again.',
    };
  }
  return { ok: true, body: { images: Array.from({ length: count }, () => B64), error: null }, tokens: 0 };
}
