import { describeKind } from './descriptor.ts';
import { embeddingModel, FULL, knownModel, mediaModel, REASONING } from './known-model.ts';

/**
 * The built-in demo provider (answers in-process, demo/adapter.ts): three chat models, one per tier, priced apart
 * so routing and cost are visible, a deterministic embedding model (demo/embeddings.ts), and a free image and
 * speech model for executions (demo/media.ts): a solid-colour PNG named by the prompt, a short tone as WAV.
 */
export const demo = describeKind({
  id: 'demo',
  wire: 'demo',
  defaultBaseUrl: '',
  local: true,
  models: [
    { ...knownModel('demo-utility', 32_768, 4_096, FULL, 52), price: { input: 0.1, output: 0.4 } },
    { ...knownModel('demo-fast', 128_000, 16_384, FULL, 70), price: { input: 1, output: 4 } },
    { ...knownModel('demo-deep', 200_000, 32_768, REASONING, 90), price: { input: 5, output: 20 } },
    { ...embeddingModel('demo-embed', 8_192), price: { input: 0.02, output: 0 } },
    mediaModel('demo-image', 'image', { mediaPrice: { perImage: 0 } }),
    mediaModel('demo-speech', 'speech', { mediaPrice: { perMillionCharacters: 0 } }),
  ],
});
