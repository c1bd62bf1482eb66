import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { GatewayError } from '../../core/errors.ts';
import type { ImageSource, Message } from '../../core/ir.ts';
import type { UpstreamPool } from '../http.ts';
import { Agent, request } from '../undici-core.ts';
import type { BedrockImageBlock, BedrockImageFormat } from './bedrock-api-types.ts';

/**
 * Images for Converse. Bedrock takes image bytes (base64 in JSON) or an `s3://` location, never an http(s)
 * URL, so http(s) image URLs are fetched here, the way OpenAI and Anthropic fetch them for their callers:
 * - only http and https, at most 3 redirects, each hop checked;
 * - never to loopback, private, link-local (cloud metadata), carrier-grade NAT, multicast or reserved
 *   addresses: the check runs on the address the connection actually uses (DNS answers included), unless the
 *   provider sets `imageUrlAllowPrivate: "true"` (an intranet image host);
 * - at most 3.75 MB (Bedrock's per-image limit), png/jpeg/gif/webp by their magic bytes.
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ImageBlock.html
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ImageSource.html
 */

export const MAX_IMAGE_BYTES = 3_932_160;
const MAX_REDIRECTS = 3;
const FETCH_TIMEOUT_MS = 15_000;

const MEDIA_TYPES: Record<string, BedrockImageFormat> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/jpg': 'jpeg',
  'image/pjpeg': 'jpeg',
  'image/gif': 'gif',
  'image/webp': 'webp',
};

export function imageFormatFromMediaType(mediaType: string): BedrockImageFormat | undefined {
  return MEDIA_TYPES[mediaType.split(';')[0]!.trim().toLowerCase()];
}

/** The format by the file's own magic bytes, which beat a Content-Type header or a file name. */
export function sniffImageFormat(bytes: Uint8Array): BedrockImageFormat | undefined {
  const b = bytes;
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 6 && b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x38) return 'gif';
  if (
    b.length >= 12 &&
    b[0] === 0x52 &&
    b[1] === 0x49 &&
    b[2] === 0x46 &&
    b[3] === 0x46 &&
    b[8] === 0x57 &&
    b[9] === 0x45 &&
    b[10] === 0x42 &&
    b[11] === 0x50
  ) {
    return 'webp';
  }
  return undefined;
}

const S3_EXTENSIONS: Record<string, BedrockImageFormat> = {
  png: 'png',
  jpg: 'jpeg',
  jpeg: 'jpeg',
  gif: 'gif',
  webp: 'webp',
};

function unsupported(message: string): GatewayError {
  return new GatewayError('invalid_request', message, { param: 'messages' });
}

/** Converts an IR image to a Bedrock image block; http(s) URLs must have been fetched into `fetched` first. */
export function toBedrockImage(
  source: ImageSource,
  fetched: ReadonlyMap<string, BedrockImageBlock>,
): BedrockImageBlock {
  if (source.kind === 'base64') {
    const format =
      imageFormatFromMediaType(source.mediaType) ?? sniffImageFormat(Buffer.from(source.data.slice(0, 24), 'base64'));
    if (!format) throw unsupported(`Image type ${source.mediaType} is not supported by Bedrock (png, jpeg, gif, webp)`);
    return { format, source: { bytes: source.data } };
  }
  const url = source.url;
  if (url.startsWith('s3://')) {
    const extension = /\.([a-z0-9]+)$/i.exec(new URL(url).pathname)?.[1]?.toLowerCase() ?? '';
    const format = S3_EXTENSIONS[extension];
    if (!format) throw unsupported('An s3:// image URL must end in .png, .jpg, .jpeg, .gif or .webp');
    return { format, source: { s3Location: { uri: url } } };
  }
  const block = fetched.get(url);
  if (!block) throw unsupported('Image URLs must use http, https or s3');
  return block;
}

/** Every http(s) image URL of a conversation, once each. */
export function imageUrlsToFetch(messages: Message[]): string[] {
  const urls = new Set<string>();
  for (const message of messages) {
    if (message.role !== 'user' && message.role !== 'tool') continue;
    for (const part of message.content) {
      if (part.type === 'image' && part.source.kind === 'url' && /^https?:\/\//i.test(part.source.url)) {
        urls.add(part.source.url);
      }
    }
  }
  return [...urls];
}

// ---------- guarded fetching ----------

const PRIVATE = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  PRIVATE.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  PRIVATE.addSubnet(network, prefix, 'ipv6');
}

export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return PRIVATE.check(address, 'ipv4');
  if (family === 6) {
    // IPv4-mapped addresses are checked as the IPv4 address they carry (BlockList would not map them).
    const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (dotted) return PRIVATE.check(dotted[1]!, 'ipv4');
    const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
    if (hex) {
      const high = Number.parseInt(hex[1]!, 16);
      const low = Number.parseInt(hex[2]!, 16);
      return PRIVATE.check(`${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`, 'ipv4');
    }
    return PRIVATE.check(address, 'ipv6');
  }
  return true;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A DNS lookup for sockets that refuses private answers, so a name that resolves inward cannot be reached. */
export function guardedLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    const list = addresses as LookupAddress[];
    if (list.length === 0 || list.some((entry) => isPrivateAddress(entry.address))) {
      const blocked: NodeJS.ErrnoException = new Error('Image host resolves to a private address');
      blocked.code = 'EPRIVATEADDRESS';
      return callback(blocked, []);
    }
    if (options.all) return callback(null, list);
    return callback(null, list[0]!.address, list[0]!.family);
  });
}

function agentFor(pool: UpstreamPool, allowPrivate: boolean): Agent {
  if (allowPrivate) return pool.named('bedrock-images', () => new Agent({ connect: { timeout: FETCH_TIMEOUT_MS } }));
  return pool.named(
    'bedrock-images-guarded',
    () => new Agent({ connect: { timeout: FETCH_TIMEOUT_MS, lookup: guardedLookup } }),
  );
}

export interface FetchImageOptions {
  signal: AbortSignal;
  /** The runtime's connection pools (image fetches get agents of their own there). */
  pool: UpstreamPool;
  allowPrivate?: boolean;
}

/** Fetches one image URL into a Bedrock image block. Errors never quote the URL (it may carry a signature). */
export async function fetchImage(rawUrl: string, options: FetchImageOptions): Promise<BedrockImageBlock> {
  const signal = AbortSignal.any([options.signal, AbortSignal.timeout(FETCH_TIMEOUT_MS)]);
  let url = new URL(rawUrl);
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw unsupported('Image URLs must use http or https');
    const host = url.hostname.replace(/^\[|\]$/g, '');
    // Literal addresses never reach the DNS guard, so they are checked here.
    if (!options.allowPrivate && isIP(host) && isPrivateAddress(host)) {
      throw unsupported('Image URLs may not point at private or local addresses');
    }
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(url, {
        method: 'GET',
        dispatcher: agentFor(options.pool, options.allowPrivate ?? false),
        headers: { accept: 'image/png, image/jpeg, image/gif, image/webp' },
        signal,
        headersTimeout: FETCH_TIMEOUT_MS,
        bodyTimeout: FETCH_TIMEOUT_MS,
      });
    } catch (err) {
      if (options.signal.aborted)
        throw new GatewayError('timeout', 'Request cancelled', { cause: err, failover: false });
      const code = (err as NodeJS.ErrnoException | undefined)?.code;
      if (code === 'EPRIVATEADDRESS') throw unsupported('Image URLs may not point at private or local addresses');
      throw new GatewayError('invalid_request', 'An image URL could not be fetched', { param: 'messages', cause: err });
    }
    if (res.statusCode >= 300 && res.statusCode < 400 && res.headers['location']) {
      res.body.resume();
      const location = res.headers['location'];
      url = new URL(Array.isArray(location) ? location[0]! : location, url);
      continue;
    }
    if (res.statusCode !== 200) {
      res.body.resume();
      throw unsupported(`An image URL could not be fetched (status ${res.statusCode})`);
    }
    const bytes = await readCapped(res.body);
    const format = sniffImageFormat(bytes);
    if (!format) throw unsupported('An image URL did not return a png, jpeg, gif or webp image');
    return { format, source: { bytes: Buffer.from(bytes).toString('base64') } };
  }
  throw unsupported('An image URL redirected too many times');
}

async function readCapped(body: AsyncIterable<Buffer> & { destroy(): void }): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      size += chunk.length;
      if (size > MAX_IMAGE_BYTES) {
        body.destroy();
        throw unsupported('An image is larger than Bedrock accepts (3.75 MB)');
      }
      chunks.push(chunk);
    }
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    throw new GatewayError('invalid_request', 'An image URL could not be fetched', { param: 'messages', cause: err });
  }
  return Buffer.concat(chunks);
}

/** Fetches every http(s) image of the conversation, in parallel. */
export async function fetchImages(
  messages: Message[],
  options: FetchImageOptions,
): Promise<Map<string, BedrockImageBlock>> {
  const urls = imageUrlsToFetch(messages);
  const blocks = await Promise.all(urls.map((url) => fetchImage(url, options)));
  return new Map(urls.map((url, i) => [url, blocks[i]!]));
}
