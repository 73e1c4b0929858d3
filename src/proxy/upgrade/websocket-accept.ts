import { createHash, randomBytes } from 'node:crypto';

/** RFC 6455 §1.3: the GUID a server appends to the client's key. */
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/**
 * RFC 6455 §4.2.2: the Sec-WebSocket-Accept of a key — base64 of the SHA-1
 * of the key followed by the GUID. The proxy computes it when an HTTP/2
 * endpoint accepted an extended CONNECT (RFC 8441 §5: HTTP/2 carries no key)
 * and the client speaks HTTP/1.1.
 */
export function websocketAccept(key: string): string {
  return createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64');
}

/** RFC 6455 §4.1: a fresh Sec-WebSocket-Key (16 random bytes, base64), for an HTTP/1.1 endpoint behind an HTTP/2 client. */
export function newWebSocketKey(): string {
  return randomBytes(16).toString('base64');
}
