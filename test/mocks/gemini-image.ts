import { solidPng } from '../../src/providers/demo/media.ts';
import { type Answer, type MediaServer, startMediaServer } from './media-server.ts';

/**
 * Gemini image output, protocol-faithful (checked by `@google/genai`'s `models.generateContent` in
 * media-mocks.test.ts): `POST /v1beta/models/{model}:generateContent` with `x-goog-api-key`, contents with a text
 * part and optionally an `inlineData` image, `generationConfig: {responseModalities: ['IMAGE'], imageConfig:
 * {aspectRatio}}` → a candidate whose parts carry the image as `inlineData` (base64 PNG), `finishReason: STOP`,
 * and `usageMetadata` by modality (1290 IMAGE tokens out, as Gemini bills an image), in the envelope of the
 * recorded `google-text.json` (modelVersion, responseId). A prompt containing `forbidden` is blocked
 * (`promptFeedback.blockReason: PROHIBITED_CONTENT`, no candidates); one containing `unsafe image` stops with
 * `IMAGE_SAFETY` and no image. Errors in Google's envelope `{error: {code, message, status}}`; `faults` answers
 * the next requests with what is queued.
 * @see https://ai.google.dev/gemini-api/docs/image-generation
 */

export const MOCK_GEMINI_MEDIA_KEY = 'AIzaMockMedia0123456789';
export const MOCK_IMAGE_TOKENS = 1290;
/** Tokens Gemini counts for an input image (258 per tile up to 384 px). */
export const MOCK_INPUT_IMAGE_TOKENS = 258;
const DIMENSIONS: Record<string, [number, number]> = {
  '1:1': [64, 64],
  '2:3': [42, 64],
  '3:2': [64, 42],
  '3:4': [48, 64],
  '4:3': [64, 48],
  '4:5': [51, 64],
  '5:4': [64, 51],
  '9:16': [36, 64],
  '16:9': [64, 36],
  '21:9': [64, 27],
};

export interface MockGeminiImage extends MediaServer {
  faults: Answer[];
}

function googleError(code: number, status: string, message: string): Answer {
  return { status: code, body: { error: { code, message, status } } };
}

export async function startMockGeminiImage(): Promise<MockGeminiImage> {
  let sequence = 0;
  const state = { faults: [] as Answer[] } as MockGeminiImage;
  const server = await startMediaServer(async (req) => {
    if (req.headers['x-goog-api-key'] !== MOCK_GEMINI_MEDIA_KEY) {
      return googleError(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.');
    }
    const fault = state.faults.shift();
    if (fault) return fault;
    const match = /^\/v1(?:beta)?\/models\/(gemini-[\w.-]+-image[\w.-]*):generateContent$/.exec(
      req.path.split('?')[0]!,
    );
    if (!match || req.method !== 'POST') {
      return googleError(404, 'NOT_FOUND', `models/${req.path.split('/').at(-1)} is not found for API version v1beta`);
    }
    const contents = req.json?.['contents'];
    const parts = (Array.isArray(contents) ? (contents.at(-1) as Record<string, unknown>)?.['parts'] : undefined) as
      | Array<Record<string, unknown>>
      | undefined;
    const text = parts?.map((p) => (typeof p['text'] === 'string' ? p['text'] : '')).join(' ') ?? '';
    if (!parts || text.trim() === '') {
      return googleError(400, 'INVALID_ARGUMENT', '* GenerateContentRequest.contents: contents is not specified');
    }
    const images = parts.filter((p) => p['inlineData']).length;
    const config = (req.json?.['generationConfig'] ?? {}) as Record<string, unknown>;
    const aspect = String((config['imageConfig'] as Record<string, unknown> | undefined)?.['aspectRatio'] ?? '1:1');
    const dims = DIMENSIONS[aspect];
    if (!dims) return googleError(400, 'INVALID_ARGUMENT', `Unsupported aspect ratio: ${aspect}`);
    const textTokens = text.split(/\s+/).filter(Boolean).length;
    const promptTokensDetails = [
      { modality: 'TEXT', tokenCount: textTokens },
      ...(images > 0 ? [{ modality: 'IMAGE', tokenCount: images * MOCK_INPUT_IMAGE_TOKENS }] : []),
    ];
    const promptTokenCount = textTokens + images * MOCK_INPUT_IMAGE_TOKENS;
    sequence += 1;
    const envelope = { modelVersion: match[1], responseId: `mockImg${sequence}` };
    if (text.includes('forbidden')) {
      return {
        status: 200,
        body: {
          promptFeedback: { blockReason: 'PROHIBITED_CONTENT' },
          usageMetadata: { promptTokenCount, totalTokenCount: promptTokenCount, promptTokensDetails },
          ...envelope,
        },
      };
    }
    const modalities = (config['responseModalities'] as string[] | undefined) ?? ['TEXT', 'IMAGE'];
    const unsafe = text.includes('unsafe image');
    const png = await solidPng(dims[0], dims[1], [sequence * 30, 120, 220]);
    const outParts = [
      ...(modalities.includes('TEXT') ? [{ text: 'Here is your image.' }] : []),
      ...(unsafe ? [] : [{ inlineData: { mimeType: 'image/png', data: Buffer.from(png).toString('base64') } }]),
    ];
    const out = unsafe ? 0 : MOCK_IMAGE_TOKENS;
    return {
      status: 200,
      body: {
        candidates: [
          {
            content: { parts: outParts, role: 'model' },
            finishReason: unsafe ? 'IMAGE_SAFETY' : 'STOP',
            index: 0,
          },
        ],
        usageMetadata: {
          promptTokenCount,
          candidatesTokenCount: out,
          totalTokenCount: promptTokenCount + out,
          promptTokensDetails,
          ...(out > 0 ? { candidatesTokensDetails: [{ modality: 'IMAGE', tokenCount: out }] } : {}),
        },
        ...envelope,
      },
    };
  });
  return Object.assign(state, server);
}
