import type { Prediction } from 'replicate';
import { GatewayError } from '../../core/errors.ts';
import { errorTableMapper, type UpstreamErrorMapper, upstreamJSON } from '../http.ts';
import { descriptorOf } from '../kinds/index.ts';
import { IMAGE_TYPES, readInputFile } from './input-files.ts';
import { mapReplicateError, predictionFailed } from './map-replicate-error.ts';
import type { MediaAdapter, MediaCall, MediaOutcome, ProducedFile } from './media-adapter.ts';
import {
  cancelInBackground,
  cancelUpstreamJob,
  fetchOutput,
  keptForNextRun,
  mediaRequest,
  pause,
  recordJob,
} from './media-http.ts';
import type { ImageInput, MediaInput, VideoInput } from './media-input.ts';
import { unsupported } from './media-input.ts';
import { malformed } from './openai-media-call.ts';

/**
 * Replicate's predictions API. `upstreamName` `owner/name` → `POST /v1/models/{owner}/{name}/predictions`;
 * `owner/name:version` → `POST /v1/predictions` with `version`. `Prefer: wait=N` lets a fast model answer within
 * the creation call; otherwise `GET /v1/predictions/{id}` is polled until `succeeded`, `failed` or `canceled`.
 * Outputs are URLs (or `data:` URLs), fetched here under the output cap and never passed on; a cancelled or
 * timed-out execution stops polling and cancels the prediction (`POST /v1/predictions/{id}/cancel`, best effort);
 * the prediction is recorded on the execution before its first poll (decision 0038), so a retry after a failed poll
 * or download, or a restart after a crash, resumes the same prediction.
 * Input: `prompt`; `size` as `aspect_ratio` when it is near a standard one, else `custom` with `width` and `height`;
 * `n` as `num_outputs`; an input image as a data URL (`image_prompt` for FLUX 1.1 Pro, else `image`); video
 * `duration`. Metered as images made and Replicate's run time (`metrics.predict_time`): a model is priced per
 * image or per second of run time (mediaPrice).
 * @see https://replicate.com/docs/reference/http#predictions.create
 * @see https://replicate.com/docs/topics/predictions/create-a-prediction#sync-mode
 */

const ASPECTS = ['1:1', '16:9', '9:16', '3:2', '2:3', '4:3', '3:4', '4:5', '5:4', '21:9', '9:21'];
const DONE = new Set(['succeeded', 'failed', 'canceled', 'aborted']);
const MAX_INPUT_IMAGE_BYTES = 10 * 1024 * 1024;
/** Run time a per-second model is held at (its real run time is known only at the end). */
const HELD_RUN_SECONDS = 600;

/** The nearest of the usual aspect ratios (within 3%: FLUX's 16:9 is 1344x768), else undefined (custom). */
function aspectOf(size: string): string | undefined {
  const [w, h] = size.split('x').map(Number) as [number, number];
  const ratioOf = (aspect: string) => {
    const [a, b] = aspect.split(':').map(Number) as [number, number];
    return a / b;
  };
  const best = ASPECTS.reduce((x, y) => (Math.abs(ratioOf(y) - w / h) < Math.abs(ratioOf(x) - w / h) ? y : x));
  return Math.abs(ratioOf(best) - w / h) / ratioOf(best) <= 0.03 ? best : undefined;
}

function baseUrl(call: MediaCall): string {
  return (call.target.provider.baseUrl || descriptorOf(call.target.provider.kind).defaultBaseUrl).replace(/\/+$/, '');
}

function auth(call: MediaCall): Record<string, string> {
  return { authorization: `Bearer ${call.target.key.secret}` };
}

export const replicate: MediaAdapter = {
  check(media, { model }) {
    if (media.kind !== 'image' && media.kind !== 'video') {
      throw unsupported(
        media.kind === 'speech' ? 'input' : 'file',
        `${model.id}: Replicate models run here as image or video models`,
      );
    }
  },
  worstMeter(media, { model }) {
    const images = media.kind === 'image' ? ((media.input as ImageInput).n ?? 1) : 0;
    return { images, seconds: model.mediaPrice?.perSecond !== undefined ? HELD_RUN_SECONDS : 0 };
  },
  cancelJob: (call, id) => cancelPrediction(call, id),
  async run(media: MediaInput, call: MediaCall): Promise<MediaOutcome> {
    const base = baseUrl(call);
    const mapError = errorTableMapper(mapReplicateError, call.target.provider.id, call.target.key.secret);
    let prediction = await resumed(call, base, mapError);
    if (!prediction) {
      const input = await replicateInput(media, call);
      const [ref, version] = call.target.model.upstreamName.split(':') as [string, string | undefined];
      const url = version
        ? `${base}/predictions`
        : `${base}/models/${ref.split('/').map(encodeURIComponent).join('/')}/predictions`;
      const body = JSON.stringify(version ? { version, input } : { input });
      const headers = {
        ...auth(call),
        'content-type': 'application/json',
        accept: 'application/json',
        prefer: `wait=${call.settings.replicateWaitSeconds}`,
      };
      prediction = (await upstreamJSON(mediaRequest(call, { url, headers, body }), mapError))
        .json as Partial<Prediction>;
    }
    const id = prediction.id;
    if (typeof id !== 'string' || !/^[\w-]{1,128}$/.test(id)) throw malformed(call, 'a prediction without an id');
    if (id !== call.job.resume) {
      await recordJob(call, id, () => cancelInBackground(cancelPrediction(call, id)));
    }
    try {
      while (!DONE.has(String(prediction.status))) {
        await pause(call.settings.pollIntervalMs, call.ctx.signal);
        prediction = await get(call, `${base}/predictions/${id}`, mapError);
      }
    } catch (err) {
      // Cancelled or out of time: the prediction is abandoned (by the execution's end when it is on the row).
      // Anything else (a failed poll) leaves it to a retry.
      if (call.ctx.signal.aborted && !keptForNextRun(call)) {
        await call.job.clear();
        cancelInBackground(cancelPrediction(call, id));
      }
      throw err;
    }
    if (prediction.status !== 'succeeded') {
      await call.job.clear();
      throw predictionFailed(call.target.provider.id, prediction.error ?? prediction.status, call.target.key.secret);
    }
    const urls = outputUrls(prediction.output);
    if (urls.length === 0) throw malformed(call, 'a prediction without output files');
    const files: ProducedFile[] = [];
    // Kept until the outputs are downloaded: a retry after a failed download fetches the same outputs.
    for (const output of urls) files.push(await fetchOutput(call, output, auth(call), base));
    const metrics: Record<string, unknown> = prediction.metrics ?? {};
    const predictTime = typeof metrics['predict_time'] === 'number' ? metrics['predict_time'] : 0;
    return {
      files,
      meter: { images: media.kind === 'image' ? files.length : 0, seconds: predictTime },
      data: { predict_time: predictTime },
    };
  },
};

/** The prediction an earlier attempt of this execution started here, as it is now; undefined when there is none. */
async function resumed(
  call: MediaCall,
  base: string,
  mapError: UpstreamErrorMapper,
): Promise<Partial<Prediction> | undefined> {
  const id = call.job.resume;
  if (!id) return undefined;
  try {
    return await get(call, `${base}/predictions/${id}`, mapError);
  } catch (err) {
    if (err instanceof GatewayError && err.code === 'not_found') {
      await call.job.clear();
      return undefined;
    }
    throw err;
  }
}

/** A prediction as the replicate package types it, every field optional: each one read is checked. */
async function get(call: MediaCall, url: string, mapError: UpstreamErrorMapper): Promise<Partial<Prediction>> {
  const req = mediaRequest(call, { url, method: 'GET', headers: { ...auth(call), accept: 'application/json' } });
  return (await upstreamJSON(req, mapError)).json as Partial<Prediction>;
}

/** The output's file URLs: a string, or strings in arrays or objects (one level of nesting is usual). */
function outputUrls(output: unknown, depth = 0): string[] {
  if (typeof output === 'string') return /^(https?:|data:)/.test(output) ? [output] : [];
  if (depth > 3 || output === null || typeof output !== 'object') return [];
  const values = Array.isArray(output) ? output : Object.values(output);
  return values.flatMap((v) => outputUrls(v, depth + 1)).slice(0, 16);
}

async function replicateInput(media: MediaInput, call: MediaCall): Promise<Record<string, unknown>> {
  const input: Record<string, unknown> = { prompt: (media.input as ImageInput | VideoInput).prompt };
  const size = (media.input as ImageInput | VideoInput).size;
  if (size) {
    const aspect = aspectOf(size);
    if (aspect) input['aspect_ratio'] = aspect;
    else {
      const [w, h] = size.split('x').map(Number);
      Object.assign(input, { aspect_ratio: 'custom', width: w, height: h });
    }
  }
  if (media.kind === 'image' && media.input.n !== undefined) input['num_outputs'] = media.input.n;
  if (media.kind === 'video' && media.input.duration !== undefined) input['duration'] = media.input.duration;
  const image = (media.input as ImageInput | VideoInput).image;
  if (image) {
    const file = await readInputFile(call, image, 'image', {
      types: IMAGE_TYPES,
      maxBytes: MAX_INPUT_IMAGE_BYTES,
      what: 'PNG, JPEG or WebP images',
    });
    const field = call.target.model.upstreamName.includes('flux-1.1-pro') ? 'image_prompt' : 'image';
    input[field] = `data:${file.meta.contentType};base64,${Buffer.from(file.bytes).toString('base64')}`;
  }
  return input;
}

/**
 * Cancels an abandoned prediction so it stops running (and costing): `POST /v1/predictions/{id}/cancel` with the
 * token that created it, under its own short deadline; a prediction already gone (404) counts as cancelled.
 * @see https://replicate.com/docs/reference/http#predictions.cancel
 */
function cancelPrediction(call: MediaCall, id: string): Promise<void> {
  const url = `${baseUrl(call)}/predictions/${encodeURIComponent(id)}/cancel`;
  const req = mediaRequest(call, { url, headers: { ...auth(call), accept: 'application/json' }, body: '' });
  return cancelUpstreamJob(req, errorTableMapper(mapReplicateError, call.target.provider.id, call.target.key.secret));
}
