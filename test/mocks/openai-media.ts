import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { solidPng, toneWav } from '../../src/providers/demo/media.ts';
import { type Answer, type MediaRequest, type MediaServer, startMediaServer, tinyMp4 } from './media-server.ts';

/**
 * OpenAI's media APIs, protocol-faithful (checked by the `openai` SDK in media-mocks.test.ts):
 * - `POST /v1/images/generations` (JSON) and `POST /v1/images/edits` (multipart, `image`): `{created, data:
 *   [{b64_json, revised_prompt?}], …}`. DALL·E answers replay the recorded `openai-image.json` (revised prompts),
 *   GPT image answers the recorded `openai-image-edit.json` envelope (background, output_format, quality, size)
 *   plus `usage` in tokens by OpenAI's size/quality table. The recorded base64 is cut short, so each image is a
 *   real PNG made here. `response_format` on a GPT image model gets the recorded 400.
 * - `POST /v1/audio/speech` → audio bytes (WAV for `wav`, an ID3-tagged stream for mp3).
 * - `POST /v1/audio/transcriptions` (multipart `file`): whisper-1 replays the recorded `verbose_json` sample;
 *   gpt-4o transcribers answer `{text, usage: {type: 'tokens', …}}`.
 * - `POST /v1/videos` (multipart) → a `video` object `queued`; `GET /v1/videos/{id}` moves it to `in_progress`,
 *   then `completed` after `pollsToComplete` polls (or `failed`, with `failWith`); `GET /v1/videos/{id}/content`
 *   is an MP4; `DELETE /v1/videos/{id}` deletes it.
 * Every call needs `Authorization: Bearer MOCK_MEDIA_KEY` (else OpenAI's 401). `faults` answers the next
 * requests with what is queued (an error status and body, a delay); `faultAt` answers the first request to a
 * given method and path.
 *
 * The same server is an Azure OpenAI resource (`azureEndpoint`, checked by the SDK's `AzureOpenAI`), whose
 * deployments (AZURE_DEPLOYMENTS) each run one model whatever the body names; every call needs `api-key:
 * MOCK_AZURE_KEY` (a Bearer header alone is Azure's 401):
 * - `POST /openai/deployments/{deployment}/{images/generations | images/edits | audio/speech |
 *   audio/transcriptions}?api-version=…`, each from the api-version Azure's specs add it in (speech and edits
 *   preview only; gpt-image-1 from 2025-04-01-preview); a missing or older api-version is Azure's 404 `Resource not
 *   found`, an unknown deployment `DeploymentNotFound`. Image answers carry Azure's content filter results.
 * - Sora 2 on the v1 API: `/openai/v1/videos[/{id}[/content]]?api-version=preview`, the deployment as `model`.
 * @see https://github.com/Azure/azure-rest-api-specs/blob/main/specification/cognitiveservices/data-plane/AzureOpenAI/inference/stable/2024-10-21/inference.json
 * @see https://learn.microsoft.com/azure/ai-foundry/openai/how-to/dall-e
 * @see https://platform.openai.com/docs/api-reference/images
 * @see https://platform.openai.com/docs/api-reference/audio
 * @see https://platform.openai.com/docs/api-reference/videos
 */

export const MOCK_MEDIA_KEY = 'sk-mock-media-0123456789';
/** The Azure resource's key (`api-key` header), 32 hex characters as Azure's are. */
export const MOCK_AZURE_KEY = '5f0c1d2e3a4b4c6d8e9f0a1b2c3d4e5f';
/** The mock Azure resource's deployments: name → the model it runs. */
export const AZURE_DEPLOYMENTS: Record<string, string> = {
  'art-gpt-image': 'gpt-image-1',
  'art-dalle3': 'dall-e-3',
  'voice-tts': 'tts-1',
  'ears-whisper': 'whisper-1',
  'ears-4o': 'gpt-4o-transcribe',
  'film-sora': 'sora-2',
};

const fixtures = join(import.meta.dirname, '../fixtures/wire/openai');
const recorded = (path: string) => JSON.parse(readFileSync(join(fixtures, path), 'utf8')) as Record<string, unknown>;
export const RECORDED_IMAGE = recorded('image/openai-image.json');
export const RECORDED_IMAGE_EDIT = recorded('image/openai-image-edit.json');
export const RECORDED_RESPONSE_FORMAT_ERROR = recorded('image/gpt-image-response-format-error.json');
export const RECORDED_TRANSCRIPTION = recorded('transcription/openai-transcription.json');

/** gpt-image-1 output tokens per image (OpenAI's table), as the mock reports usage. */
export const GPT_IMAGE_TOKENS: Record<string, Record<string, number>> = {
  low: { '1024x1024': 272, '1024x1536': 408, '1536x1024': 400 },
  medium: { '1024x1024': 1056, '1024x1536': 1584, '1536x1024': 1568 },
  high: { '1024x1024': 4160, '1024x1536': 6240, '1536x1024': 6208 },
};
/** Input image tokens the mock reports for an edit's input image. */
export const MOCK_INPUT_IMAGE_TOKENS = 323;

export interface MockVideo {
  id: string;
  model: string;
  prompt: string;
  seconds: string;
  size: string;
  status: 'queued' | 'in_progress' | 'completed' | 'failed';
  polls: number;
  deleted: boolean;
  reference?: { type: string; bytes: number };
}

export interface MockOpenAIMedia extends MediaServer {
  /** Base URL with `/v1`, as providers' baseUrl and the SDK's baseURL take it. */
  baseUrl: string;
  /** The Azure resource's endpoint (`https://{resource}.openai.azure.com`): an azure provider's baseUrl. */
  azureEndpoint: string;
  faults: Answer[];
  /** Answers the first later request whose method and path match, once (a fault at a given step). */
  faultAt: Array<{ method: string; path: RegExp; answer: Answer }>;
  videos: Map<string, MockVideo>;
  /** Polls after which a video job completes. */
  pollsToComplete: number;
  /** When set, video jobs end `failed` with this error. */
  failWith: { code: string; message: string } | undefined;
}

function openAIError(
  status: number,
  message: string,
  type: string,
  code: string | null,
  param: string | null = null,
): Answer {
  return { status, body: { error: { message, type, param, code } } };
}

function tokensOfPrompt(prompt: string): number {
  return prompt.split(/\s+/).filter(Boolean).length;
}

export async function startMockOpenAIMedia(): Promise<MockOpenAIMedia> {
  let sequence = 0;
  // The mock's state, which tests change between calls; the server's fields join it once it listens.
  const state = {
    faults: [] as Answer[],
    faultAt: [] as MockOpenAIMedia['faultAt'],
    videos: new Map<string, MockVideo>(),
    pollsToComplete: 2,
    failWith: undefined as { code: string; message: string } | undefined,
  } as MockOpenAIMedia;

  const videoObject = (v: MockVideo) => ({
    id: v.id,
    object: 'video',
    model: v.model,
    status: v.status,
    progress: v.status === 'completed' ? 100 : v.status === 'in_progress' ? Math.min(99, v.polls * 25) : 0,
    created_at: 1_760_000_000,
    completed_at: v.status === 'completed' ? 1_760_000_060 : null,
    expires_at: v.status === 'completed' ? 1_760_086_460 : null,
    prompt: v.prompt,
    seconds: v.seconds,
    size: v.size,
    remixed_from_video_id: null,
    error: v.status === 'failed' ? state.failWith : null,
  });

  const images = async (req: MediaRequest, edit: boolean): Promise<Answer> => {
    const fields = (edit ? req.form : req.json) as Record<string, unknown> | undefined;
    if (!fields)
      return openAIError(400, 'We could not parse the JSON body of your request.', 'invalid_request_error', null);
    const model = String(fields['model'] ?? 'dall-e-2');
    const prompt = fields['prompt'];
    if (typeof prompt !== 'string' || prompt === '') {
      return openAIError(
        400,
        "Missing required parameter: 'prompt'.",
        'invalid_request_error',
        'missing_required_parameter',
        'prompt',
      );
    }
    const gpt = model.startsWith('gpt-image');
    if (gpt && fields['response_format'] !== undefined) return { status: 400, body: RECORDED_RESPONSE_FORMAT_ERROR };
    const n = Number(fields['n'] ?? 1);
    if (model === 'dall-e-3' && n !== 1) {
      return openAIError(400, 'You must provide n=1 for this model.', 'invalid_request_error', null, null);
    }
    if (!gpt && fields['response_format'] !== 'b64_json') {
      return openAIError(400, 'This mock serves b64_json only.', 'invalid_request_error', null, 'response_format');
    }
    const image = edit ? req.form?.['image'] : undefined;
    if (edit && (typeof image !== 'object' || image === null)) {
      return openAIError(
        400,
        "Missing required parameter: 'image'.",
        'invalid_request_error',
        'missing_required_parameter',
        'image',
      );
    }
    const size = String(fields['size'] ?? '1024x1024');
    const quality = String(fields['quality'] ?? (gpt ? 'high' : 'standard'));
    const [w, h] = size.split('x').map(Number) as [number, number];
    const data: Array<Record<string, unknown>> = [];
    for (let i = 0; i < n; i++) {
      const png = await solidPng(Math.min(w, 64), Math.min(h, 64), [i * 40, 100, 200]);
      const entry: Record<string, unknown> = { b64_json: Buffer.from(png).toString('base64') };
      const recordedEntry = (RECORDED_IMAGE['data'] as Array<Record<string, unknown>>)[i];
      if (model === 'dall-e-3' && recordedEntry?.['revised_prompt'])
        entry['revised_prompt'] = recordedEntry['revised_prompt'];
      data.push(entry);
    }
    if (!gpt) return { status: 200, body: { created: RECORDED_IMAGE['created'], data } };
    const textTokens = tokensOfPrompt(prompt);
    const imageTokens = edit ? MOCK_INPUT_IMAGE_TOKENS : 0;
    const output = n * (GPT_IMAGE_TOKENS[quality]?.[size] ?? 4160);
    return {
      status: 200,
      body: {
        ...RECORDED_IMAGE_EDIT,
        data,
        quality,
        size,
        usage: {
          input_tokens: textTokens + imageTokens,
          input_tokens_details: { text_tokens: textTokens, image_tokens: imageTokens },
          output_tokens: output,
          total_tokens: textTokens + imageTokens + output,
        },
      },
    };
  };

  /** A queued fault for this request, if any (`faults` first, then `faultAt` by method and path). */
  const faultFor = (method: string, path: string): Answer | undefined => {
    const fault = state.faults.shift();
    if (fault) return fault;
    const at = state.faultAt.findIndex((f) => f.method === method && f.path.test(path));
    return at >= 0 ? state.faultAt.splice(at, 1)[0]!.answer : undefined;
  };

  const server = await startMediaServer(async (req) => {
    const path = req.path.split('?')[0]!;
    if (path.startsWith('/openai/')) return azure(req, new URL(req.path, 'http://azure.mock'));
    if (req.headers['authorization'] !== `Bearer ${MOCK_MEDIA_KEY}`) {
      return openAIError(401, 'Incorrect API key provided: sk-***.', 'invalid_request_error', 'invalid_api_key');
    }
    return faultFor(req.method, path) ?? openAI(req, path);
  });

  /** Azure OpenAI's routes onto the same calls (see the file's comment): key, api-version and deployment checked. */
  const azure = async (req: MediaRequest, url: URL): Promise<Answer> => {
    if (req.headers['api-key'] !== MOCK_AZURE_KEY) return azureError(401, '401', AZURE_ACCESS_DENIED);
    const version = url.searchParams.get('api-version') ?? '';
    const path = url.pathname;
    const deployed =
      /^\/openai\/deployments\/([^/]+)\/(images\/generations|images\/edits|audio\/speech|audio\/transcriptions)$/.exec(
        path,
      );
    if (deployed) {
      const call = deployed[2]!;
      if (req.method !== 'POST' || !serves(version, AZURE_OPERATIONS[call]!)) return AZURE_NOT_FOUND;
      const model = AZURE_DEPLOYMENTS[decodeURIComponent(deployed[1]!)];
      if (!model) return azureError(404, 'DeploymentNotFound', AZURE_NO_DEPLOYMENT);
      const since = AZURE_MODEL_SINCE[model];
      if (since && !serves(version, { preview: since })) {
        const operation = call.startsWith('images') ? 'imagesGenerate' : 'audioTranscription';
        return azureError(
          400,
          'OperationNotSupported',
          `The ${operation} operation does not work with the specified model, ${model}. Please choose different model and try again. You can learn more about which models can be used with each operation here: https://go.microsoft.com/fwlink/?linkid=2197993.`,
        );
      }
      const fault = faultFor(req.method, path);
      if (fault) return fault;
      // The deployment decides the model, whatever the body names.
      runsModel(req, model);
      const answer = await openAI(req, `/v1/${call}`);
      return call.startsWith('images') ? withFilterResults(answer) : answer;
    }
    const v1 = /^\/openai\/v1\/(videos(?:\/[^?]*)?)$/.exec(path);
    if (v1) {
      if (version !== 'preview' && version !== 'v1') return AZURE_NOT_FOUND;
      if (req.method === 'POST' && v1[1] === 'videos') {
        // The v1 API names the deployment as the body's model.
        const model = AZURE_DEPLOYMENTS[String(req.form?.['model'] ?? req.json?.['model'] ?? '')];
        if (!model) return azureError(404, 'DeploymentNotFound', AZURE_NO_DEPLOYMENT);
        runsModel(req, model);
      }
      return faultFor(req.method, path) ?? openAI(req, `/v1/${v1[1]}`);
    }
    return AZURE_NOT_FOUND;
  };

  /** OpenAI's calls by method and path (`/v1/…`), auth already checked. */
  async function openAI(req: MediaRequest, path: string): Promise<Answer> {
    if (req.method === 'POST' && path === '/v1/images/generations') return images(req, false);
    if (req.method === 'POST' && path === '/v1/images/edits') return images(req, true);
    if (req.method === 'POST' && path === '/v1/audio/speech') {
      const body = req.json ?? {};
      if (typeof body['input'] !== 'string' || typeof body['voice'] !== 'string') {
        return openAIError(
          400,
          "Missing required parameter: 'voice'.",
          'invalid_request_error',
          'missing_required_parameter',
          'voice',
        );
      }
      const format = String(body['response_format'] ?? 'mp3');
      if (format === 'wav') return { status: 200, bytes: toneWav(0.25, 440), headers: { 'content-type': 'audio/wav' } };
      const mp3 = Buffer.concat([Buffer.from('ID3\x04\x00\x00\x00\x00\x00\x00', 'latin1'), Buffer.alloc(64, 0xaa)]);
      return { status: 200, bytes: mp3, headers: { 'content-type': 'audio/mpeg' } };
    }
    if (req.method === 'POST' && path === '/v1/audio/transcriptions') {
      const file = req.form?.['file'];
      if (typeof file !== 'object' || !file) {
        return openAIError(
          400,
          "Missing required parameter: 'file'.",
          'invalid_request_error',
          'missing_required_parameter',
          'file',
        );
      }
      const model = String(req.form?.['model'] ?? '');
      const format = String(req.form?.['response_format'] ?? 'json');
      if (model === 'whisper-1') {
        return format === 'verbose_json'
          ? { status: 200, body: RECORDED_TRANSCRIPTION }
          : { status: 200, body: { text: RECORDED_TRANSCRIPTION['text'], usage: RECORDED_TRANSCRIPTION['usage'] } };
      }
      if (format !== 'json' && format !== 'text') {
        return openAIError(
          400,
          `response_format '${format}' is not compatible with model '${model}'. Use 'json' or 'text' instead.`,
          'invalid_request_error',
          'unsupported_value',
          'response_format',
        );
      }
      const audio = Math.ceil(file.bytes.byteLength / 1000);
      const text = String(RECORDED_TRANSCRIPTION['text']);
      const out = tokensOfPrompt(text);
      return {
        status: 200,
        body: {
          text,
          usage: {
            type: 'tokens',
            input_tokens: audio + 3,
            input_token_details: { text_tokens: 3, audio_tokens: audio },
            output_tokens: out,
            total_tokens: audio + 3 + out,
          },
        },
      };
    }
    if (req.method === 'POST' && path === '/v1/videos') {
      const form = req.form ?? {};
      if (typeof form['prompt'] !== 'string') {
        return openAIError(
          400,
          "Missing required parameter: 'prompt'.",
          'invalid_request_error',
          'missing_required_parameter',
          'prompt',
        );
      }
      const reference = form['input_reference'];
      sequence += 1;
      const video: MockVideo = {
        id: `video_${String(sequence).padStart(6, '0')}`,
        model: String(form['model'] ?? 'sora-2'),
        prompt: form['prompt'],
        seconds: String(form['seconds'] ?? '4'),
        size: String(form['size'] ?? '720x1280'),
        status: 'queued',
        polls: 0,
        deleted: false,
        ...(typeof reference === 'object'
          ? { reference: { type: reference.type, bytes: reference.bytes.byteLength } }
          : {}),
      };
      state.videos.set(video.id, video);
      return { status: 200, body: videoObject(video) };
    }
    const match = /^\/v1\/videos\/(video_[0-9]+)(\/content)?$/.exec(path);
    const video = match && state.videos.get(match[1]!);
    if (match && (!video || video.deleted)) {
      return openAIError(404, `Video with id '${match[1]}' not found.`, 'invalid_request_error', null, null);
    }
    if (video && req.method === 'DELETE' && !match![2]) {
      video.deleted = true;
      return { status: 200, body: { id: video.id, object: 'video.deleted', deleted: true } };
    }
    if (video && req.method === 'GET' && !match![2]) {
      video.polls += 1;
      if (video.status === 'queued' || video.status === 'in_progress') {
        video.status = video.polls >= state.pollsToComplete ? (state.failWith ? 'failed' : 'completed') : 'in_progress';
      }
      return { status: 200, body: videoObject(video) };
    }
    if (video && req.method === 'GET' && match![2]) {
      if (video.status !== 'completed') {
        return openAIError(400, 'Video is not ready yet.', 'invalid_request_error', null, null);
      }
      return { status: 200, bytes: tinyMp4(video.id), headers: { 'content-type': 'video/mp4' } };
    }
    return openAIError(404, `Invalid URL (${req.method} ${path})`, 'invalid_request_error', null);
  }
  return Object.assign(state, server, { baseUrl: `${server.url}/v1`, azureEndpoint: server.url });
}

/** Azure's error envelope: `{error: {code, message}}`, the code a string (`"401"`, `"DeploymentNotFound"`). */
function azureError(status: number, code: string, message: string, extra: Record<string, unknown> = {}): Answer {
  return { status, body: { error: { code, message, ...extra } } };
}

const AZURE_ACCESS_DENIED =
  'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.';
const AZURE_NO_DEPLOYMENT =
  'The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.';
/** What Azure answers a path it does not serve, or a call without (or with an unknown) api-version. */
const AZURE_NOT_FOUND = azureError(404, '404', 'Resource not found');

/** The api-versions (dates) from which Azure serves each deployment call, GA and preview (inference.json specs). */
interface Since {
  ga?: string;
  preview: string;
}
const AZURE_OPERATIONS: Record<string, Since> = {
  'images/generations': { ga: '2024-02-01', preview: '2023-12-01' },
  'images/edits': { preview: '2025-04-01' },
  'audio/speech': { preview: '2024-02-15' },
  'audio/transcriptions': { ga: '2024-02-01', preview: '2023-09-01' },
};
/** Models a deployment call serves only from a later preview api-version than the call itself. */
const AZURE_MODEL_SINCE: Record<string, string> = { 'gpt-image-1': '2025-04-01', 'gpt-4o-transcribe': '2025-03-01' };

function serves(version: string, since: Since): boolean {
  const m = /^(\d{4}-\d{2}-\d{2})(-preview)?$/.exec(version);
  if (!m) return false;
  return m[2] ? m[1]! >= since.preview : since.ga !== undefined && m[1]! >= since.ga;
}

/** The request as the deployment's model sees it (the mock's OpenAI handlers read the body's model). */
function runsModel(req: MediaRequest, model: string): void {
  if (req.json) req.json['model'] = model;
  if (req.form) req.form['model'] = model;
}

const SAFE = { filtered: false, severity: 'safe' };
/** Azure's image answers carry each image's content filter results (2024-10-21 image_generation example). */
function withFilterResults(answer: Answer): Answer {
  const body = answer.body as { data?: Array<Record<string, unknown>> } | undefined;
  if (answer.status !== 200 || !Array.isArray(body?.data)) return answer;
  const results = { sexual: SAFE, violence: SAFE, hate: SAFE, self_harm: SAFE };
  for (const entry of body.data) {
    entry['content_filter_results'] = results;
    entry['prompt_filter_results'] = { ...results, profanity: { detected: false, filtered: false } };
  }
  return answer;
}

/** Azure's answer to a prompt its content filter refused (how-to/dall-e.md, API call rejection). */
export const AZURE_CONTENT_FILTER: Answer = azureError(
  400,
  'contentFilter',
  'Your task failed as a result of our safety system.',
  {
    inner_error: {
      code: 'ResponsibleAIPolicyViolation',
      content_filter_results: {
        sexual: SAFE,
        violence: { filtered: true, severity: 'high' },
        hate: SAFE,
        self_harm: SAFE,
      },
    },
  },
);
/** Azure's rate limit: 429 with `retry-after` seconds. */
export const AZURE_RATE_LIMITED: Answer = {
  ...azureError(
    429,
    '429',
    'Requests to the Images_Generations Operation under Azure OpenAI API version 2025-04-01-preview have exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after 7 seconds.',
  ),
  headers: { 'retry-after': '7' },
};
