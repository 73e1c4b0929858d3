/**
 * Authorization rules of a listener or a route, compiled once per
 * configuration into plain comparisons: identity sets and prefixes, parsed
 * networks, path prefixes and gRPC path strings. A check allocates nothing
 * for ordinary requests.
 *
 * Semantics (Envoy RBAC, Istio AuthorizationPolicy): a matching deny rule
 * refuses; otherwise, once the set has an allow rule, a request that no
 * allow rule matches is refused by the implicit `default-deny`. When that
 * refusal concerns a client without an identity, and an allow rule would
 * have matched it with one, the answer is 401 / UNAUTHENTICATED: the client
 * can do something about it (present a certificate). A matching deny rule
 * always gives 403: it matched without any identity, so it would match with
 * one too.
 */
import type { AuthorizationRule } from '../config/index.js';
import { ProxyErrors, type ProxyErrorKind } from '../errors.js';
import { buildErrorResponse } from '../proxy/error-responses.js';
import type { Authorizer, AuthzDenial } from '../proxy/policy-hooks.js';
import { parseCidr, parseIp, type Cidr } from './cidr.js';

/** The rule named when no allow rule matches. */
export const DEFAULT_DENY = 'default-deny';

function denial(rule: string, kind: ProxyErrorKind, message: string): AuthzDenial {
  return Object.freeze({ rule, kind, response: buildErrorResponse(kind, message) });
}

/**
 * What is known about the request being checked, worked out lazily (the
 * address is parsed and the path normalized only if a rule asks) and kept
 * in one reused object: checks run one at a time.
 */
class RequestFacts {
  identity = '';
  address: string | undefined = undefined;
  path = '';
  /** End of the path proper (the query starts there). */
  pathEnd = 0;
  /** 0: not parsed yet; 4 or 6: parsed into `ip`; -1: no usable address. */
  ipState = 0;
  readonly ip = new Uint16Array(8);
  /** The normalized path when it differs from the raw one (see normalizePath); undefined: not worked out yet. */
  normalized: string | null | undefined = undefined;

  reset(identity: string, address: string | undefined, path: string): void {
    this.identity = identity;
    this.address = address;
    this.path = path;
    const q = path.indexOf('?');
    this.pathEnd = q < 0 ? path.length : q;
    this.ipState = 0;
    this.normalized = undefined;
  }

  /** The parsed client address, or null when the socket gave none that parses. */
  clientIp(): Uint16Array | null {
    if (this.ipState === 0) {
      const a = this.address;
      this.ipState = a === undefined ? -1 : parseIp(a, this.ip) || -1;
    }
    return this.ipState > 0 ? this.ip : null;
  }

  normalizedPath(): string | null {
    if (this.normalized === undefined) this.normalized = normalizePath(this.path, this.pathEnd);
    return this.normalized;
  }
}

const facts = new RequestFacts();

/** Path-shaped conditions, evaluated on one form of the path. */
type PathTest = (s: string, end: number) => boolean;

class CompiledRule {
  readonly name: string;
  readonly deny: boolean;
  /** No identities condition. */
  private readonly anyClient: boolean;
  /** `*`: any client with an identity. */
  private readonly anyIdentity: boolean;
  private readonly exact: ReadonlySet<string>;
  /** `spiffe://example.org/ns/prod/` for `spiffe://example.org/ns/prod/*`. */
  private readonly prefixes: readonly string[];
  private readonly networks: readonly Cidr[] | null;
  private readonly pathTests: readonly PathTest[];
  /** Deny rules: the refusal naming this rule. */
  readonly denial: AuthzDenial | null;
  /** Allow rules with identities: the 401 naming this rule, for clients without an identity. */
  readonly unauthenticated: AuthzDenial | null;

  constructor(r: AuthorizationRule) {
    this.name = r.name;
    this.deny = r.action === 'deny';
    const ids = r.identities;
    this.anyClient = ids === undefined;
    this.anyIdentity = ids?.includes('*') ?? false;
    const exact = new Set<string>();
    const prefixes: string[] = [];
    for (const id of ids ?? []) {
      if (id === '*') continue;
      if (id.endsWith('/*')) prefixes.push(id.slice(0, -1));
      else exact.add(id);
    }
    this.exact = exact;
    this.prefixes = prefixes;
    this.networks = r.networks === undefined ? null : r.networks.map(parseCidr);
    const tests: PathTest[] = [];
    if (r.paths !== undefined) {
      const list = r.paths;
      tests.push((s, end) => {
        for (let i = 0; i < list.length; i++) if (segmentPrefix(list[i]!, s, end)) return true;
        return false;
      });
    }
    if (r.grpcServices !== undefined) {
      // gRPC paths are "/package.Service/Method" (gRPC PROTOCOL-HTTP2).
      const list = r.grpcServices.map((svc) => `/${svc}/`);
      tests.push((s, end) => {
        for (let i = 0; i < list.length; i++) {
          const p = list[i]!;
          if (end > p.length && s.startsWith(p)) return true;
        }
        return false;
      });
    }
    if (r.grpcMethods !== undefined) {
      const list = r.grpcMethods.map((m) => `/${m}`);
      tests.push((s, end) => {
        for (let i = 0; i < list.length; i++) {
          const p = list[i]!;
          if (end === p.length && s.startsWith(p)) return true;
        }
        return false;
      });
    }
    this.pathTests = tests;
    this.denial = this.deny ? denial(r.name, ProxyErrors.PERMISSION_DENIED, `access denied by rule ${r.name}`) : null;
    this.unauthenticated = !this.deny && ids !== undefined
      ? denial(r.name, ProxyErrors.UNAUTHENTICATED, `a client identity is required (rule ${r.name})`)
      : null;
  }

  identityMatches(identity: string): boolean {
    if (this.anyClient) return true;
    if (identity === '') return false;
    if (this.anyIdentity || this.exact.has(identity)) return true;
    const p = this.prefixes;
    for (let i = 0; i < p.length; i++) if (identity.length > p[i]!.length && identity.startsWith(p[i]!)) return true;
    return false;
  }

  /** Every condition but the identity. */
  othersMatch(f: RequestFacts): boolean {
    const tests = this.pathTests;
    for (let i = 0; i < tests.length; i++) {
      const t = tests[i]!;
      let ok = t(f.path, f.pathEnd);
      // A path that is not in normal form ("/a/../b", "//b", "/%61") may name
      // another resource to the backend: a deny rule matches if either form
      // does, an allow rule only if both do (Envoy normalizes for the same reason).
      const n = f.normalizedPath();
      if (n !== null) ok = this.deny ? ok || t(n, n.length) : ok && t(n, n.length);
      if (!ok) return false;
    }
    const nets = this.networks;
    if (nets !== null) {
      const ip = f.clientIp();
      // No usable address: fail closed (a deny rule applies, an allow rule does not).
      if (ip === null) return this.deny;
      let found = false;
      for (let i = 0; i < nets.length; i++) {
        if (nets[i]!.contains(ip)) {
          found = true;
          break;
        }
      }
      if (!found) return false;
    }
    return true;
  }
}

/** The compiled rules of one listener or route. */
export class CompiledAuthorization implements Authorizer {
  private readonly denyRules: CompiledRule[] = [];
  private readonly allowRules: CompiledRule[] = [];
  readonly defaultDeny: AuthzDenial = denial(DEFAULT_DENY, ProxyErrors.PERMISSION_DENIED, `access denied: no allow rule matches (${DEFAULT_DENY})`);

  constructor(rules: readonly AuthorizationRule[]) {
    for (const r of rules) {
      const c = new CompiledRule(r);
      (c.deny ? this.denyRules : this.allowRules).push(c);
    }
  }

  check(identity: string, address: string | undefined, path: string): AuthzDenial | null {
    const f = facts;
    f.reset(identity, address, path);
    const deny = this.denyRules;
    for (let i = 0; i < deny.length; i++) {
      const r = deny[i]!;
      if (r.identityMatches(identity) && r.othersMatch(f)) return r.denial;
    }
    const allow = this.allowRules;
    if (allow.length === 0) return null;
    let wantsIdentity: CompiledRule | null = null;
    for (let i = 0; i < allow.length; i++) {
      const r = allow[i]!;
      if (identity === '' && r.unauthenticated !== null) {
        // Would it match with an identity? Then a 401 is the more useful answer.
        if (wantsIdentity === null && r.othersMatch(f)) wantsIdentity = r;
        continue;
      }
      if (r.identityMatches(identity) && r.othersMatch(f)) return null;
    }
    return wantsIdentity !== null ? wantsIdentity.unauthenticated : this.defaultDeny;
  }
}

export function compileAuthorization(rules: readonly AuthorizationRule[]): CompiledAuthorization {
  return new CompiledAuthorization(rules);
}

/**
 * Path prefix by whole segments (as Gateway API's PathPrefix): `/api` matches
 * `/api`, `/api/x` and `/api?q`, not `/apis`; a prefix ending in `/` matches
 * whatever is below it. `end`: where the path proper ends (the query starts).
 */
function segmentPrefix(prefix: string, s: string, end: number): boolean {
  const n = prefix.length;
  if (n > end || !s.startsWith(prefix)) return false;
  return n === end || prefix.charCodeAt(n - 1) === SLASH || s.charCodeAt(n) === SLASH;
}

const SLASH = 47;
const BACKSLASH = 92;
const DOT = 46;
const PERCENT = 37;

/**
 * The path as a backend that normalizes would see it, or null when it is
 * already in that form (the common case: one scan, no allocation). Decodes
 * percent-encoded unreserved characters (RFC 3986 §6.2.2.2) and encoded
 * slashes and backslashes, reads backslashes as slashes, merges repeated
 * slashes and removes dot segments (RFC 3986 §5.2.4). An absolute-form
 * request-target (`http://host/path`, RFC 9112 §3.2.2) is reduced to its path.
 */
export function normalizePath(path: string, end: number): string | null {
  if (path.charCodeAt(0) !== SLASH) {
    const scheme = path.indexOf('://');
    let p: string;
    if (scheme >= 0 && scheme < end) {
      const slash = path.indexOf('/', scheme + 3);
      p = slash < 0 || slash > end ? '/' : path.slice(slash, end);
    } else {
      p = `/${path.slice(0, end)}`;
    }
    return normalizePath(p, p.length) ?? p;
  }
  if (!needsNormalizing(path, end)) return null;
  let decoded = '';
  for (let i = 0; i < end; i++) {
    const c = path.charCodeAt(i);
    if (c === PERCENT) {
      const v = hexByte(path, i + 1, end);
      if (v >= 0 && (isUnreserved(v) || v === SLASH || v === BACKSLASH)) {
        decoded += v === BACKSLASH ? '/' : String.fromCharCode(v);
        i += 2;
        continue;
      }
    }
    decoded += c === BACKSLASH ? '/' : path[i];
  }
  const out: string[] = [];
  const segments = decoded.split('/');
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i]!;
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  const last = segments[segments.length - 1];
  const trailing = out.length > 0 && (last === '' || last === '.' || last === '..');
  const result = `/${out.join('/')}${trailing ? '/' : ''}`;
  return result === path.slice(0, end) ? null : result;
}

function needsNormalizing(path: string, end: number): boolean {
  for (let i = 0; i < end; i++) {
    const c = path.charCodeAt(i);
    if (c === PERCENT || c === BACKSLASH) return true;
    if (c === SLASH && i + 1 < end) {
      const d = path.charCodeAt(i + 1);
      if (d === SLASH) return true;
      if (d === DOT) {
        // "/." or "/.." as a whole segment
        const e = i + 2 < end ? path.charCodeAt(i + 2) : SLASH;
        if (e === SLASH) return true;
        if (e === DOT && (i + 3 >= end || path.charCodeAt(i + 3) === SLASH)) return true;
      }
    }
  }
  return false;
}

function hexByte(s: string, i: number, end: number): number {
  if (i + 1 >= end) return -1;
  const a = hex(s.charCodeAt(i));
  const b = hex(s.charCodeAt(i + 1));
  return a < 0 || b < 0 ? -1 : a * 16 + b;
}

function hex(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** RFC 3986 §2.3: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function isUnreserved(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 46 || c === 95 || c === 126;
}
