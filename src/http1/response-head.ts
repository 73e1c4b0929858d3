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
