import { STATUS_CODES } from 'node:http';

/**
 * Status lines, built once per status code: `HTTP/1.1 200 OK\r\n`. The
 * reason phrase is informational (RFC 9112 §4); clients ignore it.
 */
const lines: string[] = [];

export function statusLine(status: number): string {
  let l = lines[status];
  if (l === undefined) {
    l = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n`;
    if (status >= 100 && status < 600) lines[status] = l;
  }
  return l;
}

/** RFC 9110 §6.4.1, §9.3.2: responses that never have content, whatever their fields say. */
export function hasNoContent(status: number, head: boolean): boolean {
  return head || status === 204 || status === 304 || status < 200;
}

/** A 1xx response head (RFC 9110 §15.2), with its fields (103 Early Hints). */
export function informationalHead(status: number, fields: readonly string[] | undefined): string {
  let head = statusLine(status);
  if (fields !== undefined) for (let i = 0; i < fields.length; i += 2) head += fields[i]! + ': ' + fields[i + 1]! + '\r\n';
  return head + '\r\n';
}

/** The last chunk and the trailer section (RFC 9112 §7.1.2). */
export function lastChunkWithTrailers(trailers: readonly string[]): string {
  let t = '0\r\n';
  for (let i = 0; i < trailers.length; i += 2) t += trailers[i]! + ': ' + trailers[i + 1]! + '\r\n';
  return t + '\r\n';
}
