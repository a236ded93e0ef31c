/** Small IPv4 CIDR helpers used by the environment schema (no dependencies, no I/O). */

export interface Ipv4Cidr {
  /** Network address as an unsigned 32-bit integer. */
  base: number;
  /** Prefix length, 0-32. */
  prefix: number;
}

const CIDR_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** Parses "10.0.0.0/16"; returns undefined for anything that is not a canonical IPv4 CIDR block. */
export function parseCidr(text: string): Ipv4Cidr | undefined {
  const m = CIDR_RE.exec(text);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return undefined;
  const base = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  // Host bits set ("10.0.0.1/16") is almost always a typo; refuse it rather than guess.
  if ((base & mask) >>> 0 !== base) return undefined;
  return { base, prefix };
}

export function isCidr(text: string): boolean {
  return parseCidr(text) !== undefined;
}

/** True when the two blocks share at least one address. */
export function cidrsOverlap(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  if (!x || !y) return false;
  const prefix = Math.min(x.prefix, y.prefix);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return (x.base & mask) >>> 0 === (y.base & mask) >>> 0;
}

function format(base: number, prefix: number): string {
  return `${base >>> 24}.${(base >>> 16) & 255}.${(base >>> 8) & 255}.${base & 255}/${prefix}`;
}

/**
 * Splits `cidr` into `count` equal subnets of `newPrefix` bits, starting at `offset` subnets in.
 * Used to carve public and private subnets out of the VPC block deterministically.
 */
export function subnetCidrs(cidr: string, newPrefix: number, count: number, offset = 0): string[] {
  const parsed = parseCidr(cidr);
  if (!parsed) throw new Error(`"${cidr}" is not an IPv4 CIDR block`);
  if (newPrefix < parsed.prefix || newPrefix > 28) {
    throw new Error(`cannot carve /${newPrefix} subnets out of ${cidr}`);
  }
  const size = 2 ** (32 - newPrefix);
  const available = 2 ** (newPrefix - parsed.prefix);
  if (offset + count > available) {
    throw new Error(`${cidr} holds only ${available} subnets of /${newPrefix}, ${offset + count} were asked for`);
  }
  return Array.from({ length: count }, (_, i) => format(parsed.base + (offset + i) * size, newPrefix));
}
