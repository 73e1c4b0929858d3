import type { Duplex } from 'node:stream';
import { Http2Connection, type ConnectionHandler } from './proto/connection.js';
import type { Http2Options } from './options.js';

/**
 * Serves HTTP/2 on an accepted socket. `head` holds bytes already read from
 * the socket (by protocol detection); they are processed first.
 */
export function acceptHttp2(socket: Duplex, handler: ConnectionHandler, options?: Http2Options, head?: Buffer): Http2Connection {
  return new Http2Connection(socket, true, handler, options, head);
}
