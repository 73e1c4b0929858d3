/**
 * The head of an HTTP/1.1 request (RFC 9112 §3, §5), encoded once as a
 * latin1 string: the socket writes it with the body's first bytes in one
 * write. Field values are written as given: the caller passes fields a
 * parser already checked (RFC 9113 §8.2.1 forbids CR, LF and NUL in them,
 * as RFC 9110 §5.5 does), so no check is repeated here.
 */

/** How the request body is framed on the wire (RFC 9112 §6). */
export const BodyFraming = {
  /** No body: nothing follows the head. */
  NONE: 0,
  /** A Content-Length field among the fields gives its length. */
  LENGTH: 1,
  /** Transfer-Encoding: chunked (the length is not known in advance). */
  CHUNKED: 2,
} as const;

/**
 * Encodes `method target HTTP/1.1`, then `fields` ([name, value, …], names
 * as given), then the framing field when `framing` is CHUNKED, then the
 * empty line.
 */
export function encodeRequestHead(method: string, target: string, fields: readonly string[], framing: number): string {
  let s = method + ' ' + target + ' HTTP/1.1\r\n';
  for (let i = 0; i < fields.length; i += 2) s += fields[i]! + ': ' + fields[i + 1]! + '\r\n';
  if (framing === BodyFraming.CHUNKED) s += 'transfer-encoding: chunked\r\n';
  return s + '\r\n';
}
