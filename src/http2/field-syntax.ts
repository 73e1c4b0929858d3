/**
 * Character rules of HTTP/2 field names and values (RFC 9113 §8.2.1), shared
 * by the message rules, which reject a malformed message, and the HPACK
 * decoder, which marks the fields it knows to pass them so that the message
 * rules need not scan those again. No regular expressions: hot path.
 */

/** §8.2.1: a field name is lowercase token characters. Precomputed per char code. */
export const NAME_CHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") NAME_CHAR[c.charCodeAt(0)] = 1;

export function invalidName(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 128 || NAME_CHAR[c] === 0) return true;
  }
  return false;
}

/** §8.2.1: values contain no NUL, CR or LF and no leading or trailing whitespace. */
export function invalidValue(value: string): boolean {
  const n = value.length;
  if (n === 0) return false;
  let c = value.charCodeAt(0);
  if (c === 0x20 || c === 0x09) return true;
  c = value.charCodeAt(n - 1);
  if (c === 0x20 || c === 0x09) return true;
  for (let i = 0; i < n; i++) {
    c = value.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d) return true;
  }
  return false;
}

/**
 * A name the message rules accept as far as its characters go: a
 * pseudo-header (matched exactly against the known ones later) or a token.
 * The empty name is left to the message rules, which name it in their error.
 */
export function cleanName(name: string): boolean {
  return name.length > 0 && (name.charCodeAt(0) === 0x3a || !invalidName(name));
}
