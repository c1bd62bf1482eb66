import { BlockList, isIP } from 'node:net';

/**
 * IPv4 and IPv6 address ranges in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`, or one address), matched with
 * node:net's BlockList. An IPv4 client seen on a dual-stack socket as `::ffff:a.b.c.d` matches IPv4 ranges.
 */
export interface Cidr {
  address: string;
  family: 'ipv4' | 'ipv6';
  prefix: number;
}

/** Parses one range; returns a sentence saying what is wrong instead when it is not one. */
export function parseCidr(text: string): Cidr | string {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const address = slash < 0 ? trimmed : trimmed.slice(0, slash);
  const version = isIP(address);
  if (version === 0) return `'${trimmed.slice(0, 60)}' is not an IPv4 or IPv6 address or CIDR range`;
  const max = version === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const bits = trimmed.slice(slash + 1);
    if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) {
      return `'${trimmed.slice(0, 60)}': the prefix length must be a whole number from 0 to ${max}`;
    }
    prefix = Number(bits);
  }
  return { address, family: version === 4 ? 'ipv4' : 'ipv6', prefix };
}

/** The CIDR problems of a list, one sentence each (empty: the list is valid). */
export function cidrProblems(list: readonly string[]): string[] {
  return list.map(parseCidr).filter((c): c is string => typeof c === 'string');
}

/** A BlockList holding every range of a list that `cidrProblems` accepted. */
export function blockListOf(list: readonly string[]): BlockList {
  const blocks = new BlockList();
  for (const text of list) {
    const cidr = parseCidr(text);
    if (typeof cidr === 'string') throw new Error(cidr);
    blocks.addSubnet(cidr.address, cidr.prefix, cidr.family);
  }
  return blocks;
}

/** Whether an address (as a socket reports it) lies in one of the ranges. Unparseable addresses never do. */
export function inRanges(blocks: BlockList, address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return blocks.check(mapped[1]!, 'ipv4') || blocks.check(address, 'ipv6');
  const version = isIP(address);
  if (version === 0) return false;
  return blocks.check(address, version === 4 ? 'ipv4' : 'ipv6');
}
