import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { crc32, deflate } from 'node:zlib';
import { IMAGE_TYPES, readInputFile } from '../media/input-files.ts';
import type { MediaAdapter, MediaCall, MediaOutcome } from '../media/media-adapter.ts';
import type { ImageInput, MediaInput, SpeechInput } from '../media/media-input.ts';
import { unsupported } from '../media/media-input.ts';

/**
 * The demo provider's media models, in-process, deterministic and free, so the executions walkthrough runs on
 * the zero-config default: `demo-image` makes a solid-colour PNG whose colour is the hash of the prompt (and of
 * the input image, when there is one: an edit changes the colour), `demo-speech` a WAV tone whose pitch is the
 * hash of the text, half a second per ten characters (1 to 10 seconds).
 */

const deflateAsync = promisify(deflate);
const MAX_SIDE = 2048;

function digest(...parts: Array<string | Uint8Array>): Buffer {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** A valid PNG, `width`×`height`, every pixel the colour `rgb`. */
export async function solidPng(width: number, height: number, rgb: [number, number, number]): Promise<Uint8Array> {
  const row = Buffer.alloc(1 + width * 3);
  for (let x = 0; x < width; x++) row.set(rgb, 1 + x * 3);
  const raw = Buffer.alloc(row.length * height);
  for (let y = 0; y < height; y++) row.copy(raw, y * row.length);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit, truecolour, deflate, no filter method, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', await deflateAsync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** A valid 16-bit mono PCM WAV at 8 kHz: a sine tone of `hz` for `seconds`. */
export function toneWav(seconds: number, hz: number): Uint8Array {
  const rate = 8_000;
  const samples = Math.round(seconds * rate);
  const out = Buffer.alloc(44 + samples * 2);
  out.write('RIFF', 0, 'latin1');
  out.writeUInt32LE(36 + samples * 2, 4);
  out.write('WAVEfmt ', 8, 'latin1');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(1, 20); // PCM
  out.writeUInt16LE(1, 22); // mono
  out.writeUInt32LE(rate, 24);
  out.writeUInt32LE(rate * 2, 28);
  out.writeUInt16LE(2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'latin1');
  out.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i++)
    out.writeInt16LE(Math.round(Math.sin((2 * Math.PI * hz * i) / rate) * 8_000), 44 + i * 2);
  return out;
}

/** Seconds of demo speech for a text. */
export function demoSpeechSeconds(text: string): number {
  return Math.min(10, Math.max(1, Math.ceil(text.length / 10) / 2));
}

export const demoMedia: MediaAdapter = {
  check(media, { model }) {
    if (media.kind !== 'image' && media.kind !== 'speech') {
      throw unsupported(media.kind === 'video' ? 'prompt' : 'file', `${model.id} makes images and speech only`);
    }
    if (media.kind === 'image' && media.input.size) {
      const [w, h] = media.input.size.split('x').map(Number) as [number, number];
      if (w > MAX_SIDE || h > MAX_SIDE)
        throw unsupported('size', `'input.size': ${model.id} makes at most ${MAX_SIDE}x${MAX_SIDE}`);
    }
  },
  async run(media: MediaInput, call: MediaCall): Promise<MediaOutcome> {
    if (media.kind === 'speech') {
      const input = media.input as SpeechInput;
      const hash = digest(input.voice, '\n', input.input);
      const hz = 220 + (hash.readUInt16BE(0) % 660);
      return {
        files: [{ bytes: toneWav(demoSpeechSeconds(input.input), hz), contentType: 'audio/wav' }],
        meter: { characters: input.input.length },
      };
    }
    const input = media.input as ImageInput;
    const source = input.image
      ? (
          await readInputFile(call, input.image, 'image', {
            types: IMAGE_TYPES,
            maxBytes: 50 * 1024 * 1024,
            what: 'PNG, JPEG or WebP images',
          })
        ).bytes
      : new Uint8Array(0);
    const [w, h] = (input.size ?? '256x256').split('x').map(Number) as [number, number];
    const files = [];
    for (let i = 0; i < (input.n ?? 1); i++) {
      const hash = digest(input.prompt, source, String(i));
      files.push({ bytes: await solidPng(w, h, [hash[0]!, hash[1]!, hash[2]!]), contentType: 'image/png' });
    }
    return { files, meter: { images: files.length, size: `${w}x${h}` } };
  },
};
