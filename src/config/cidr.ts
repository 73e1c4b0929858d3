/**
 * IP networks for authorization rules and trusted proxies. Every address is held as eight 16-bit
 * groups, IPv4 as an IPv4-mapped IPv6 address (::ffff:a.b.c.d, RFC 4291
 * §2.5.5.2): a dual-stack socket reports IPv4 clients in that form, and it
 * must match IPv4 networks exactly as the plain dotted form does.
 */

/** A parsed network: its address with the host bits cleared, and the prefix length in IPv6 bits. */
export class Cidr {
  constructor(
    readonly groups: Uint16Array,
    readonly bits: number,
  ) {}

  /** `addr`: eight groups from parseIp. */
  contains(addr: Uint16Array): boolean {
    const g = this.groups;
    const whole = this.bits >>> 4;
    for (let i = 0; i < whole; i++) if (addr[i] !== g[i]) return false;
    const rest = this.bits & 15;
    if (rest === 0) return true;
    const mask = (0xffff << (16 - rest)) & 0xffff;
    return (addr[whole]! & mask) === g[whole];
  }
}

/**
 * Parses `10.0.0.0/8`, `2001:db8::/32` or `::ffff:10.0.0.0/104`. An IPv4
 * network covers the same clients whichever form their address takes. Host
 * bits are cleared (`10.1.2.3/8` is `10.0.0.0/8`). Throws on anything else.
 */
export function parseCidr(s: string): Cidr {
  const slash = s.indexOf('/');
  if (slash < 0) throw new Error(`${s}: not a CIDR (address/prefix-length)`);
  const addr = s.slice(0, slash);
  const len = s.slice(slash + 1);
  const groups = new Uint16Array(8);
  const family = parseIp(addr, groups);
  if (family === 0 || addr.includes('%')) throw new Error(`${s}: ${addr} is not an IP address`);
  if (!/^\d{1,3}$/.test(len)) throw new Error(`${s}: bad prefix length`);
  const max = family === 4 ? 32 : 128;
  const n = Number(len);
  if (n > max) throw new Error(`${s}: the prefix length of an IPv${family} network is at most ${max}`);
  const bits = family === 4 ? 96 + n : n;
  for (let i = 0; i < 8; i++) {
    const keep = bits - i * 16;
    if (keep <= 0) groups[i] = 0;
    else if (keep < 16) groups[i] = groups[i]! & ((0xffff << (16 - keep)) & 0xffff);
  }
  return new Cidr(groups, bits);
}

/**
 * Parses an IPv4 or IPv6 address (a zone `%eth0` is ignored) into `out`,
 * without allocating: this runs per request. Returns 4 or 6, or 0 when `s`
 * is not an address.
 */
export function parseIp(s: string, out: Uint16Array): 0 | 4 | 6 {
  let end = s.indexOf('%');
  if (end < 0) end = s.length;
  if (end === 0) return 0;
  if (s.indexOf(':') < 0) {
    const v4 = parseV4(s, 0, end);
    if (v4 < 0) return 0;
    out[0] = 0; out[1] = 0; out[2] = 0; out[3] = 0; out[4] = 0;
    out[5] = 0xffff;
    out[6] = v4 >>> 16;
    out[7] = v4 & 0xffff;
    return 4;
  }
  out.fill(0);
  let n = 0;
  let gap = -1;
  let i = 0;
  if (s.charCodeAt(0) === COLON) {
    if (end < 2 || s.charCodeAt(1) !== COLON) return 0;
    gap = 0;
    i = 2;
  }
  while (i < end) {
    if (n >= 8) return 0;
    let j = i;
    let v = 0;
    while (j < end) {
      const h = hexValue(s.charCodeAt(j));
      if (h < 0) break;
      v = v * 16 + h;
      j++;
    }
    if (j < end && s.charCodeAt(j) === DOT) {
      // A dotted IPv4 tail takes the last two groups (RFC 4291 §2.2, form 3).
      if (n > 6) return 0;
      const v4 = parseV4(s, i, end);
      if (v4 < 0) return 0;
      out[n++] = v4 >>> 16;
      out[n++] = v4 & 0xffff;
      break;
    }
    if (j === i || j - i > 4) return 0;
    out[n++] = v;
    if (j === end) break;
    if (s.charCodeAt(j) !== COLON) return 0;
    j++;
    if (j < end && s.charCodeAt(j) === COLON) {
      if (gap >= 0) return 0;
      gap = n;
      j++;
    } else if (j === end) {
      return 0;
    }
    i = j;
  }
  if (gap < 0) return n === 8 ? 6 : 0;
  if (n > 7) return 0;
  // "::" stands for the zero groups between the head and the tail: move the tail to the end.
  const tail = n - gap;
  for (let k = tail - 1; k >= 0; k--) out[8 - tail + k] = out[gap + k]!;
  for (let k = gap; k < 8 - tail; k++) out[k] = 0;
  return 6;
}

const COLON = 58;
const DOT = 46;

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Dotted-quad IPv4 in s[start, end) as an unsigned 32-bit number, or -1. */
function parseV4(s: string, start: number, end: number): number {
  let value = 0;
  let parts = 0;
  let i = start;
  while (parts < 4) {
    let part = 0;
    let digits = 0;
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) break;
      part = part * 10 + (c - 48);
      digits++;
      i++;
    }
    if (digits === 0 || digits > 3 || part > 255) return -1;
    value = value * 256 + part;
    parts++;
    if (parts < 4) {
      if (i >= end || s.charCodeAt(i) !== DOT) return -1;
      i++;
    }
  }
  return i === end ? value : -1;
}
