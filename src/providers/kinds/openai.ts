import { OPENAI_REASONING_MODELS, openAIQuirks } from '../openai-compatible/quirks.ts';
import { describeKind } from './descriptor.ts';
import { embeddingModel, FULL, knownModel, mediaModel, REASONING } from './known-model.ts';

/** @see https://platform.openai.com/docs/api-reference/chat/create */
export const openai = describeKind({
  id: 'openai',
  wire: 'openai-compatible',
  defaultBaseUrl: 'https://api.openai.com/v1',
  env: { keys: ['OPENAI_API_KEY'] },
  // `sk-proj-`, `sk-svcacct-`, ... all start with `sk-`.
  byok: { prefixes: ['sk-'] },
  priceProvider: 'openai',
  quirks: openAIQuirks({ reasoningModelPattern: OPENAI_REASONING_MODELS, responsesApi: true }),
  models: [
    knownModel('gpt-5-nano', 400_000, 128_000, REASONING, 58),
    knownModel('gpt-4.1-nano', 1_047_576, 32_768, FULL, 50),
    knownModel('gpt-4o-mini', 128_000, 16_384, FULL, 55),
    knownModel('gpt-4.1-mini', 1_047_576, 32_768, FULL, 68),
    knownModel('gpt-5-mini', 400_000, 128_000, REASONING, 76),
    knownModel('gpt-4.1', 1_047_576, 32_768, FULL, 78),
    knownModel('gpt-5', 400_000, 128_000, REASONING, 90),
    embeddingModel('text-embedding-3-small', 8_192),
    embeddingModel('text-embedding-3-large', 8_192),
    embeddingModel('text-embedding-ada-002', 8_192),
    // Media models (executions, src/providers/media/). gpt-image-1 and the gpt-4o transcribers are metered in
    // tokens and whisper-1 per audio hour by the price library; the others' per-unit prices are OpenAI's list
    // prices. gpt-4o-mini-tts is billed by OpenAI in tokens its speech endpoint does not report: charged here at
    // OpenAI's own estimate of $0.015 a minute, about $15 per million characters.
    // @see https://platform.openai.com/docs/pricing
    mediaModel('gpt-image-1', 'image', { qualityRank: 90 }),
    mediaModel('gpt-image-1-mini', 'image', { qualityRank: 75 }),
    mediaModel('dall-e-3', 'image', {
      qualityRank: 70,
      mediaPrice: {
        perImage: {
          '1024x1024/hd': 0.08,
          '1024x1792/hd': 0.12,
          '1792x1024/hd': 0.12,
          '1024x1024': 0.04,
          '1024x1792': 0.08,
          '1792x1024': 0.08,
        },
      },
    }),
    mediaModel('tts-1', 'speech', { mediaPrice: { perMillionCharacters: 15 } }),
    mediaModel('tts-1-hd', 'speech', { mediaPrice: { perMillionCharacters: 30 } }),
    mediaModel('gpt-4o-mini-tts', 'speech', { mediaPrice: { perMillionCharacters: 15 } }),
    mediaModel('whisper-1', 'transcription'),
    mediaModel('gpt-4o-transcribe', 'transcription'),
    mediaModel('gpt-4o-mini-transcribe', 'transcription'),
    mediaModel('sora-2', 'video', { mediaPrice: { perSecond: 0.1 } }),
    mediaModel('sora-2-pro', 'video', {
      mediaPrice: { perSecond: { '1024x1792': 0.5, '1792x1024': 0.5, '*': 0.3 } },
    }),
  ],
});
