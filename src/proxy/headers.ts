import { isConnectionSpecific } from '../http2/message-rules.js';

/**
 * Header work of the data path, done with plain loops over flat
 * [name, value, …] lists (no maps, no regular expressions).
 */

/**
 * RFC 9113 §8.2.2 / RFC 9110 §7.6.1: fields that describe one hop and are not
 * forwarded: HTTP/2's connection-specific fields, plus `te` (rebuilt per hop),
 * `http2-settings` and `host` (carried as :authority).
 */
export function isHopByHop(name: string): boolean {
  if (isConnectionSpecific(name)) return true;
  switch (name) {
    case 'http2-settings':
    case 'te':
    case 'host':
      return true;
    default:
      return false;
  }
}

/**
 * RFC 9110 §7.6.1: a `Connection` field lists further fields that describe
 * this hop only ("Connection: keep-alive, X-Secret" makes X-Secret hop-by-hop),
 * and a proxy removes them before forwarding. The names so nominated, or null
 * when there are none besides the usual options (keep-alive, close, upgrade,
 * which are hop-by-hop already): the common message allocates nothing.
 * `raw` is a flat [name, value, …] list with names in any case.
 */
export function connectionNominated(raw: readonly string[]): Set<string> | null {
  let out: Set<string> | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const n = raw[i]!;
    if (n.length !== 10 || n.toLowerCase() !== 'connection') continue;
    for (const token of raw[i + 1]!.split(',')) {
      const t = token.trim().toLowerCase();
      if (t === '' || t === 'keep-alive' || t === 'close' || t === 'upgrade') continue;
      (out ??= new Set()).add(t);
    }
  }
  return out;
}

/** The value of the first field called `name`, or undefined. */
export function headerValue(h: readonly string[], name: string): string | undefined {
  for (let i = 0; i < h.length; i += 2) if (h[i] === name) return h[i + 1];
  return undefined;
}

/** gRPC requests and responses carry content-type application/grpc[+proto|+json|;…]. */
export function isGrpcContentType(v: string | undefined): boolean {
  return v !== undefined && v.length >= 16 && v.startsWith('application/grpc');
}

/**
 * gRPC's grpc-timeout (an integer of at most 8 digits and a unit H M S m u n)
 * in milliseconds, or -1 when absent or malformed.
 */
export function parseGrpcTimeout(v: string | undefined): number {
  if (v === undefined || v.length < 2 || v.length > 9) return -1;
  let n = 0;
  for (let i = 0; i < v.length - 1; i++) {
    const d = v.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  switch (v.charCodeAt(v.length - 1)) {
    case 72: return n * 3_600_000; // H
    case 77: return n * 60_000; // M
    case 83: return n * 1000; // S
    case 109: return n; // m
    case 117: return n / 1000; // u
    case 110: return n / 1_000_000; // n
    default: return -1;
  }
}

/** grpc-timeout value for a remaining budget in ms (milliseconds unit, at most 8 digits). */
export function formatGrpcTimeout(ms: number): string {
  const m = Math.max(1, Math.ceil(ms));
  return m < 100_000_000 ? `${m}m` : `${Math.ceil(m / 1000)}S`;
}

/** Percent-encoding of grpc-message (gRPC PROTOCOL-HTTP2: status message). */
export function encodeGrpcMessage(msg: string): string {
  let out = '';
  const bytes = Buffer.from(msg, 'utf8');
  for (const b of bytes) {
    if (b >= 0x20 && b <= 0x7e && b !== 0x25) out += String.fromCharCode(b);
    else out += '%' + (b < 16 ? '0' : '') + b.toString(16).toUpperCase();
  }
  return out;
}
