import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { GatewayError } from '../../../src/core/errors.ts';
import { toneWav } from '../../../src/providers/demo/media.ts';
import { closeCallContexts } from '../../helpers/call-context.ts';
import {
  MOCK_MEDIA_KEY,
  type MockOpenAIMedia,
  RECORDED_TRANSCRIPTION,
  startMockOpenAIMedia,
} from '../../mocks/openai-media.ts';
import { MemoryFiles, mediaRunnerFor, model, noUrlIn, runContext } from './support.ts';

/** OpenAI speech and transcription through the media runner, against the OpenAI media mock. */

describe('OpenAI audio runners', () => {
  let mock: MockOpenAIMedia;
  let runner: ReturnType<typeof mediaRunnerFor>['runner'];
  before(async () => {
    mock = await startMockOpenAIMedia();
    ({ runner } = mediaRunnerFor([{ id: 'openai', kind: 'openai', baseUrl: mock.baseUrl, keys: [MOCK_MEDIA_KEY] }]));
  });
  after(async () => {
    await mock.close();
    await closeCallContexts();
  });

  it('speech: the text, voice and format go up as JSON; the audio is stored; cost per character', async () => {
    const files = new MemoryFiles();
    const text = 'Hello from Modro, the model router.';
    const wav = await runner.run(
      model('openai/tts-1', 'speech'),
      { input: text, voice: 'alloy', format: 'wav' },
      runContext(files),
    );
    assert.deepEqual(mock.requests.at(-1)!.json, {
      model: 'tts-1',
      input: text,
      voice: 'alloy',
      response_format: 'wav',
    });
    const stored = await files.read('tenant-a', wav.output.files![0]!);
    assert.equal(stored?.meta.contentType, 'audio/wav');
    assert.equal(Buffer.from(stored!.bytes.subarray(0, 4)).toString('latin1'), 'RIFF');
    assert.deepEqual(wav.usage, { characters: text.length });
    assert.equal(wav.costNanoUsd, text.length * 15 * 1000); // $15 per million characters
    const mp3 = await runner.run(model('openai/tts-1-hd', 'speech'), { input: 'hi', voice: 'nova' }, runContext(files));
    assert.equal(mock.requests.at(-1)!.json!['response_format'], 'mp3');
    assert.equal((await files.read('tenant-a', mp3.output.files![0]!))?.meta.contentType, 'audio/mpeg');
    assert.equal(mp3.costNanoUsd, 2 * 30 * 1000);
    assert.equal(
      runner.estimateNanoUsd(model('openai/tts-1', 'speech'), { input: text, voice: 'alloy' }),
      wav.costNanoUsd,
    );
  });

  it('speech validation names the field', () => {
    assert.throws(
      () => runner.validate(model('openai/tts-1', 'speech'), { input: 'x' }),
      (err: GatewayError) => err.param === 'input.voice',
    );
    assert.throws(
      () => runner.validate(model('openai/tts-1', 'speech'), { input: 'x', voice: 'alloy', format: 'mp4' }),
      (err: GatewayError) => err.param === 'input.format',
    );
    assert.throws(
      () => runner.validate(model('openai/tts-1', 'speech'), { input: '', voice: 'alloy' }),
      (err: GatewayError) => err.param === 'input.input',
    );
  });

  it('whisper-1: the file goes up as multipart with its name, verbose_json; text, language and seconds from the recorded answer', async () => {
    const files = new MemoryFiles();
    const wav = toneWav(0.5, 300);
    const id = await files.upload('tenant-a', wav, 'audio/wav', 'meeting.wav');
    const result = await runner.run(
      model('openai/whisper-1', 'transcription'),
      { file: id, language: 'en' },
      runContext(files),
    );
    const sent = mock.requests.at(-1)!;
    assert.equal(sent.path, '/v1/audio/transcriptions');
    const part = sent.form!['file'] as { filename: string; type: string; bytes: Uint8Array };
    assert.deepEqual(
      { name: part.filename, type: part.type, bytes: part.bytes.byteLength },
      { name: 'meeting.wav', type: 'audio/wav', bytes: wav.byteLength },
    );
    assert.deepEqual(
      [sent.form!['model'], sent.form!['language'], sent.form!['response_format']],
      ['whisper-1', 'en', 'verbose_json'],
    );
    assert.equal(result.output.text, RECORDED_TRANSCRIPTION['text']);
    assert.equal(result.output.files, undefined);
    assert.equal(result.output.data?.['language'], 'english');
    assert.deepEqual(result.usage, { seconds: 37 });
    // The price library: $0.36 an audio hour = $0.0001 a second.
    assert.equal(result.costNanoUsd, 3_700_000);
    assert.ok(noUrlIn(result));
  });

  it('gpt-4o-transcribe: json, usage in tokens priced at the library’s audio and text rates', async () => {
    const files = new MemoryFiles();
    const id = await files.upload('tenant-a', toneWav(1, 300), 'audio/wav');
    const result = await runner.run(
      model('openai/gpt-4o-transcribe', 'transcription'),
      { file: id },
      runContext(files),
    );
    assert.equal(mock.requests.at(-1)!.form!['response_format'], 'json');
    const part = mock.requests.at(-1)!.form!['file'] as { filename: string };
    assert.equal(part.filename, 'audio.wav');
    const audio = Math.ceil(toneWav(1, 300).byteLength / 1000);
    const out = String(RECORDED_TRANSCRIPTION['text']).split(/\s+/).length;
    assert.deepEqual(result.usage, { inputTokens: audio + 3, outputTokens: out });
    assert.equal(result.costNanoUsd, audio * 6 * 1000 + 3 * 2.5 * 1000 + out * 10 * 1000);
  });

  it('a file that is not audio, or not the tenant’s, is refused naming input.file; the hold covers an hour', async () => {
    const files = new MemoryFiles();
    const png = await files.upload('tenant-a', new Uint8Array([0x89, 0x50, 0x4e, 0x47]), 'image/png');
    await assert.rejects(
      runner.run(model('openai/whisper-1', 'transcription'), { file: png }, runContext(files)),
      (err: GatewayError) =>
        err.code === 'invalid_request' && err.param === 'input.file' && /takes audio/.test(err.message),
    );
    const theirs = await files.upload('tenant-b', toneWav(0.1, 300), 'audio/wav');
    await assert.rejects(
      runner.run(model('openai/whisper-1', 'transcription'), { file: theirs }, runContext(files)),
      (err: GatewayError) => err.param === 'input.file' && /does not exist/.test(err.message),
    );
    assert.throws(
      () => runner.validate(model('openai/whisper-1', 'transcription'), { file: 'nope' }),
      (err: GatewayError) => err.param === 'input.file',
    );
    assert.equal(runner.estimateNanoUsd(model('openai/whisper-1', 'transcription'), { file: theirs }), 360_000_000);
  });

  it('an upstream 503 is a retryable provider_unavailable; an unsupported value is a final invalid_request', async () => {
    const files = new MemoryFiles();
    mock.faults.push({ status: 503, body: { error: { message: 'Service unavailable', type: 'server_error' } } });
    await assert.rejects(
      runner.run(model('openai/tts-1', 'speech'), { input: 'x', voice: 'alloy' }, runContext(files)),
      (err: GatewayError) => err.code === 'provider_unavailable' && err.retryable,
    );
    mock.faults.push({
      status: 400,
      body: {
        error: {
          message: "Invalid value: 'robot'.",
          type: 'invalid_request_error',
          param: 'voice',
          code: 'invalid_value',
        },
      },
    });
    await assert.rejects(
      runner.run(model('openai/tts-1', 'speech'), { input: 'x', voice: 'robot' }, runContext(files)),
      (err: GatewayError) => err.code === 'invalid_request' && !err.retryable && /robot/.test(err.message),
    );
    assert.equal(files.outputs().length, 0);
  });
});
