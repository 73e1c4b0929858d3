import type { IncomingMessage } from 'node:http';
import type { Http2Stream } from '../http2/index.js';
import type { Exchange } from '../proxy/exchange.js';

/**
 * The client's address (the socket's peer) of a finished exchange, for the
 * access log: an HTTP/1.1 exchange holds its request, an HTTP/2 one its
 * downstream stream, whose connection the listener labelled with the address.
 */
export function clientAddressOf(ex: Exchange): string | undefined {
  const e = ex as unknown as { req?: IncomingMessage; down?: Http2Stream };
  if (e.req !== undefined) return e.req.socket.remoteAddress;
  const user = e.down?.connection.user;
  return typeof user === 'string' ? user : undefined;
}
