import type { Video } from 'openai/resources/videos';
import { GatewayError } from '../../core/errors.ts';
import { safeUpstreamMessage } from '../../core/redact.ts';
import { endpoint, familyMember } from '../openai-compatible/openai-endpoint.ts';
import { IMAGE_TYPES, readInputFile, uploadName } from './input-files.ts';
import type { MediaAdapter, MediaCall, MediaOutcome } from './media-adapter.ts';
import {
  cancelInBackground,
  cancelUpstreamJob,
  keptForNextRun,
  mediaRequest,
  multipartBody,
  pause,
  recordJob,
  sniffContentType,
} from './media-http.ts';
import type { MediaInput, VideoInput } from './media-input.ts';
import { unsupported } from './media-input.ts';
import { errorMapper, malformed, openAIBytes, openAIJSON } from './openai-media-call.ts';

/**
 * OpenAI's videos API (Sora), a long-running job: `POST /v1/videos` (multipart: `model`, `prompt`, `seconds`,
 * `size`, the first frame as `input_reference`) → a `video` object `queued`; `GET /v1/videos/{id}` is polled until
 * `completed` or `failed`; `GET /v1/videos/{id}/content` is the MP4. A cancelled or timed-out execution stops
 * polling at once and deletes the job (`DELETE /v1/videos/{id}`, best effort). The job is recorded on the execution
 * before its first poll (decision 0038): a retry after a failed poll, or a restart after a crash, resumes the same
 * job. Priced per second of video.
 * @see https://platform.openai.com/docs/api-reference/videos
 */

const SECONDS = [4, 8, 12];
const SIZES = ['720x1280', '1280x720', '1024x1792', '1792x1024'];
/**
 * Azure serves Sora 2 in portrait and landscape 720p only; a larger size would be its 400 at run time, after the
 * hold, so it is refused at submission instead.
 * @see https://learn.microsoft.com/azure/ai-foundry/openai/concepts/video-generation
 */
const AZURE_SIZES = ['720x1280', '1280x720'];
const DEFAULT_SECONDS = 4;
const MAX_REFERENCE_BYTES = 20 * 1024 * 1024;

export const openAIVideos: MediaAdapter = {
  check(media, { model, provider }) {
    if (media.kind !== 'video') throw unsupported('prompt', `${model.id} makes videos only`);
    const input = media.input;
    if (input.duration !== undefined && !SECONDS.includes(input.duration)) {
      throw unsupported('duration', `'input.duration': ${model.id} makes videos of ${SECONDS.join(', ')} seconds`);
    }
    const sizes = provider.kind === 'azure' ? AZURE_SIZES : SIZES;
    if (input.size && !sizes.includes(input.size)) {
      throw unsupported('size', `'input.size': ${model.id} makes ${sizes.join(', ')}`);
    }
  },
  worstMeter(media) {
    const input = media.input as VideoInput;
    return { seconds: input.duration ?? DEFAULT_SECONDS, size: input.size };
  },
  cancelJob: (call, id) => deleteJob(call, id),
  async run(media: MediaInput, call: MediaCall): Promise<MediaOutcome> {
    const input = media.input as VideoInput;
    let video = await resumed(call);
    if (!video) {
      const reference = input.image
        ? await readInputFile(call, input.image, 'image', {
            types: IMAGE_TYPES,
            maxBytes: MAX_REFERENCE_BYTES,
            what: 'PNG, JPEG or WebP images',
          })
        : undefined;
      const form = await multipartBody({
        model: call.target.model.upstreamName,
        prompt: input.prompt,
        seconds: String(input.duration ?? DEFAULT_SECONDS),
        size: input.size,
        input_reference: reference
          ? {
              bytes: reference.bytes,
              contentType: reference.meta.contentType,
              filename: uploadName(reference.meta, 'frame'),
            }
          : undefined,
      });
      video = await openAIJSON<Video>(call, 'videos', form.body, form.contentType);
    }
    const id = video.id;
    if (typeof id !== 'string' || !/^[\w-]{1,128}$/.test(id)) throw malformed(call, 'a video job without an id');
    if (id !== call.job.resume) await recordJob(call, id, () => cancelInBackground(deleteJob(call, id)));
    try {
      while (video.status === 'queued' || video.status === 'in_progress') {
        await pause(call.settings.pollIntervalMs, call.ctx.signal);
        video = await openAIJSON<Video>(call, `videos/${id}`, undefined);
      }
    } catch (err) {
      // Cancelled or out of time: the job is abandoned (by the execution's end when it is on the row). Anything
      // else (a failed poll) leaves it to a retry.
      if (call.ctx.signal.aborted && !keptForNextRun(call)) {
        await call.job.clear();
        cancelInBackground(deleteJob(call, id));
      }
      throw err;
    }
    if (video.status !== 'completed') {
      await call.job.clear();
      throw jobFailed(call, video);
    }
    // Kept until the video is downloaded: a retry after a failed download downloads the same video.
    const content = await openAIBytes(call, `videos/${id}/content`);
    if (content.bytes.byteLength === 0) throw malformed(call, 'an empty video');
    const seconds = Number(video.seconds ?? input.duration ?? DEFAULT_SECONDS);
    const size = typeof video.size === 'string' ? video.size : input.size;
    return {
      files: [
        { bytes: content.bytes, contentType: sniffContentType(content.bytes, content.contentType ?? 'video/mp4') },
      ],
      meter: { seconds: Number.isFinite(seconds) ? seconds : DEFAULT_SECONDS, size },
      data: { seconds, ...(size ? { size } : {}) },
    };
  },
};

/** The job an earlier attempt of this execution started here, as it is now; undefined when there is none. */
async function resumed(call: MediaCall): Promise<Partial<Video> | undefined> {
  const id = call.job.resume;
  if (!id) return undefined;
  try {
    return await openAIJSON<Video>(call, `videos/${id}`, undefined);
  } catch (err) {
    // Gone (expired, or another account's key): start afresh.
    if (err instanceof GatewayError && err.code === 'not_found') {
      await call.job.clear();
      return undefined;
    }
    throw err;
  }
}

/** A job that ended `failed`: moderation is content_filtered (final); anything else may succeed on a retry. */
function jobFailed(call: MediaCall, video: Partial<Video>): GatewayError {
  const error = (video.error ?? {}) as Record<string, unknown>;
  const code = typeof error['code'] === 'string' ? error['code'] : '';
  const said = safeUpstreamMessage(error['message'], call.target.key.secret);
  const label = call.target.provider.id;
  if (/moderation|content_policy|content_?filter|safety/i.test(`${code} ${said ?? ''}`)) {
    return new GatewayError('content_filtered', `Upstream ${label} refused the content${said ? `: ${said}` : ''}`);
  }
  if (video.status !== 'failed') return malformed(call, `a video job in status ${String(video.status).slice(0, 32)}`);
  return new GatewayError('provider_unavailable', `Upstream ${label} video job failed${said ? `: ${said}` : ''}`);
}

/**
 * Deletes an abandoned job so it stops running (and costing): `DELETE /v1/videos/{id}` with the key that created it,
 * under its own short deadline; a job already gone (404) counts as deleted.
 * @see https://platform.openai.com/docs/api-reference/videos/delete
 */
function deleteJob(call: MediaCall, id: string): Promise<void> {
  const { url, headers } = endpoint(call.target, familyMember(call.target), `videos/${id}`);
  delete headers['content-type'];
  return cancelUpstreamJob(mediaRequest(call, { url, headers, method: 'DELETE' }), errorMapper(call));
}
