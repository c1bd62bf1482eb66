import { describeKind } from './descriptor.ts';
import { mediaModel } from './known-model.ts';

/**
 * Replicate's predictions API (media/replicate.ts): media models only, run as executions. A catalog name is the
 * short slug (`flux-1.1-pro`), sent upstream as the model's `owner/name`; other models are listed in the
 * configuration with `upstreamName: owner/name` (or `owner/name:version`), a `mode` and a `mediaPrice` (per
 * output image, or per second of Replicate's run time).
 * @see https://replicate.com/docs/reference/http#predictions.create
 */
export const replicate = describeKind({
  id: 'replicate',
  wire: 'replicate',
  defaultBaseUrl: 'https://api.replicate.com/v1',
  env: { keys: ['REPLICATE_API_TOKEN'] },
  mediaOnly: true,
  models: [
    mediaModel('flux-1.1-pro', 'image', {
      upstreamName: 'black-forest-labs/flux-1.1-pro',
      qualityRank: 85,
      mediaPrice: { perImage: 0.04 },
    }),
    mediaModel('flux-dev', 'image', {
      upstreamName: 'black-forest-labs/flux-dev',
      qualityRank: 75,
      mediaPrice: { perImage: 0.025 },
    }),
    mediaModel('flux-schnell', 'image', {
      upstreamName: 'black-forest-labs/flux-schnell',
      qualityRank: 60,
      mediaPrice: { perImage: 0.003 },
    }),
  ],
});
