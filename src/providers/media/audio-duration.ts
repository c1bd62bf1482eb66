/**
 * How long an audio file can be, read cheaply at submission to size a transcription's hold (docs/executions.md):
 * a WAV file says it in its header (the data chunk's size over the format's bytes per second); any other format
 * is bounded by its size at a bitrate no speech codec goes below. The result is rounded up and capped by the
 * caller; undefined when nothing can be said (an empty or unreadable file).
 */

/** Bits per second no compressed speech file goes below (Opus' and AMR's lowest modes are about 6 kb/s). */
export const MIN_AUDIO_BITS_PER_SECOND = 6_000;

/** The most seconds `head` (the file's first bytes) and its size allow; WAV exactly, others as a bound. */
export function audioSecondsBound(head: Uint8Array, totalBytes: number): number | undefined {
  if (totalBytes <= 0) return undefined;
  const wav = wavSeconds(head, totalBytes);
  if (wav !== undefined) return wav;
  return Math.ceil((totalBytes * 8) / MIN_AUDIO_BITS_PER_SECOND);
}

/** A RIFF/WAVE file's duration from its `fmt ` and `data` chunks; undefined when `head` is not one. */
export function wavSeconds(head: Uint8Array, totalBytes: number): number | undefined {
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (b.byteLength < 12 || b.toString('latin1', 0, 4) !== 'RIFF' || b.toString('latin1', 8, 12) !== 'WAVE') {
    return undefined;
  }
  let byteRate: number | undefined;
  for (let at = 12; at + 8 <= b.byteLength; ) {
    const id = b.toString('latin1', at, at + 4);
    const size = b.readUInt32LE(at + 4);
    if (id === 'fmt ' && at + 16 <= b.byteLength) byteRate = b.readUInt32LE(at + 16);
    if (id === 'data') {
      if (!byteRate) return undefined;
      // Everything after the chunk's header, not the size it declares: a streamed WAV declares 0 or 0xFFFFFFFF,
      // and a header declaring less than the file holds must not shrink the hold.
      return Math.ceil(Math.max(0, totalBytes - (at + 8)) / byteRate);
    }
    at += 8 + size + (size % 2);
  }
  return undefined;
}
