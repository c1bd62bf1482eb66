import type { SpeechCreateParams } from 'openai/resources/audio/speech';
import type { Transcription, TranscriptionVerbose } from 'openai/resources/audio/transcriptions';
import type { MediaMeter } from '../../billing/media-cost.ts';
import { AUDIO_TYPES, readInputFile, uploadName } from './input-files.ts';
import type { MediaAdapter, MediaCall, MediaOutcome } from './media-adapter.ts';
import { multipartBody, sniffContentType } from './media-http.ts';
import type { MediaInput, SpeechInput, TranscriptionInput } from './media-input.ts';
import { unsupported } from './media-input.ts';
import { malformed, openAIBytes, openAIJSON, openAIModelName } from './openai-media-call.ts';

/**
 * OpenAI audio.
 * - Speech: `POST /v1/audio/speech` `{model, input, voice, response_format}` → the audio bytes. Priced per
 *   character of input (tts-1, tts-1-hd; gpt-4o-mini-tts at OpenAI's per-minute estimate, kinds/openai.ts).
 * - Transcription: `POST /v1/audio/transcriptions` multipart (`file`, `model`, `language`, `response_format`)
 *   → `{text, usage}`: whisper-1 reports `usage.type: duration` (seconds, priced per audio hour by the price
 *   library), the gpt-4o transcribers `usage.type: tokens` (audio and text input, text output).
 * @see https://platform.openai.com/docs/api-reference/audio/createSpeech
 * @see https://platform.openai.com/docs/api-reference/audio/createTranscription
 */

const SPEECH_TYPES: Record<string, string> = {
  mp3: 'audio/mpeg',
  opus: 'audio/ogg',
  aac: 'audio/aac',
  flac: 'audio/flac',
  wav: 'audio/wav',
  pcm: 'audio/pcm',
};

/** OpenAI's limit on one transcribed file. */
export const MAX_TRANSCRIPTION_BYTES = 25 * 1024 * 1024;
/**
 * The most audio a transcription is held at, in seconds: the cap of the duration read from the file at submission
 * (runner.ts, audio-duration.ts), and the hold when it cannot be read (25 MB of compressed speech can run past an
 * hour).
 */
export const HELD_TRANSCRIPTION_SECONDS = 3_600;

export const openAISpeech: MediaAdapter = {
  check(media, { model }) {
    if (media.kind !== 'speech') throw unsupported('input', `${model.id} makes speech only`);
  },
  worstMeter: (media) => ({ characters: (media.input as SpeechInput).input.length }),
  async run(media: MediaInput, call: MediaCall): Promise<MediaOutcome> {
    const input = media.input as SpeechInput;
    const format = input.format ?? 'mp3';
    const params: SpeechCreateParams = {
      model: call.target.model.upstreamName,
      input: input.input,
      voice: input.voice,
      response_format: format,
    };
    const body = JSON.stringify(params);
    const { bytes, contentType } = await openAIBytes(call, 'audio/speech', body);
    if (bytes.byteLength === 0) throw malformed(call, 'no audio');
    const type = format === 'pcm' ? 'audio/pcm' : sniffContentType(bytes, contentType ?? SPEECH_TYPES[format]);
    return { files: [{ bytes, contentType: type }], meter: { characters: input.input.length } };
  },
};

export const openAITranscription: MediaAdapter = {
  check(media, { model }) {
    if (media.kind !== 'transcription') throw unsupported('file', `${model.id} transcribes audio only`);
  },
  worstMeter(_media, { model }, facts) {
    const seconds = facts?.audioSeconds ?? HELD_TRANSCRIPTION_SECONDS;
    // Token-metered transcribers: about 10 audio tokens a second in, a few text tokens a second out.
    return openAIModelName(model).startsWith('whisper')
      ? { seconds }
      : { seconds: 0, audioInputTokens: seconds * 10, outputTokens: seconds * 5 };
  },
  async run(media: MediaInput, call: MediaCall): Promise<MediaOutcome> {
    const input = media.input as TranscriptionInput;
    const whisper = openAIModelName(call.target.model).startsWith('whisper');
    const file = await readInputFile(call, input.file, 'file', {
      types: AUDIO_TYPES,
      maxBytes: MAX_TRANSCRIPTION_BYTES,
      what: 'audio (flac, m4a, mp3, mp4, mpeg, ogg, wav or webm)',
    });
    const form = await multipartBody({
      file: { bytes: file.bytes, contentType: file.meta.contentType, filename: uploadName(file.meta, 'audio') },
      model: call.target.model.upstreamName,
      language: input.language,
      // verbose_json (whisper-1 only) adds the language and duration; the gpt-4o transcribers answer json.
      response_format: whisper ? 'verbose_json' : 'json',
    });
    const json = await openAIJSON<TranscriptionAnswer>(call, 'audio/transcriptions', form.body, form.contentType);
    const text = json.text;
    if (typeof text !== 'string') throw malformed(call, 'no transcript');
    const data: Record<string, unknown> = {};
    if (typeof json.language === 'string') data['language'] = json.language;
    if (typeof json.duration === 'number') data['duration'] = json.duration;
    return { files: [], text, meter: transcriptionMeter(json), ...(Object.keys(data).length > 0 ? { data } : {}) };
  },
};

/** A transcription answer as OpenAI types it: `json` (with usage in tokens or seconds) or `verbose_json`. */
type TranscriptionAnswer = Omit<Transcription, 'usage'> &
  Omit<TranscriptionVerbose, 'usage'> & { usage?: Transcription['usage'] | TranscriptionVerbose['usage'] };

function transcriptionMeter(json: Partial<TranscriptionAnswer>): MediaMeter {
  const usage = json.usage;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);
  if (usage?.type === 'tokens') {
    const details = usage.input_token_details;
    const audio = num(details?.audio_tokens);
    const textIn = details ? num(details.text_tokens) : Math.max(0, num(usage.input_tokens) - audio);
    return { audioInputTokens: audio, textInputTokens: textIn, outputTokens: num(usage.output_tokens) };
  }
  // usage.type duration (whole seconds, as OpenAI bills), else the verbose answer's duration rounded up.
  const seconds = usage?.type === 'duration' ? num(usage.seconds) : Math.ceil(num(json.duration));
  return { seconds };
}
