import { type CatalogModel, mediaModeOf } from '../../billing/catalog-types.ts';
import { type MediaMeter, mediaCostNanoUsd } from '../../billing/media-cost.ts';
import { GatewayError } from '../../core/errors.ts';
import type {
  ExecutionFiles,
  ExecutionModel,
  ExecutionRunner,
  ExecutionUsage,
  RunContext,
  RunResult,
} from '../../core/execution-contracts.ts';
import { demoMedia } from '../demo/media.ts';
import type { UpstreamPool } from '../http.ts';
import { descriptorOf } from '../kinds/index.ts';
import type { ProviderSpec } from '../types.ts';
import { audioSecondsBound } from './audio-duration.ts';
import { bedrockImages } from './bedrock-images.ts';
import { geminiImage } from './gemini-image.ts';
import {
  type JobHandle,
  JobMemory,
  type MediaAdapter,
  type MediaCall,
  type MediaSettings,
  type WorstFacts,
} from './media-adapter.ts';
import { cancelledError, outputFilename } from './media-http.ts';
import { type MediaInput, type MediaKind, parseMediaInput } from './media-input.ts';
import { HELD_TRANSCRIPTION_SECONDS, openAISpeech, openAITranscription } from './openai-audio.ts';
import { openAIImages } from './openai-images.ts';
import { openAIVideos } from './openai-videos.ts';
import { replicate } from './replicate.ts';

/**
 * The execution runner of media models (image, speech, transcription, video): the catalog model an execution
 * names → its provider's media adapter (by the provider kind's wire and the model's mode), the input validated
 * for the kind and the provider, the hold's estimate, and the run: produced bytes stored as the tenant's files
 * (only their ids leave), usage and market cost from the catalog's prices (billing/media-cost.ts).
 */

/** What the runner reads of the runtime's catalog (src/catalog/catalog.ts), swapped in place on reloads. */
export interface MediaCatalog {
  byId: Map<string, CatalogModel>;
  /** Bare model name → every provider serving it, cheapest first. */
  byName: Map<string, CatalogModel[]>;
  providers: Map<string, ProviderSpec>;
}

/**
 * The media models an execution's `model` slug names, in the order to try them: a catalog id (`openai/dall-e-3`)
 * is that model; a bare name (`flux-1.1-pro`) every provider serving it, cheapest first. Empty when the slug names
 * no media model (a chat model, a tier, an unknown name), so the caller can answer for its own kinds.
 */
export function mediaCandidates(catalog: MediaCatalog, slug: string): ExecutionModel[] {
  const exact = catalog.byId.get(slug);
  const models = exact ? [exact] : (catalog.byName.get(slug) ?? []);
  const out: ExecutionModel[] = [];
  for (const model of models) {
    const kind = mediaModeOf(model);
    if (kind) out.push({ id: model.id, kind });
  }
  return out;
}

export interface MediaRunnerDeps {
  /** The runtime's catalog, or a function returning the current one. */
  catalog: MediaCatalog | (() => MediaCatalog);
  /** The runtime's upstream connection pools. */
  pool: UpstreamPool;
  /**
   * The tenants' files: a transcription's hold is sized from its audio file's header and size at submission
   * (`peek`); without it, or when the file says nothing, it is held at HELD_TRANSCRIPTION_SECONDS.
   */
  files?: ExecutionFiles | undefined;
  settings?: Partial<MediaSettings>;
}

export const DEFAULT_MEDIA_SETTINGS: MediaSettings = {
  maxOutputBytes: 100 * 1024 * 1024,
  outputFetchMs: 120_000,
  pollIntervalMs: 2_000,
  replicateWaitSeconds: 60,
};

/** The purpose of files a media execution produced (the file store's `purpose`). */
export const OUTPUT_PURPOSE = 'execution_output';

const MEDIA_KINDS: readonly MediaKind[] = ['image', 'speech', 'transcription', 'video'];
/** The files of a job's cancel, which reads none. */
const NO_FILES: ExecutionFiles = {
  put: () => Promise.reject(new GatewayError('internal_error', 'Internal error: a job cancel stores no file')),
  read: async () => undefined,
};
/** Video length held when the input names none and the provider has no default of its own. */
const HELD_VIDEO_SECONDS = 12;
/** Bytes of an audio file read at submission for its header (a WAV's fmt and data chunks come first). */
const AUDIO_HEAD_BYTES = 4_096;

/** The media adapter of a provider wire for a kind, or undefined when that wire has none for it. */
function adapterFor(wire: string, kind: MediaKind): MediaAdapter | undefined {
  switch (wire) {
    case 'openai-compatible':
      return { image: openAIImages, speech: openAISpeech, transcription: openAITranscription, video: openAIVideos }[
        kind
      ];
    case 'gemini':
      return kind === 'image' ? geminiImage : undefined;
    case 'replicate':
      return replicate;
    case 'bedrock':
      return kind === 'image' ? bedrockImages : undefined;
    case 'demo':
      return kind === 'image' || kind === 'speech' ? demoMedia : undefined;
    default:
      return undefined;
  }
}

function defaultWorst(media: MediaInput, facts: WorstFacts | undefined): MediaMeter {
  switch (media.kind) {
    case 'image':
      return { images: media.input.n ?? 1, size: media.input.size, quality: media.input.quality };
    case 'speech':
      return { characters: media.input.input.length };
    case 'transcription':
      return { seconds: facts?.audioSeconds ?? HELD_TRANSCRIPTION_SECONDS };
    case 'video':
      return { seconds: media.input.duration ?? HELD_VIDEO_SECONDS, size: media.input.size };
  }
}

interface Resolved {
  model: CatalogModel;
  provider: ProviderSpec;
  kind: MediaKind;
  adapter: MediaAdapter;
  media: MediaInput;
}

/** Builds the media runner over the runtime's catalog; register it in the execution worker's registry. */
/** An execution runner with the async hold the execution service prefers (it reads the input's files). */
export interface MediaExecutionRunner extends ExecutionRunner {
  plan(
    model: ExecutionModel,
    input: unknown,
    caller: { tenantId: string },
  ): Promise<{ estimateNanoUsd: number; provider: string | null }>;
}

export function mediaRunners(deps: MediaRunnerDeps): MediaExecutionRunner[] {
  const catalog = typeof deps.catalog === 'function' ? deps.catalog : () => deps.catalog as MediaCatalog;
  const settings: MediaSettings = { ...DEFAULT_MEDIA_SETTINGS, ...deps.settings };
  const jobs = new JobMemory();

  const resolve = (execModel: ExecutionModel, input: unknown): Resolved => {
    const current = catalog();
    const model = current.byId.get(execModel.id);
    const provider = model && current.providers.get(model.provider);
    if (!model || !provider) {
      throw new GatewayError('not_found', `The model '${execModel.id}' does not exist`, { param: 'model' });
    }
    const kind = execModel.kind;
    if (kind === 'text' || model.mode !== kind) {
      throw new GatewayError(
        'invalid_request',
        `The model '${model.id}' is not ${kind === 'image' ? 'an' : 'a'} ${kind} model`,
        {
          param: 'model',
        },
      );
    }
    const adapter = adapterFor(descriptorOf(provider.kind).wire, kind);
    if (!adapter) {
      throw new GatewayError('invalid_request', `The model '${model.id}' cannot run as ${kind} execution here`, {
        param: 'model',
      });
    }
    const media = parseMediaInput(kind, input);
    adapter.check?.(media, { model, provider });
    return { model, provider, kind, adapter, media };
  };

  /** Seconds a transcription's audio file can last, read at submission (capped); undefined: hold the default. */
  const audioSeconds = async (media: MediaInput, tenantId: string): Promise<number | undefined> => {
    if (media.kind !== 'transcription' || !deps.files?.peek) return undefined;
    // Unreadable now (a disk error): the run will say so; the hold is the default.
    const peeked = await deps.files.peek(tenantId, media.input.file, AUDIO_HEAD_BYTES).catch(() => undefined);
    const bound = peeked && audioSecondsBound(peeked.head, peeked.meta.bytes);
    return bound === undefined ? undefined : Math.min(HELD_TRANSCRIPTION_SECONDS, Math.max(1, bound));
  };

  const runner: MediaExecutionRunner = {
    kinds: MEDIA_KINDS,
    validate(model, input) {
      resolve(model, input);
    },
    estimateNanoUsd(model, input) {
      const r = resolve(model, input);
      const meter = r.adapter.worstMeter?.(r.media, { model: r.model }) ?? defaultWorst(r.media, undefined);
      return mediaCostNanoUsd(meter, r.model);
    },
    /** The hold at submission (the execution service prefers it to estimateNanoUsd): what the files tell, read. */
    async plan(model, input, caller) {
      const r = resolve(model, input);
      const facts: WorstFacts = { audioSeconds: await audioSeconds(r.media, caller.tenantId) };
      const meter = r.adapter.worstMeter?.(r.media, { model: r.model }, facts) ?? defaultWorst(r.media, facts);
      return { estimateNanoUsd: mediaCostNanoUsd(meter, r.model), provider: null };
    },
    /**
     * Cancels a job an ended execution left on its row (decision 0042) through its adapter's `cancelJob`, the code a
     * run abandoning its job uses, with the provider, model and key (by id) the job names in the current catalog.
     */
    async abandon(job, ctx) {
      const current = catalog();
      const model = current.byId.get(job.model);
      const provider = current.providers.get(job.provider);
      const key = provider?.keys.find((k) => k.id === job.key);
      const kind = model && mediaModeOf(model);
      if (!model || !provider || !key || !kind) {
        throw new GatewayError(
          'not_found',
          `The provider, model or key of upstream job ${job.id} (${job.provider}, ${job.model}, key ${job.key}) is no longer configured`,
        );
      }
      const adapter = adapterFor(descriptorOf(provider.kind).wire, kind);
      if (!adapter?.cancelJob) {
        throw new GatewayError(
          'internal_error',
          `Internal error: jobs of ${job.provider} ${kind} models cannot be cancelled`,
        );
      }
      const call: MediaCall = {
        target: { provider, model, key },
        kind,
        ctx: {
          executionId: ctx.executionId,
          tenantId: ctx.tenantId,
          signal: new AbortController().signal,
          files: NO_FILES,
          attempt: 0,
        },
        pool: deps.pool,
        settings,
        job: { resume: job.id, save: async () => {}, clear: async () => {} },
      };
      await adapter.cancelJob(call, job.id);
    },
    async run(execModel, input, ctx: RunContext): Promise<RunResult> {
      const r = resolve(execModel, input);
      const keys = r.provider.keys;
      if (keys.length === 0) {
        throw new GatewayError('provider_unavailable', `Provider ${r.provider.id} has no key for executions`);
      }
      // Each attempt moves to the provider's next key, as failover does between a rejected key and the next;
      // except to resume the upstream job an earlier run started (a crash, a failed poll): the key that created it.
      let key = keys[(Math.max(1, ctx.attempt) - 1) % keys.length]!;
      const store = ctx.upstreamJob ?? jobs.storeFor(ctx.executionId);
      const saved = await store.load();
      const sameKey =
        saved && saved.provider === r.provider.id && saved.model === r.model.id
          ? keys.find((k) => k.id === saved.key)
          : undefined;
      if (sameKey) key = sameKey;
      else if (saved) await store.clear(); // another model or provider now, or its key is gone: cannot be polled
      const job: JobHandle = {
        resume: sameKey ? saved!.id : undefined,
        save: (id) =>
          store.save({ provider: r.provider.id, model: r.model.id, key: key.id, id, createdAt: Date.now() }),
        clear: () => store.clear(),
      };
      const outcome = await r.adapter.run(r.media, {
        target: { provider: r.provider, model: r.model, key },
        kind: r.kind,
        ctx,
        pool: deps.pool,
        settings,
        job,
      });
      if (ctx.signal.aborted) throw cancelledError(ctx.signal);
      const ids: string[] = [];
      for (const [i, file] of outcome.files.entries()) {
        const meta = await ctx.files.put(ctx.tenantId, {
          bytes: file.bytes,
          contentType: file.contentType,
          purpose: OUTPUT_PURPOSE,
          filename: outputFilename(ctx.executionId, i, file.contentType),
        });
        ids.push(meta.id);
      }
      // In memory only: the durable record stays until the execution's terminal state, so a crash before it
      // downloads the finished job again rather than paying for a new one.
      if (!ctx.upstreamJob) await store.clear();
      return {
        output: {
          ...(ids.length > 0 ? { files: ids } : {}),
          ...(outcome.text !== undefined ? { text: outcome.text } : {}),
          ...(outcome.data ? { data: outcome.data } : {}),
        },
        usage: usageOf(outcome.meter),
        costNanoUsd: mediaCostNanoUsd(outcome.meter, r.model),
        servedBy: r.model.id,
      };
    },
  };
  return [runner];
}

function usageOf(meter: MediaMeter): ExecutionUsage {
  const usage: ExecutionUsage = {};
  const input = (meter.textInputTokens ?? 0) + (meter.imageInputTokens ?? 0) + (meter.audioInputTokens ?? 0);
  const output = (meter.outputTokens ?? 0) + (meter.outputImageTokens ?? 0);
  if (input > 0) usage.inputTokens = input;
  if (output > 0) usage.outputTokens = output;
  if (meter.images) usage.images = meter.images;
  if (meter.seconds) usage.seconds = meter.seconds;
  if (meter.characters) usage.characters = meter.characters;
  return usage;
}
