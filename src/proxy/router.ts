import type { RouteConfig } from '../config/index.js';
import type { RandomSource } from '../balancing/index.js';
import type { Authorizer, AuthzDenial, RetryRules } from './policy-hooks.js';

/** What a request is routed by, extracted from its head once. */
export interface RequestHead {
  path: string;
  /** :authority or Host, without the port. */
  host: string;
  /** The full header list (flat), for header matches. */
  headers: readonly string[];
}

/**
 * A route compiled once per configuration: every string the matcher compares
 * is prepared here (gRPC "/pkg.Service/" prefixes, lower-cased hosts), so a
 * request is matched with plain comparisons and no parsing.
 */
export class CompiledRoute<S> {
  readonly name: string;
  private readonly exactPath: string | undefined;
  private readonly prefix: string | undefined;
  private readonly host: string | undefined;
  private readonly headerMatch: string[];
  readonly targets: S[];
  private readonly cumulative: number[];
  private readonly totalWeight: number;
  /** Route timeout in ms; 0 = none. */
  readonly timeout: number;
  /** Requests of this route may be sent again (hedging, retries of any method). */
  readonly idempotent: boolean;
  /** Hedge delay (ms) and attempts; 0 = no hedging. Only idempotent routes hedge. */
  readonly hedgeDelay: number;
  readonly hedgeMaxAttempts: number;
  /** Requests of this route are hedged (hedgeDelay > 0). */
  readonly hedges: boolean;
  /** Stream idle timeout, ms; 0 = off. */
  readonly idleTimeout: number;
  /** Idle timeout of upgraded connections (WebSockets), ms; 0 = off. */
  readonly upgradeIdleTimeout: number;
  /** Request body limit in bytes (0 = none); -1: the listener's. */
  readonly maxRequestBody: number;

  constructor(
    cfg: RouteConfig,
    index: number,
    resolve: (service: string) => S,
    /** Retry rules compiled once for this route, from the policy layer. */
    readonly retry?: RetryRules,
    /** The route's authorization rules, checked after the listener's. */
    readonly authorization?: Authorizer,
  ) {
    this.name = cfg.name ?? `route-${index}`;
    const m = cfg.match;
    this.exactPath = m.path;
    this.prefix = m.pathPrefix;
    if (m.grpcService !== undefined) {
      // gRPC paths are "/package.Service/Method" (gRPC PROTOCOL-HTTP2).
      if (m.grpcMethod !== undefined) this.exactPath = `/${m.grpcService}/${m.grpcMethod}`;
      else this.prefix = `/${m.grpcService}/`;
    }
    this.host = m.host?.toLowerCase();
    this.headerMatch = [];
    for (const [k, v] of Object.entries(m.headers ?? {})) this.headerMatch.push(k.toLowerCase(), v);
    this.targets = [];
    this.cumulative = [];
    let total = 0;
    for (const b of cfg.backends) {
      if (b.weight <= 0) continue;
      total += b.weight;
      this.targets.push(resolve(b.service));
      this.cumulative.push(total);
    }
    this.totalWeight = total;
    this.timeout = cfg.timeout;
    this.idempotent = cfg.idempotent;
    this.hedgeDelay = cfg.hedge !== undefined && cfg.idempotent ? cfg.hedge.delay : 0;
    this.hedgeMaxAttempts = cfg.hedge?.maxAttempts ?? 0;
    this.hedges = this.hedgeDelay > 0;
    this.idleTimeout = cfg.idleTimeout;
    // The listener's default route is built without the key: the schema's default then.
    this.upgradeIdleTimeout = cfg.upgradeIdleTimeout ?? 3_600_000;
    this.maxRequestBody = cfg.maxRequestBody ?? -1;
  }

  matches(head: RequestHead): boolean {
    if (this.exactPath !== undefined && head.path !== this.exactPath) {
      // A query string does not take part in an exact path match.
      const q = head.path.indexOf('?');
      if (q < 0 || head.path.slice(0, q) !== this.exactPath) return false;
    }
    if (this.prefix !== undefined && !head.path.startsWith(this.prefix)) return false;
    if (this.host !== undefined && head.host !== this.host) return false;
    const hm = this.headerMatch;
    for (let i = 0; i < hm.length; i += 2) {
      let found = false;
      const h = head.headers;
      for (let j = 0; j < h.length; j += 2) {
        if (h[j] === hm[i] && h[j + 1] === hm[i + 1]) {
          found = true;
          break;
        }
      }
      if (!found) return false;
    }
    return true;
  }

  /** The target for one request: the only one, or a weighted random choice. */
  target(random: RandomSource): S {
    if (this.targets.length === 1) return this.targets[0]!;
    const r = random.next() * this.totalWeight;
    const c = this.cumulative;
    for (let i = 0; i < c.length; i++) if (r < c[i]!) return this.targets[i]!;
    return this.targets[this.targets.length - 1]!;
  }
}

/** The routes of one listener, in order, plus the listener's default target. */
export class Router<S> {
  constructor(
    readonly routes: readonly CompiledRoute<S>[],
    readonly fallback: CompiledRoute<S> | undefined,
    /** The listener's authorization rules, checked before the route's. */
    readonly authorization?: Authorizer,
  ) {}

  /**
   * Authorization of a routed request: the listener's rules, then the
   * route's. Null when it may pass; otherwise the refusal to answer with.
   */
  authorize(route: CompiledRoute<S>, identity: string, address: string | undefined, path: string): AuthzDenial | null {
    if (this.authorization !== undefined) {
      const d = this.authorization.check(identity, address, path);
      if (d !== null) return d;
    }
    return route.authorization === undefined ? null : route.authorization.check(identity, address, path);
  }

  match(head: RequestHead): CompiledRoute<S> | undefined {
    const r = this.routes;
    for (let i = 0; i < r.length; i++) if (r[i]!.matches(head)) return r[i];
    return this.fallback;
  }
}

/** Lower-cased host of an :authority or Host value, without the port ("[::1]:80" → "[::1]"). */
export function hostOf(authority: string | undefined): string {
  if (authority === undefined) return '';
  let end = authority.length;
  const close = authority.lastIndexOf(']');
  const colon = authority.lastIndexOf(':');
  if (colon > close) end = colon;
  const h = authority.slice(0, end);
  for (let i = 0; i < h.length; i++) {
    const c = h.charCodeAt(i);
    if (c >= 65 && c <= 90) return h.toLowerCase();
  }
  return h;
}
