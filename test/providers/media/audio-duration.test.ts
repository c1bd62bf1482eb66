import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { toneWav } from '../../../src/providers/demo/media.ts';
import {
  audioSecondsBound,
  MIN_AUDIO_BITS_PER_SECOND,
  wavSeconds,
} from '../../../src/providers/media/audio-duration.ts';
import { upload } from '../../files/helpers.ts';
import { closeCallContexts } from '../../helpers/call-context.ts';
import { startGateway, TEST_API_KEY } from '../../helpers/gateway.ts';
import { MOCK_MEDIA_KEY, type MockOpenAIMedia, startMockOpenAIMedia } from '../../mocks/openai-media.ts';
import { MemoryFiles, mediaRunnerFor, model } from './support.ts';

/**
 * A transcription's hold from its audio file (docs/executions.md, Money): a WAV's duration from its header, any
 * other file bounded by its size at 6 kb/s, capped at an hour; a file that cannot be read keeps the hour.
 */

/** A WAV whose `data` chunk comes after a LIST chunk, as many recorders write it. */
function wavWithList(seconds: number): Uint8Array {
  const plain = Buffer.from(toneWav(seconds, 300));
  const list = Buffer.concat([Buffer.from('LIST', 'latin1'), Buffer.alloc(4), Buffer.alloc(26, 1)]);
  list.writeUInt32LE(26, 4);
  return Buffer.concat([plain.subarray(0, 36), list, plain.subarray(36)]);
}

describe('audio duration at submission', () => {
  it('a WAV says its duration (after other chunks too; from the bytes it holds, whatever its data chunk claims); others are bounded by size', () => {
    assert.equal(wavSeconds(toneWav(10, 300), toneWav(10, 300).byteLength), 10);
    assert.equal(wavSeconds(toneWav(2.5, 300), toneWav(2.5, 300).byteLength), 3, 'rounded up');
    const listed = wavWithList(7);
    assert.equal(wavSeconds(listed.subarray(0, 4096), listed.byteLength), 7);
    const streamed = Buffer.from(toneWav(4, 300));
    streamed.writeUInt32LE(0xffffffff, 40);
    assert.equal(wavSeconds(streamed, streamed.byteLength), 4);
    const understated = Buffer.from(toneWav(6, 300));
    understated.writeUInt32LE(16_000, 40); // claims 1 s of its 6
    assert.equal(wavSeconds(understated, understated.byteLength), 6, 'the file’s size, not the claim');
    const mp3 = Buffer.concat([Buffer.from('ID3\x04', 'latin1'), Buffer.alloc(74_996)]);
    assert.equal(audioSecondsBound(mp3, 75_000), Math.ceil((75_000 * 8) / MIN_AUDIO_BITS_PER_SECOND));
    assert.equal(audioSecondsBound(mp3, 75_000), 100);
    assert.equal(audioSecondsBound(new Uint8Array(), 0), undefined);
  });

  describe('the hold of an OpenAI transcription', () => {
    let mock: MockOpenAIMedia;
    const files = new MemoryFiles();
    let runner: ReturnType<typeof mediaRunnerFor>['runner'];
    before(async () => {
      mock = await startMockOpenAIMedia();
      runner = mediaRunnerFor(
        [{ id: 'openai', kind: 'openai', baseUrl: mock.baseUrl, keys: [MOCK_MEDIA_KEY] }],
        {},
        files,
      ).runner;
    });
    after(async () => {
      await mock.close();
      await closeCallContexts();
    });
    const hold = (file: string, id = 'openai/whisper-1') =>
      runner.plan(model(id, 'transcription'), { file }, { tenantId: 'tenant-a' }).then((p) => p.estimateNanoUsd);

    it('is the WAV’s seconds, the size’s bound for compressed audio, at most an hour, an hour when unreadable', async () => {
      // whisper-1: $0.0001 a second.
      const wav = await files.upload('tenant-a', toneWav(10, 300), 'audio/wav');
      assert.equal(await hold(wav), 10 * 100_000);
      const mp3 = await files.upload(
        'tenant-a',
        Buffer.concat([Buffer.from('ID3\x04'), Buffer.alloc(74_996)]),
        'audio/mpeg',
      );
      assert.equal(await hold(mp3), 100 * 100_000);
      const long = await files.upload('tenant-a', Buffer.alloc(3_000_000, 1), 'audio/webm');
      assert.equal(await hold(long), 3_600 * 100_000, 'capped at an hour');
      const theirs = await files.upload('tenant-b', toneWav(1, 300), 'audio/wav');
      assert.equal(await hold(theirs), 3_600 * 100_000, 'not the tenant’s: the default hour');
      assert.equal(await hold('file_00000000-0000-4000-8000-000000000000'), 3_600 * 100_000);
      // Token-metered transcribers scale the same way (about 10 audio tokens a second in, 5 out).
      const tokens10 = await hold(wav, 'openai/gpt-4o-transcribe');
      const tokensHour = await hold(theirs, 'openai/gpt-4o-transcribe');
      assert.equal(tokens10 * 360, tokensHour);
    });
  });

  it('through the gateway: the 202’s estimated_cost of a whisper-1 run on an uploaded 10 s WAV is 10 seconds', async () => {
    const mock = await startMockOpenAIMedia();
    const gw = await startGateway({
      demo: { enabled: false },
      logging: { level: 'fatal' },
      providers: [{ id: 'openai', kind: 'openai', baseUrl: mock.baseUrl, keys: [MOCK_MEDIA_KEY] }],
      executions: { enabled: false },
    });
    try {
      const up = await upload(gw, TEST_API_KEY, [
        { name: 'purpose', value: 'execution_input' },
        { name: 'file', bytes: toneWav(10, 300), filename: 'ten.wav', type: 'audio/wav' },
      ]);
      const file = (await up.json()) as { id: string };
      assert.equal(up.status, 200, JSON.stringify(file));
      const res = await gw.post('/v1/executions', { model: 'openai/whisper-1', input: { file: file.id } });
      const created = (await res.json()) as { estimated_cost: string };
      assert.equal(res.status, 202, JSON.stringify(created));
      assert.equal(created.estimated_cost, '0.001000000');
    } finally {
      await gw.close();
      await mock.close();
    }
  });
});
