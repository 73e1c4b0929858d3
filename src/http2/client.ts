import type { Duplex } from 'node:stream';
import { Http2Connection, type ConnectionHandler } from './proto/connection.js';
import type { Http2Options } from './options.js';

/**
 * Starts the client side of HTTP/2 with prior knowledge on a connected socket:
 * the preface and SETTINGS are sent at once (§3.4); requests may be sent
 * immediately, within the peer's assumed stream limit.
 */
export function connectHttp2(socket: Duplex, handler: ConnectionHandler, options?: Http2Options): Http2Connection {
  return new Http2Connection(socket, false, handler, options);
}
