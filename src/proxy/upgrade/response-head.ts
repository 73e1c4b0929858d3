/** An HTTP/1.1 response head (RFC 9112 §4, §5) read from an endpoint's upgrade connection. */
export interface ResponseHead {
  status: number;
  reason: string;
  /** Fields as sent: [name, value, …], names in their original case. */
  fields: string[];
}

/** A response head larger than this is refused (what node:http accepts by default is 16 KiB). */
export const MAX_RESPONSE_HEAD = 64 * 1024;

const CRLFCRLF = Buffer.from('\r\n\r\n');

/**
 * Where the first response head in `buf` ends (the index after its blank
 * line), or -1 when it is not complete yet.
 */
export function headEnd(buf: Buffer): number {
  const i = buf.indexOf(CRLFCRLF);
  return i < 0 ? -1 : i + 4;
}

/**
 * Parses one complete response head (`text` ends with the blank line).
 * Returns null for a malformed one: a bad status line, a field line without
 * a colon or with whitespace before it (RFC 9112 §5.1), or obsolete line
 * folding (§5.2, which a proxy may reject).
 */
export function parseResponseHead(text: string): ResponseHead | null {
  const lines = text.split('\r\n');
  const statusLine = lines[0]!;
  // RFC 9112 §4: HTTP-version SP status-code SP [ reason-phrase ]
  if (!statusLine.startsWith('HTTP/1.') || statusLine.length < 12 || statusLine.charCodeAt(8) !== 0x20) return null;
  const code = statusLine.slice(9, 12);
  let status = 0;
  for (let i = 0; i < 3; i++) {
    const d = code.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return null;
    status = status * 10 + d;
  }
  if (status < 100) return null;
  const reason = statusLine.length > 13 ? statusLine.slice(13) : '';
  const fields: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const c0 = line.charCodeAt(0);
    if (c0 === 0x20 || c0 === 0x09) return null;
    const colon = line.indexOf(':');
    if (colon <= 0) return null;
    const name = line.slice(0, colon);
    const last = name.charCodeAt(name.length - 1);
    if (last === 0x20 || last === 0x09) return null;
    fields.push(name, line.slice(colon + 1).trim());
  }
  return { status, reason, fields };
}
