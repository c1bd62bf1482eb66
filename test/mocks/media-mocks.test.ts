import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BedrockRuntimeClient, InvokeModelCommand, ValidationException } from '@aws-sdk/client-bedrock-runtime';
import { GoogleGenAI } from '@google/genai';
import OpenAI, { AuthenticationError, AzureOpenAI, BadRequestError, NotFoundError, toFile } from 'openai';
import Replicate from 'replicate';
import { toneWav } from '../../src/providers/demo/media.ts';
import { validateSchema } from '../helpers/openai-schema.ts';
import { MOCK_BEDROCK_CREDENTIALS, MOCK_BEDROCK_REGION, type MockBedrock, startMockBedrock } from './bedrock.ts';
import { BEDROCK_MOCK_PNG } from './bedrock-images.ts';
import {
  MOCK_GEMINI_MEDIA_KEY,
  MOCK_IMAGE_TOKENS,
  type MockGeminiImage,
  startMockGeminiImage,
} from './gemini-image.ts';
import {
  AZURE_DEPLOYMENTS,
  GPT_IMAGE_TOKENS,
  MOCK_AZURE_KEY,
  MOCK_MEDIA_KEY,
  type MockOpenAIMedia,
  RECORDED_IMAGE,
  RECORDED_TRANSCRIPTION,
  startMockOpenAIMedia,
} from './openai-media.ts';
import { MOCK_PREDICT_TIME, MOCK_REPLICATE_TOKEN, type MockReplicate, startMockReplicate } from './replicate.ts';

/**
 * The media mocks, each checked by its provider's official SDK acting as a client (openai, @google/genai,
 * replicate), so the media runners' tests run against the real wire formats.
 */

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47];
const isPng = (bytes: Uint8Array) => PNG_MAGIC.every((b, i) => bytes[i] === b);

describe('OpenAI media mock through the openai SDK', () => {
  let mock: MockOpenAIMedia;
  let client: OpenAI;
  before(async () => {
    mock = await startMockOpenAIMedia();
    client = new OpenAI({ baseURL: mock.baseUrl, apiKey: MOCK_MEDIA_KEY, maxRetries: 0 });
  });
  after(() => mock.close());

  it('images.generate: gpt-image-1 answers base64 PNGs with usage in tokens; dall-e-3 replays the recorded revised prompt', async () => {
    const gpt = await client.images.generate({
      model: 'gpt-image-1',
      prompt: 'a red fox',
      n: 2,
      size: '1024x1536',
      quality: 'low',
    });
    assert.equal(gpt.data?.length, 2);
    assert.ok(isPng(Buffer.from(gpt.data![0]!.b64_json!, 'base64')));
    assert.equal(gpt.usage?.output_tokens, 2 * GPT_IMAGE_TOKENS['low']!['1024x1536']!);
    assert.equal(gpt.usage?.input_tokens_details.text_tokens, 3);
    assert.equal(gpt.output_format, 'png');
    assert.ok(validateSchema('ImagesResponse', gpt).ok, validateSchema('ImagesResponse', gpt).errors);
    const dalle = await client.images.generate({ model: 'dall-e-3', prompt: 'an otter', response_format: 'b64_json' });
    assert.equal(
      dalle.data![0]!.revised_prompt,
      (RECORDED_IMAGE['data'] as Array<{ revised_prompt: string }>)[0]!.revised_prompt,
    );
  });

  it('rejects what OpenAI rejects: response_format on gpt-image-1 (the recorded error), n > 1 on dall-e-3, a wrong key', async () => {
    await assert.rejects(
      client.images.generate({ model: 'gpt-image-1', prompt: 'x', response_format: 'b64_json' }),
      (err: unknown) =>
        err instanceof BadRequestError && err.param === 'response_format' && err.code === 'unknown_parameter',
    );
    await assert.rejects(
      client.images.generate({ model: 'dall-e-3', prompt: 'x', n: 2, response_format: 'b64_json' }),
      BadRequestError,
    );
    const wrong = new OpenAI({ baseURL: mock.baseUrl, apiKey: 'sk-wrong', maxRetries: 0 });
    await assert.rejects(wrong.images.generate({ model: 'gpt-image-1', prompt: 'x' }), AuthenticationError);
  });

  it('images.edit: the image arrives as a multipart file and is counted as input image tokens', async () => {
    const png = Buffer.from(toneWav(0.01, 100)); // any bytes; the mock checks the part, not the pixels
    const edited = await client.images.edit({
      model: 'gpt-image-1',
      prompt: 'add a hat',
      image: await toFile(png, 'in.png', { type: 'image/png' }),
    });
    assert.ok(isPng(Buffer.from(edited.data![0]!.b64_json!, 'base64')));
    assert.ok((edited.usage?.input_tokens_details.image_tokens ?? 0) > 0);
    const part = mock.requests.at(-1)!.form!['image'] as { filename: string; type: string; bytes: Uint8Array };
    assert.equal(part.type, 'image/png');
    assert.equal(part.bytes.byteLength, png.byteLength);
  });

  it('audio.speech returns audio bytes; audio.transcriptions replays the recorded whisper sample and reports tokens for gpt-4o', async () => {
    const speech = await client.audio.speech.create({
      model: 'tts-1',
      input: 'hello',
      voice: 'alloy',
      response_format: 'wav',
    });
    const wav = Buffer.from(await speech.arrayBuffer());
    assert.equal(wav.subarray(0, 4).toString('latin1'), 'RIFF');
    assert.equal(speech.headers.get('content-type'), 'audio/wav');
    const file = await toFile(Buffer.from(toneWav(0.5, 300)), 'a.wav', { type: 'audio/wav' });
    const verbose = await client.audio.transcriptions.create({
      model: 'whisper-1',
      file,
      response_format: 'verbose_json',
    });
    assert.equal(verbose.text, RECORDED_TRANSCRIPTION['text']);
    assert.equal(verbose.duration, RECORDED_TRANSCRIPTION['duration']);
    const checked = validateSchema('CreateTranscriptionResponseVerboseJson', verbose);
    assert.ok(checked.ok, checked.errors);
    const tokens = await client.audio.transcriptions.create({ model: 'gpt-4o-transcribe', file });
    assert.equal(tokens.usage?.type, 'tokens');
    await assert.rejects(
      client.audio.transcriptions.create({ model: 'gpt-4o-transcribe', file, response_format: 'verbose_json' }),
      BadRequestError,
    );
  });

  it('videos: create → retrieve until completed → downloadContent is an MP4; delete removes the job', async () => {
    const created = await client.videos.create({ model: 'sora-2', prompt: 'waves', seconds: '4', size: '1280x720' });
    assert.equal(created.status, 'queued');
    let video = created;
    while (video.status !== 'completed') video = await client.videos.retrieve(created.id);
    assert.equal(video.progress, 100);
    for (const body of [created, video])
      assert.ok(validateSchema('VideoResource', body).ok, validateSchema('VideoResource', body).errors);
    const content = Buffer.from(await (await client.videos.downloadContent(created.id)).arrayBuffer());
    assert.equal(content.subarray(4, 8).toString('latin1'), 'ftyp');
    await client.videos.delete(created.id);
    await assert.rejects(client.videos.retrieve(created.id), /not found/);
  });
});

describe('Azure OpenAI media mock through the openai SDK’s AzureOpenAI client', () => {
  let mock: MockOpenAIMedia;
  const azure = (apiVersion = '2025-04-01-preview', apiKey = MOCK_AZURE_KEY) =>
    new AzureOpenAI({ endpoint: mock.azureEndpoint, apiKey, apiVersion, maxRetries: 0 });
  before(async () => {
    mock = await startMockOpenAIMedia();
  });
  after(() => mock.close());

  it('images.generate on a deployment: its path, the api-key header and api-version; gpt-image-1 tokens, dall-e-3 with filter results', async () => {
    const gpt = await azure().images.generate({ model: 'art-gpt-image', prompt: 'a red fox', size: '1024x1024' });
    const sent = mock.requests.at(-1)!;
    assert.equal(sent.path, '/openai/deployments/art-gpt-image/images/generations?api-version=2025-04-01-preview');
    assert.equal(sent.headers['api-key'], MOCK_AZURE_KEY);
    assert.equal(sent.headers['authorization'], undefined);
    assert.ok(isPng(Buffer.from(gpt.data![0]!.b64_json!, 'base64')));
    assert.equal(gpt.usage?.output_tokens, GPT_IMAGE_TOKENS['high']!['1024x1024']);
    const dalle = await azure('2024-10-21').images.generate({
      model: 'art-dalle3',
      prompt: 'an otter',
      response_format: 'b64_json',
    });
    const entry = dalle.data![0] as unknown as Record<string, unknown>;
    assert.equal(typeof entry['revised_prompt'], 'string');
    assert.deepEqual((entry['content_filter_results'] as Record<string, unknown>)['violence'], {
      filtered: false,
      severity: 'safe',
    });
  });

  it('refuses what Azure refuses: a wrong key (401), no api-version or one without the call (404), gpt-image-1 before 2025-04-01-preview, an unknown deployment', async () => {
    await assert.rejects(
      azure(undefined, 'wrong-key').images.generate({ model: 'art-gpt-image', prompt: 'x' }),
      (err: unknown) => err instanceof AuthenticationError && /Access denied/.test(err.message),
    );
    // Speech is preview-only: the GA 2024-10-21 does not serve it.
    await assert.rejects(
      azure('2024-10-21').audio.speech.create({ model: 'voice-tts', input: 'hi', voice: 'alloy' }),
      (err: unknown) => err instanceof NotFoundError && /Resource not found/.test(err.message),
    );
    const noVersion = await fetch(`${mock.azureEndpoint}/openai/deployments/art-dalle3/images/generations`, {
      method: 'POST',
      headers: { 'api-key': MOCK_AZURE_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'x', response_format: 'b64_json' }),
    });
    assert.equal(noVersion.status, 404);
    await assert.rejects(
      azure('2024-10-21').images.generate({ model: 'art-gpt-image', prompt: 'x' }),
      (err: unknown) => err instanceof BadRequestError && err.code === 'OperationNotSupported',
    );
    await assert.rejects(
      azure().images.generate({ model: 'nobody', prompt: 'x' }),
      (err: unknown) => err instanceof NotFoundError && err.code === 'DeploymentNotFound',
    );
    // A Bearer header is not Azure's key.
    const bearer = await fetch(
      `${mock.azureEndpoint}/openai/deployments/art-dalle3/images/generations?api-version=2024-10-21`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${MOCK_AZURE_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'x', response_format: 'b64_json' }),
      },
    );
    assert.equal(bearer.status, 401);
  });

  it('audio.speech.create and audio.transcriptions.create (multipart) on their deployments', async () => {
    const speech = await azure().audio.speech.create({
      model: 'voice-tts',
      input: 'hello',
      voice: 'alloy',
      response_format: 'wav',
    });
    assert.equal(
      Buffer.from(await speech.arrayBuffer())
        .subarray(0, 4)
        .toString('latin1'),
      'RIFF',
    );
    assert.equal(
      mock.requests.at(-1)!.path,
      '/openai/deployments/voice-tts/audio/speech?api-version=2025-04-01-preview',
    );
    const file = await toFile(Buffer.from(toneWav(0.5, 300)), 'a.wav', { type: 'audio/wav' });
    const verbose = await azure('2024-10-21').audio.transcriptions.create({
      model: 'ears-whisper',
      file,
      response_format: 'verbose_json',
    });
    assert.equal(verbose.text, RECORDED_TRANSCRIPTION['text']);
    const sent = mock.requests.at(-1)!;
    assert.equal(sent.path, '/openai/deployments/ears-whisper/audio/transcriptions?api-version=2024-10-21');
    assert.equal((sent.form!['file'] as { filename: string }).filename, 'a.wav');
    const tokens = await azure().audio.transcriptions.create({ model: 'ears-4o', file });
    assert.equal(tokens.usage?.type, 'tokens');
    assert.equal(AZURE_DEPLOYMENTS['ears-4o'], 'gpt-4o-transcribe');
  });

  it('Sora 2 on the v1 API: create with the deployment as model, retrieve until completed, download, delete', async () => {
    const client = new OpenAI({
      baseURL: `${mock.azureEndpoint}/openai/v1`,
      apiKey: 'unused',
      defaultHeaders: { 'api-key': MOCK_AZURE_KEY, authorization: null },
      defaultQuery: { 'api-version': 'preview' },
      maxRetries: 0,
    });
    const created = await client.videos.create({ model: 'film-sora', prompt: 'waves', seconds: '4', size: '1280x720' });
    assert.equal(created.model, 'sora-2');
    let video = created;
    while (video.status !== 'completed') video = await client.videos.retrieve(created.id);
    const content = Buffer.from(await (await client.videos.downloadContent(created.id)).arrayBuffer());
    assert.equal(content.subarray(4, 8).toString('latin1'), 'ftyp');
    assert.match(mock.requests.at(-1)!.path, /^\/openai\/v1\/videos\/video_\d+\/content\?api-version=preview$/);
    await client.videos.delete(created.id);
    await assert.rejects(client.videos.retrieve(created.id), /not found/);
  });
});

describe('Gemini image mock through @google/genai', () => {
  let mock: MockGeminiImage;
  let ai: GoogleGenAI;
  before(async () => {
    mock = await startMockGeminiImage();
    ai = new GoogleGenAI({ apiKey: MOCK_GEMINI_MEDIA_KEY, httpOptions: { baseUrl: mock.url } });
  });
  after(() => mock.close());

  it('models.generateContent with IMAGE output: an inlineData PNG at the aspect ratio asked, usage by modality', async () => {
    const result = await ai.models.generateContent({
      model: 'gemini-2.5-flash-image',
      contents: 'a lighthouse at dusk',
      config: { responseModalities: ['IMAGE'], imageConfig: { aspectRatio: '16:9' } },
    });
    const part = result.candidates![0]!.content!.parts!.find((p) => p.inlineData)!;
    const bytes = Buffer.from(part.inlineData!.data!, 'base64');
    assert.ok(isPng(bytes));
    assert.equal(bytes.readUInt32BE(16), 64); // width of the 16:9 mock image
    assert.equal(bytes.readUInt32BE(20), 36);
    assert.equal(result.usageMetadata?.candidatesTokensDetails?.[0]?.tokenCount, MOCK_IMAGE_TOKENS);
    assert.equal(result.modelVersion, 'gemini-2.5-flash-image');
    // The SDK calls v1; the gateway calls v1beta (gemini-endpoint.ts): Google serves both.
    assert.equal(mock.requests.at(-1)!.path, '/v1/models/gemini-2.5-flash-image:generateContent');
  });

  it('an input image is an inlineData part; a blocked prompt has promptFeedback; a wrong key is Google’s 400', async () => {
    const edited = await ai.models.generateContent({
      model: 'gemini-2.5-flash-image',
      contents: [
        { role: 'user', parts: [{ text: 'add a hat' }, { inlineData: { mimeType: 'image/png', data: 'iVBORw0K' } }] },
      ],
    });
    assert.ok((edited.usageMetadata?.promptTokensDetails ?? []).some((d) => d.modality === 'IMAGE'));
    const blocked = await ai.models.generateContent({
      model: 'gemini-2.5-flash-image',
      contents: 'something forbidden',
    });
    assert.equal(blocked.promptFeedback?.blockReason, 'PROHIBITED_CONTENT');
    const wrong = new GoogleGenAI({ apiKey: 'AIzaWrong', httpOptions: { baseUrl: mock.url } });
    await assert.rejects(
      wrong.models.generateContent({ model: 'gemini-2.5-flash-image', contents: 'x' }),
      /API key not valid/,
    );
  });
});

describe('Replicate mock through the replicate package', () => {
  let mock: MockReplicate;
  let replicate: Replicate;
  before(async () => {
    mock = await startMockReplicate();
    replicate = new Replicate({ auth: MOCK_REPLICATE_TOKEN, baseUrl: mock.baseUrl, useFileOutput: false });
  });
  after(() => mock.close());

  it('run(owner/name) with Prefer: wait answers in one call; the output URL is on the delivery host and serves a PNG', async () => {
    mock.runMs = 0;
    const output = (await replicate.run('black-forest-labs/flux-1.1-pro', {
      input: { prompt: 'a cat', aspect_ratio: '1:1' },
    })) as unknown as string;
    assert.ok(output.startsWith(mock.delivery.url));
    assert.equal(mock.requests.at(-1)!.headers['prefer'], 'wait');
    assert.equal(mock.requests.at(-1)!.path, '/v1/models/black-forest-labs/flux-1.1-pro/predictions');
    assert.ok(isPng(new Uint8Array(await (await fetch(output)).arrayBuffer())));
  });

  it('a slow prediction is polled until it succeeds; num_outputs gives a list; metrics report predict_time', async () => {
    mock.runMs = 150;
    const prediction = await replicate.predictions.create({
      model: 'black-forest-labs/flux-schnell',
      input: { prompt: 'a dog', num_outputs: 2 },
      wait: false,
    });
    assert.equal(prediction.status, 'starting');
    const done = await replicate.wait(prediction, { interval: 20 });
    assert.equal(done.status, 'succeeded');
    assert.equal((done.output as string[]).length, 2);
    assert.equal(done.metrics?.predict_time, MOCK_PREDICT_TIME);
  });

  it('cancel, a failed prediction, and problem-detail errors (422, 404, 401)', async () => {
    mock.runMs = 10_000;
    const running = await replicate.predictions.create({ model: 'black-forest-labs/flux-dev', input: { prompt: 'x' } });
    const canceled = await replicate.predictions.cancel(running.id);
    assert.equal(canceled.status, 'canceled');
    mock.runMs = 0;
    mock.failWith = 'CUDA out of memory';
    await assert.rejects(replicate.run('black-forest-labs/flux-dev', { input: { prompt: 'x' } }), /CUDA out of memory/);
    mock.failWith = undefined;
    await assert.rejects(replicate.run('black-forest-labs/flux-dev', { input: {} }), /422.*prompt is required/s);
    await assert.rejects(replicate.run('nobody/nothing', { input: { prompt: 'x' } }), /404/);
    const wrong = new Replicate({ auth: 'r8_wrong', baseUrl: mock.baseUrl });
    await assert.rejects(wrong.run('black-forest-labs/flux-dev', { input: { prompt: 'x' } }), /401.*Unauthenticated/s);
  });
});

describe('Bedrock mock: InvokeModel for image models through @aws-sdk/client-bedrock-runtime', () => {
  let mock: MockBedrock;
  let client: BedrockRuntimeClient;
  before(async () => {
    mock = await startMockBedrock();
    client = new BedrockRuntimeClient({
      endpoint: mock.url,
      region: MOCK_BEDROCK_REGION,
      credentials: MOCK_BEDROCK_CREDENTIALS,
      maxAttempts: 1,
    });
  });
  after(() => mock.close());

  const invoke = async (modelId: string, body: unknown) => {
    const out = await client.send(
      new InvokeModelCommand({
        modelId,
        body: JSON.stringify(body),
        contentType: 'application/json',
        accept: 'application/json',
      }),
    );
    return JSON.parse(Buffer.from(out.body).toString('utf8')) as Record<string, unknown>;
  };

  it('Nova Canvas TEXT_IMAGE: n base64 PNGs, SigV4 checked; Stability: images with finish_reasons', async () => {
    const nova = await invoke('amazon.nova-canvas-v1:0', {
      taskType: 'TEXT_IMAGE',
      textToImageParams: { text: 'a harbour' },
      imageGenerationConfig: { numberOfImages: 2, width: 1024, height: 1024, quality: 'premium' },
    });
    assert.equal((nova['images'] as string[]).length, 2);
    assert.deepEqual(Buffer.from((nova['images'] as string[])[0]!, 'base64'), BEDROCK_MOCK_PNG);
    assert.equal(mock.requests.at(-1)!.auth, 'sigv4');
    const sd = await invoke('stability.sd3-5-large-v1:0', {
      prompt: 'a harbour',
      mode: 'text-to-image',
      output_format: 'png',
    });
    assert.deepEqual(sd['finish_reasons'], [null]);
    const filtered = await invoke('stability.stable-image-core-v1:1', {
      prompt: 'a filtered output',
      mode: 'text-to-image',
    });
    assert.match(String((filtered['finish_reasons'] as string[])[0]), /Filter reason/);
  });

  it('a blocked prompt and a malformed body are ValidationExceptions', async () => {
    await assert.rejects(
      invoke('amazon.nova-canvas-v1:0', { taskType: 'TEXT_IMAGE', textToImageParams: { text: 'forbidden thing' } }),
      (err: unknown) => err instanceof ValidationException && /content filters/.test(err.message),
    );
    await assert.rejects(invoke('amazon.titan-image-generator-v2:0', { taskType: 'TEXT_IMAGE' }), ValidationException);
  });
});
