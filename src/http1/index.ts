/**
 * Switchyard's HTTP/1.1 codec (RFC 9112): the server role over any TCP or
 * TLS socket, and the chunked coding. It knows nothing of proxying.
 */
export { ChunkedDecoder, chunkHead, CRLF, LAST_CHUNK, type BodySink } from './chunked.js';
export { BodyKind, HeadError, type ParsedHead } from './request-head.js';
export { H1Server, type H1Limits, type H1ServerHandler } from './server.js';
export { H1ServerConnection } from './server-connection.js';
export { H1ServerRequest, type H1RequestHandler } from './server-request.js';
