import { describeKind } from './descriptor.ts';
import { embeddingModel, knownModel, mediaModel, REASONING } from './known-model.ts';

/**
 * The base URL is the host root; the API version is added (gemini/gemini-endpoint.ts).
 * @see https://ai.google.dev/api/generate-content
 */
export const gemini = describeKind({
  id: 'gemini',
  wire: 'gemini',
  defaultBaseUrl: 'https://generativelanguage.googleapis.com',
  env: { keys: ['GEMINI_API_KEY', 'GOOGLE_API_KEY'] },
  byok: { prefixes: ['AIza'] },
  priceProvider: 'google',
  models: [
    knownModel('gemini-2.5-flash-lite', 1_048_576, 65_536, REASONING, 57),
    knownModel('gemini-2.5-flash', 1_048_576, 65_536, REASONING, 74),
    knownModel('gemini-2.5-pro', 1_048_576, 65_536, REASONING, 89),
    embeddingModel('gemini-embedding-001', 2_048),
    // Image output through generateContent (media/gemini-image.ts), metered in tokens and priced by the price
    // library (text in, image tokens out).
    mediaModel('gemini-2.5-flash-image', 'image', { qualityRank: 85 }),
  ],
});
