import { lookup as dnsLookup } from 'node:dns/promises';
import { type BlockList, isIP } from 'node:net';
import { blockListOf } from '../core/cidr.ts';
import { GatewayError } from '../core/errors.ts';

/**
 * Where webhooks may go (docs/security.md): http or https to a public address. Private, loopback, link-local,
 * CGNAT, multicast, unspecified, reserved and documentation ranges are refused, in IPv4, IPv6 and IPv6 forms
 * that carry an IPv4 address (mapped, NAT64, 6to4), unless the operator allows them
 * (`webhooks.allowPrivateNetworks`, or `webhooks.allowedNetworks` ranges).
 *
 * A hostname is resolved once per attempt, every address it resolves to is checked, and the connection goes
 * to the checked address (send.ts pins it), so a resolver that answers a public address to the check and a
 * private one to the connection (DNS rebinding) reaches nothing.
 */

const REFUSED_V4 = [
  '0.0.0.0/8', // "this network", unspecified
  '10.0.0.0/8', // private
  '100.64.0.0/10', // carrier-grade NAT
  '127.0.0.0/8', // loopback
  '169.254.0.0/16', // link-local (cloud metadata at 169.254.169.254)
  '172.16.0.0/12', // private
  '192.0.0.0/24', // IETF protocol assignments
  '192.0.2.0/24', // documentation
  '192.88.99.0/24', // 6to4 relay anycast
  '192.168.0.0/16', // private
  '198.18.0.0/15', // benchmarking
  '198.51.100.0/24', // documentation
  '203.0.113.0/24', // documentation
  '224.0.0.0/4', // multicast
  '240.0.0.0/4', // reserved, broadcast
];
const REFUSED_V6 = [
  '::/128', // unspecified
  '::1/128', // loopback
  '100::/64', // discard
  '2001:db8::/32', // documentation
  'fc00::/7', // unique local
  'fe80::/10', // link-local
  'fec0::/10', // site-local (deprecated)
  'ff00::/8', // multicast
];

const refused = blockListOf([...REFUSED_V4, ...REFUSED_V6]);

export interface AddressPolicyOptions {
  allowPrivateNetworks: boolean;
  /** CIDR ranges allowed although refused by default. */
  allowedNetworks: readonly string[];
}

/** An address the policy checked: the only kind a webhook connection is given. */
export interface CheckedAddress {
  address: string;
  family: 4 | 6;
}

export type Lookup = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

export const systemLookup: Lookup = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

export class AddressPolicy {
  readonly #allowAll: boolean;
  readonly #allowed: BlockList | undefined;

  constructor(options: AddressPolicyOptions) {
    this.#allowAll = options.allowPrivateNetworks;
    this.#allowed = options.allowedNetworks.length > 0 ? blockListOf(options.allowedNetworks) : undefined;
  }

  /** Whether a webhook may connect to this IP address (any textual form of IPv4 or IPv6). */
  allows(address: string): boolean {
    if (this.#allowAll) return true;
    const ip = normalise(address);
    if (!ip) return false;
    if (this.#allowed && check(this.#allowed, ip)) return true;
    return !isRefused(ip);
  }

  /**
   * Resolves a URL's host once and checks every address it has: the addresses to connect to (all checked), or
   * the reason none may be used. An IP literal is checked as it is.
   */
  async resolve(
    url: URL,
    lookup: Lookup,
  ): Promise<{ ok: true; addresses: CheckedAddress[] } | { ok: false; error: string }> {
    const host = hostOf(url);
    if (isIP(host) !== 0) {
      return this.allows(host)
        ? { ok: true, addresses: [{ address: host, family: isIP(host) as 4 | 6 }] }
        : { ok: false, error: 'blocked_address' };
    }
    let addresses: Array<{ address: string; family: number }>;
    try {
      addresses = await lookup(host);
    } catch {
      return { ok: false, error: 'dns_failure' };
    }
    if (addresses.length === 0) return { ok: false, error: 'dns_failure' };
    // One refused address refuses the host: which one a connection would get is not ours to choose.
    if (!addresses.every((a) => this.allows(a.address))) return { ok: false, error: 'blocked_address' };
    return {
      ok: true,
      addresses: addresses.map((a) => ({ address: a.address, family: isIP(a.address) === 6 ? 6 : 4 })),
    };
  }
}

/** The host of a URL without IPv6 brackets. */
export function hostOf(url: URL): string {
  const host = url.hostname;
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

const MAX_URL_CHARS = 2048;

/**
 * Checks a webhook URL when an execution is submitted: http(s), at most 2,048 characters, no credentials in
 * it, and, when its host is an IP address, one the policy allows (a hostname is checked at each attempt,
 * when it is resolved). Throws GatewayError('invalid_request', param `webhook_url`).
 */
export function validateWebhookUrl(value: unknown, policy: AddressPolicy): URL {
  const invalid = (why: string) => new GatewayError('invalid_request', `webhook_url ${why}`, { param: 'webhook_url' });
  if (typeof value !== 'string' || value === '') throw invalid('must be a non-empty string');
  if (value.length > MAX_URL_CHARS) throw invalid(`must be at most ${MAX_URL_CHARS} characters`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid('is not an absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid('must use http or https');
  if (url.username !== '' || url.password !== '') throw invalid('must not carry credentials (user:password@)');
  const host = hostOf(url);
  if (host === '') throw invalid('has no host');
  if (isIP(host) !== 0 && !policy.allows(host)) {
    throw invalid('points to a private, loopback, link-local or reserved address, which webhooks may not reach');
  }
  if (isIP(host) === 0 && /^(localhost|.*\.localhost)$/i.test(host.replace(/\.$/, '')) && !policy.allows('127.0.0.1')) {
    throw invalid('points to localhost, which webhooks may not reach');
  }
  return url;
}

/** An address as `{ v4 }` or `{ v6 }`, IPv6 forms that embed an IPv4 address (mapped, NAT64, 6to4) as that address. */
type Ip = { family: 'ipv4'; text: string } | { family: 'ipv6'; text: string };

function normalise(address: string): Ip | undefined {
  const text = address.startsWith('[') ? address.slice(1, -1) : address;
  const version = isIP(text);
  if (version === 4) return { family: 'ipv4', text };
  if (version !== 6) return undefined;
  const words = expandV6(text.split('%')[0]!);
  if (!words) return undefined;
  const embedded = embeddedV4(words);
  return embedded ? { family: 'ipv4', text: embedded } : { family: 'ipv6', text };
}

function check(list: BlockList, ip: Ip): boolean {
  return list.check(ip.text, ip.family);
}

function isRefused(ip: Ip): boolean {
  return check(refused, ip);
}

/** The IPv4 address inside ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible), 64:ff9b::/96 (NAT64), 2002::/16 (6to4). */
function embeddedV4(w: number[]): string | undefined {
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  const zeros = (from: number, to: number) => w.slice(from, to).every((x) => x === 0);
  if (zeros(0, 5) && w[5] === 0xffff) return v4(w[6]!, w[7]!);
  if (zeros(0, 6) && (w[6] !== 0 || w[7]! > 1)) return v4(w[6]!, w[7]!);
  if (w[0] === 0x64 && w[1] === 0xff9b && zeros(2, 6)) return v4(w[6]!, w[7]!);
  if (w[0] === 0x2002) return v4(w[1]!, w[2]!);
  return undefined;
}

/** Eight 16-bit words of an IPv6 address (already known valid by isIP). */
function expandV6(text: string): number[] | undefined {
  let head = text;
  const tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    tail.push((a << 8) | b, (c << 8) | d);
    head = text.slice(0, -dotted[1]!.length);
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((h) => Number.parseInt(h, 16)));
  const gap = head.indexOf('::');
  let words: number[];
  if (gap >= 0) {
    const left = parse(head.slice(0, gap));
    const right = [...parse(head.slice(gap + 2)), ...tail];
    const fill = 8 - left.length - right.length;
    if (fill < 0) return undefined;
    words = [...left, ...new Array<number>(fill).fill(0), ...right];
  } else {
    words = [...parse(head), ...tail];
  }
  return words.length === 8 && words.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffff) ? words : undefined;
}
