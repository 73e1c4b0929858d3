import { STATUS_CODES } from 'node:http';
import { connectionNominated } from '../headers.js';
import type { ErrorResponse } from '../error-responses.js';

/**
 * Header fields of upgrade handshakes. An upgrade keeps `Connection:
 * upgrade` and `Upgrade` on the next hop (they are the request, RFC 9110
 * §7.8); every other hop-by-hop field, and each field the Connection field
 * nominates, stays behind (§7.6.1).
 */

/** The first protocol an Upgrade field asks for, lower case, without its version ("websocket", "h2c"). */
export function upgradeToken(value: string | undefined): string {
  if (value === undefined) return '';
  let end = value.length;
  const comma = value.indexOf(',');
  if (comma >= 0) end = comma;
  const slash = value.indexOf('/');
  if (slash >= 0 && slash < end) end = slash;
  return value.slice(0, end).trim().toLowerCase();
}

/** Fields never forwarded by a tunnel's handshake (the Connection field itself is written anew). */
function hopByHop(lower: string): boolean {
  switch (lower) {
    case 'connection':
    case 'keep-alive':
    case 'proxy-connection':
    case 'te':
    case 'http2-settings':
      return true;
    default:
      return false;
  }
}

/**
 * The fields of an HTTP/1.1 head to pass on, as [name, value, …] with names
 * as sent: hop-by-hop and nominated fields removed, `Upgrade` kept unless
 * `dropUpgrade`. Framing fields stay: the bytes after the head are relayed as they are.
 */
export function forwardedFields(raw: readonly string[], dropUpgrade: boolean): string[] {
  const nominated = connectionNominated(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (hopByHop(lower) || (nominated !== null && nominated.has(lower))) continue;
    if (dropUpgrade && lower === 'upgrade') continue;
    out.push(name, raw[i + 1]!);
  }
  return out;
}

/** An HTTP/1.1 head: the start line, fields ([name, value, …]) and the blank line. */
export function writeHead(startLine: string, fields: readonly string[]): string {
  let s = `${startLine}\r\n`;
  for (let i = 0; i < fields.length; i += 2) s += `${fields[i]}: ${fields[i + 1]}\r\n`;
  return `${s}\r\n`;
}

export function statusLine(status: number, reason?: string): string {
  return `HTTP/1.1 ${status} ${reason !== undefined && reason !== '' ? reason : (STATUS_CODES[status] ?? '')}`;
}

/** The proxy's own answer on a connection that will close (the upgrade was not carried out). */
export function errorAnswer(status: number, r: ErrorResponse): Buffer {
  const h = r.httpHeaders;
  const fields: string[] = [];
  for (let i = 2; i < h.length; i += 2) fields.push(h[i]!, h[i + 1]!);
  fields.push('connection', 'close');
  return Buffer.concat([Buffer.from(writeHead(statusLine(status), fields), 'latin1'), r.httpBody]);
}

/**
 * Response fields of an HTTP/2 answer as HTTP/1.1 fields: no pseudo-headers,
 * no content-length when `dropLength`, nothing `skip` names.
 */
export function h2ToH1Fields(h: readonly string[], dropLength: boolean, skip?: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i]!;
    if (name.charCodeAt(0) === 0x3a || name === skip) continue;
    if (dropLength && name === 'content-length') continue;
    out.push(name, h[i + 1]!);
  }
  return out;
}
