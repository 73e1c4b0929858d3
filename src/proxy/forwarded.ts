import { parseCidr, parseIp, type Cidr, type ForwardedConfig } from '../config/index.js';

/**
 * The headers that tell an endpoint who the client is: X-Forwarded-For,
 * X-Forwarded-Proto, RFC 7239 Forwarded and RFC 9110 §7.6.3 Via, compiled
 * once per listener and applied to each request's header list in place.
 *
 * A peer in `trustedProxies` is another proxy: what it says about its own
 * clients is kept and our hop appended. Any other peer is the client
 * itself, and what it claims in these headers is replaced: endpoints
 * commonly take the first X-Forwarded-For entry as the client's address,
 * which a client must not be able to choose. (Envoy's use_remote_address
 * appends to whatever arrives and leaves the choice of entry to the
 * endpoint; HAProxy's `option forwardfor` adds its own field beside the
 * client's.) Via is never a claim about the client: it is always kept.
 */
export class ForwardedHeaders {
  /** Anything to do at all: when false, apply() need not be called. */
  readonly enabled: boolean;
  private readonly xff: boolean;
  private readonly xfp: boolean;
  private readonly fwd: boolean;
  private readonly via: boolean;
  private readonly trusted: Cidr[];
  /** Scratch for parseIp: no allocation per request. */
  private readonly addr = new Uint16Array(8);

  constructor(cfg: ForwardedConfig, private readonly pseudonym = 'switchyard') {
    this.xff = cfg.xForwardedFor;
    this.xfp = cfg.xForwardedProto;
    this.fwd = cfg.forwarded;
    this.via = cfg.via;
    this.trusted = cfg.trustedProxies.map((c) => parseCidr(c.includes('/') ? c : `${c}/${c.includes(':') ? 128 : 32}`));
    this.enabled = this.xff || this.xfp || this.fwd || this.via;
  }

  /** The peer is a trusted proxy. */
  isTrusted(peer: string | undefined): boolean {
    const t = this.trusted;
    if (t.length === 0 || peer === undefined || parseIp(peer, this.addr) === 0) return false;
    for (let i = 0; i < t.length; i++) if (t[i]!.contains(this.addr)) return true;
    return false;
  }

  /**
   * Rewrites `h` (flat [name, value, …], lower-case names) for one request.
   * `peer`: the socket's remote address; `https`: the client spoke TLS;
   * `http2`: the request arrived over HTTP/2 (Via's protocol version).
   */
  apply(h: string[], peer: string | undefined, https: boolean, http2: boolean): void {
    const trusted = this.isTrusted(peer);
    let xffAt = -1;
    let xfpAt = -1;
    let fwdAt = -1;
    let viaAt = -1;
    let w = 0;
    for (let i = 0; i < h.length; i += 2) {
      const name = h[i]!;
      const value = h[i + 1]!;
      // Only names starting with x, f or v can be ours: one comparison for all others.
      const c = name.charCodeAt(0);
      if (c === 0x78 || c === 0x66 || c === 0x76) {
        let at = -2;
        if (name === 'x-forwarded-for') {
          if (this.xff) at = trusted ? xffAt : -3;
          if (at === -1) xffAt = w;
        } else if (name === 'x-forwarded-proto') {
          if (this.xfp) at = trusted ? xfpAt : -3;
          if (at === -1) xfpAt = w;
        } else if (name === 'forwarded') {
          if (this.fwd) at = trusted ? fwdAt : -3;
          if (at === -1) fwdAt = w;
        } else if (name === 'via') {
          if (this.via) at = viaAt;
          if (at === -1) viaAt = w;
        }
        // -3: a claim of an untrusted peer, dropped. >= 0: a second field of
        // the same list, folded into the first (RFC 9110 §5.3; order kept).
        if (at === -3) continue;
        if (at >= 0) {
          h[at + 1] = `${h[at + 1]!}, ${value}`;
          continue;
        }
      }
      if (w !== i) {
        h[w] = name;
        h[w + 1] = value;
      }
      w += 2;
    }
    h.length = w;
    const client = plainAddress(peer);
    if (this.xff) {
      if (xffAt >= 0) h[xffAt + 1] = `${h[xffAt + 1]!}, ${client}`;
      else h.push('x-forwarded-for', client);
    }
    // A trusted proxy's X-Forwarded-Proto says what its client used: kept.
    if (this.xfp && xfpAt < 0) h.push('x-forwarded-proto', https ? 'https' : 'http');
    if (this.fwd) {
      // RFC 7239 §4, §6: an IPv6 node is bracketed and quoted.
      const node = peer === undefined ? 'unknown' : client.includes(':') ? `"[${client}]"` : client;
      const element = `for=${node};proto=${https ? 'https' : 'http'}`;
      if (fwdAt >= 0) h[fwdAt + 1] = `${h[fwdAt + 1]!}, ${element}`;
      else h.push('forwarded', element);
    }
    if (this.via) {
      const hop = http2 ? `2 ${this.pseudonym}` : `1.1 ${this.pseudonym}`;
      if (viaAt >= 0) h[viaAt + 1] = `${h[viaAt + 1]!}, ${hop}`;
      else h.push('via', hop);
    }
  }
}

/** `::ffff:10.1.2.3` (an IPv4 client of a dual-stack socket) as `10.1.2.3`; `unknown` (RFC 7239 §6.3) without an address. */
function plainAddress(peer: string | undefined): string {
  if (peer === undefined) return 'unknown';
  return peer.startsWith('::ffff:') && peer.includes('.') ? peer.slice(7) : peer;
}
