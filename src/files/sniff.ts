/**
 * The real type of a file from its first bytes (magic numbers), for images, audio and video (and PDF), so a
 * client cannot store an HTML page as `image/png`. Only formats with a signature worth trusting are named;
 * anything else is undefined.
 *
 * @see https://mimesniff.spec.whatwg.org/#matching-an-image-type-pattern
 * @see https://mimesniff.spec.whatwg.org/#matching-an-audio-or-video-type-pattern
 */

/** Bytes needed to recognise every format below. */
export const SNIFF_BYTES = 64;

export function sniffType(head: Uint8Array): string | undefined {
  const ascii = (from: number, to: number) => String.fromCharCode(...head.subarray(from, to));
  const starts = (...bytes: number[]) => bytes.every((b, i) => head[i] === b);
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'image/png';
  if (starts(0xff, 0xd8, 0xff)) return 'image/jpeg';
  if (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a') return 'image/gif';
  if (starts(0x49, 0x49, 0x2a, 0x00) || starts(0x4d, 0x4d, 0x00, 0x2a)) return 'image/tiff';
  if (ascii(0, 4) === 'RIFF') {
    const form = ascii(8, 12);
    if (form === 'WEBP') return 'image/webp';
    if (form === 'WAVE') return 'audio/wav';
    if (form === 'AVI ') return 'video/x-msvideo';
    return undefined;
  }
  if (ascii(4, 8) === 'ftyp') return isoMediaType(ascii(8, 12));
  if (starts(0x1a, 0x45, 0xdf, 0xa3)) {
    return ascii(0, Math.min(head.length, SNIFF_BYTES)).includes('webm') ? 'video/webm' : 'video/x-matroska';
  }
  if (ascii(0, 4) === 'OggS') return 'audio/ogg';
  if (ascii(0, 4) === 'fLaC') return 'audio/flac';
  if (ascii(0, 3) === 'ID3') return 'audio/mpeg';
  if (head[0] === 0xff && head[1] !== undefined) {
    // ADTS AAC: 1111 1111 1111 x00x; MPEG audio frame: 1111 1111 111x xxx1 with a layer set.
    if ((head[1] & 0xf6) === 0xf0) return 'audio/aac';
    if ((head[1] & 0xe0) === 0xe0 && (head[1] & 0x06) !== 0) return 'audio/mpeg';
  }
  if (ascii(0, 5) === '%PDF-') return 'application/pdf';
  return undefined;
}

/** An ISO base media file (`ftyp` box) by its major brand. */
function isoMediaType(brand: string): string {
  if (brand === 'avif' || brand === 'avis') return 'image/avif';
  if (brand === 'heic' || brand === 'heix' || brand === 'mif1' || brand === 'msf1') return 'image/heic';
  if (brand.startsWith('M4A') || brand.startsWith('M4B')) return 'audio/mp4';
  if (brand === 'qt  ') return 'video/quicktime';
  if (brand.startsWith('3gp') || brand.startsWith('3g2')) return 'video/3gpp';
  return 'video/mp4';
}

const ALIASES: Record<string, string> = {
  'image/jpg': 'image/jpeg',
  'image/pjpeg': 'image/jpeg',
  'image/heif': 'image/heic',
  'audio/mp3': 'audio/mpeg',
  'audio/mpeg3': 'audio/mpeg',
  'audio/x-mpeg': 'audio/mpeg',
  'audio/x-wav': 'audio/wav',
  'audio/wave': 'audio/wav',
  'audio/vnd.wave': 'audio/wav',
  'audio/x-flac': 'audio/flac',
  'audio/x-aac': 'audio/aac',
  'audio/x-m4a': 'audio/mp4',
  'audio/m4a': 'audio/mp4',
  'video/x-m4v': 'video/mp4',
  'video/avi': 'video/x-msvideo',
  'application/x-pdf': 'application/pdf',
};

/** Containers whose signature does not tell audio from video (or one brand from another): one family each. */
const FAMILIES: ReadonlyArray<ReadonlySet<string>> = [
  new Set(['video/mp4', 'audio/mp4', 'video/quicktime', 'video/3gpp', 'audio/3gpp', 'audio/aac']),
  new Set(['video/webm', 'audio/webm', 'video/x-matroska', 'audio/x-matroska']),
  new Set(['audio/ogg', 'video/ogg', 'application/ogg', 'audio/opus']),
];

/** A declared content type, lower case, without parameters, aliases resolved; undefined when it says nothing. */
export function normalizeType(declared: string | undefined): string | undefined {
  const type = declared?.split(';')[0]?.trim().toLowerCase();
  if (!type || type === 'application/octet-stream' || !/^[a-z0-9.+-]+\/[a-z0-9.+-]+$/.test(type)) return undefined;
  return ALIASES[type] ?? type;
}

/** Whether a declared type fits the sniffed one (equal, or the same container family). */
export function typesAgree(declared: string, sniffed: string): boolean {
  if (declared === sniffed) return true;
  return FAMILIES.some((family) => family.has(declared) && family.has(sniffed));
}

/** Whether a type matches one of the patterns (`image/png`, `image/*`, `*\/*`). */
export function typeAllowed(patterns: readonly string[], type: string): boolean {
  const [top] = type.split('/');
  return patterns.some((p) => p === '*/*' || p === type || p === `${top}/*`);
}

/** Whether every pattern is an image, audio or video type: files of such a purpose must be recognised by sniffing. */
export function mediaOnly(patterns: readonly string[]): boolean {
  return patterns.every((p) => /^(image|audio|video)\//.test(p));
}
