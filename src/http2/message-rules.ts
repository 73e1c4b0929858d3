/**
 * Validation of HTTP messages carried in HEADERS (RFC 9113 §8.1–§8.3).
 * Header lists are flat [name, value, …] arrays of byte strings. Each check
 * returns a reason string for a malformed message (a stream error of type
 * PROTOCOL_ERROR, §8.1.1) or null when the message is well formed. No regular
 * expressions: these run once per request on the hot path.
 *
 * `checked`: the HPACK decoder found every name and value of the list to pass
 * the character rules of §8.2.1 (field-syntax.ts), so only the structure is
 * checked here: order and set of pseudo-headers, connection-specific fields,
 * te, :method and :path.
 */
import { NAME_CHAR, invalidName, invalidValue } from './field-syntax.js';

/** RFC 9110 §9.1: a method is a token (case-sensitive: uppercase letters are allowed). */
function invalidMethod(method: string): boolean {
  for (let i = 0; i < method.length; i++) {
    const c = method.charCodeAt(i);
    if (c >= 128 || (NAME_CHAR[c] === 0 && !(c >= 0x41 && c <= 0x5a))) return true;
  }
  return false;
}

/**
 * §8.3.1: :path is an absolute-path and query (RFC 3986), which hold no
 * whitespace or control characters. Checked because an HTTP/1.1 hop would
 * put the value into its request line, where a space splits it.
 */
function invalidPath(path: string): boolean {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** §8.2.2: connection-specific fields are malformed in HTTP/2. */
export function isConnectionSpecific(name: string): boolean {
  switch (name) {
    case 'connection':
    case 'keep-alive':
    case 'proxy-connection':
    case 'transfer-encoding':
    case 'upgrade':
      return true;
    default:
      return false;
  }
}

/** Checks the regular (non-pseudo) fields from index `from`. */
function checkRegularFields(h: readonly string[], from: number, checked: boolean): string | null {
  for (let i = from; i < h.length; i += 2) {
    const name = h[i]!;
    if (name.length === 0) return 'empty field name';
    if (name.charCodeAt(0) === 0x3a) return 'pseudo-header field after regular fields';
    if (!checked) {
      if (invalidName(name)) return `invalid field name "${name}"`;
      if (invalidValue(h[i + 1]!)) return `invalid value for "${name}"`;
    }
    if (isConnectionSpecific(name)) return `connection-specific field "${name}"`;
    // §8.2.2: "te" may be present only with the value "trailers".
    if (name === 'te' && h[i + 1] !== 'trailers') return 'te other than "trailers"';
  }
  return null;
}

/** The request pseudo-headers a server found (§8.3.1). */
export interface RequestHead {
  method: string;
  path: string;
}

/**
 * §8.3.1 request validation. Returns a reason or null. `connectProtocol`: we
 * advertised SETTINGS_ENABLE_CONNECT_PROTOCOL, so :protocol is known (RFC 8441 §4).
 */
export function checkRequest(h: readonly string[], connectProtocol = false, checked = false): string | null {
  let method: string | undefined;
  let scheme: string | undefined;
  let path: string | undefined;
  let authority: string | undefined;
  let protocol: string | undefined;
  let i = 0;
  for (; i < h.length; i += 2) {
    const name = h[i]!;
    if (name.length === 0 || name.charCodeAt(0) !== 0x3a) break;
    const value = h[i + 1]!;
    switch (name) {
      case ':method':
        if (method !== undefined) return 'duplicate :method';
        method = value;
        break;
      case ':scheme':
        if (scheme !== undefined) return 'duplicate :scheme';
        scheme = value;
        break;
      case ':path':
        if (path !== undefined) return 'duplicate :path';
        path = value;
        break;
      case ':authority':
        if (authority !== undefined) return 'duplicate :authority';
        authority = value;
        break;
      case ':protocol':
        // RFC 8441 §3: without our setting it is an unknown pseudo-header (§8.3).
        if (!connectProtocol) return 'invalid pseudo-header ":protocol" in a request';
        if (protocol !== undefined) return 'duplicate :protocol';
        protocol = value;
        break;
      default:
        return `invalid pseudo-header "${name}" in a request`;
    }
    if (!checked && invalidValue(value)) return `invalid value for "${name}"`;
  }
  const bad = checkRegularFields(h, i, checked);
  if (bad !== null) return bad;
  if (method === undefined || method.length === 0) return 'missing :method';
  if (invalidMethod(method)) return 'invalid :method';
  // RFC 8441 §4: :protocol belongs to CONNECT only.
  if (protocol !== undefined && method !== 'CONNECT') return ':protocol without CONNECT';
  if (method === 'CONNECT' && protocol === undefined) {
    // §8.5: CONNECT carries only :method and :authority.
    if (scheme !== undefined || path !== undefined) return 'CONNECT with :scheme or :path';
    if (authority === undefined) return 'CONNECT without :authority';
    return null;
  }
  // RFC 8441 §4: an extended CONNECT carries :scheme and :path like any request.
  if (scheme === undefined || scheme.length === 0) return 'missing :scheme';
  if (path === undefined) return 'missing :path';
  if (path.length === 0) return 'empty :path';
  if (invalidPath(path)) return 'invalid :path';
  return null;
}

/**
 * §8.3.2 response validation. Returns the status code, or -1 for a malformed
 * response (missing, repeated or non-numeric :status, request pseudo-headers, bad fields).
 */
export function checkResponse(h: readonly string[], checked = false): number {
  let status = -1;
  let i = 0;
  for (; i < h.length; i += 2) {
    const name = h[i]!;
    if (name.length === 0 || name.charCodeAt(0) !== 0x3a) break;
    if (name !== ':status' || status !== -1) return -1;
    const v = h[i + 1]!;
    if (v.length !== 3) return -1;
    const a = v.charCodeAt(0) - 48;
    const b = v.charCodeAt(1) - 48;
    const c = v.charCodeAt(2) - 48;
    if (a < 1 || a > 9 || b < 0 || b > 9 || c < 0 || c > 9) return -1;
    status = a * 100 + b * 10 + c;
  }
  if (status === -1) return -1;
  if (checkRegularFields(h, i, checked) !== null) return -1;
  return status;
}

/** §8.1: trailers carry no pseudo-header fields. */
export function checkTrailers(h: readonly string[], checked = false): string | null {
  return checkRegularFields(h, 0, checked);
}

/**
 * The content-length of a header list (§8.1.1), -1 when absent, -2 when
 * malformed or inconsistent.
 */
export function contentLength(h: readonly string[]): number {
  let found = -1;
  for (let i = 0; i < h.length; i += 2) {
    if (h[i] !== 'content-length') continue;
    const v = h[i + 1]!;
    if (v.length === 0 || v.length > 15) return -2;
    let n = 0;
    for (let j = 0; j < v.length; j++) {
      const d = v.charCodeAt(j) - 48;
      if (d < 0 || d > 9) return -2;
      n = n * 10 + d;
    }
    if (found !== -1 && found !== n) return -2;
    found = n;
  }
  return found;
}
