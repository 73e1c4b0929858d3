import type http from 'node:http';
import type net from 'node:net';
import type { ListenerLimitsConfig } from '../config/index.js';
import { ErrorCode, type Http2Stream } from '../http2/index.js';
import { ProxyErrors, type ProxyErrorKind } from '../errors.js';
import { errorResponse } from './error-responses.js';
import { isGrpcContentType } from './headers.js';

/**
 * Request heads refused before they became requests (no route, no exchange),
 * by index: the `reason` label of switchyard_listener_requests_rejected_total.
 */
export const HEAD_REJECT_REASONS = ['header-count', 'header-size', 'uri-too-long', 'header-timeout', 'bad-request'] as const;
export const HeadReject = { HEADER_COUNT: 0, HEADER_SIZE: 1, URI_TOO_LONG: 2, HEADER_TIMEOUT: 3, BAD_REQUEST: 4 } as const;

/** How long a connection answered with an error is still read before it is closed (see lingerThenClose). */
const LINGER_MS = 2000;

/**
 * node:http server options from a listener's limits. The request timeout
 * stays off: a request body may stream for as long as the route allows
 * (route `timeout`, `idleTimeout`), which node cannot tell apart.
 */
export function h1ServerOptions(limits: ListenerLimitsConfig): http.ServerOptions {
  return {
    keepAliveTimeout: limits.idleTimeout,
    headersTimeout: limits.headersTimeout,
    requestTimeout: 0,
    maxHeaderSize: limits.maxHeaderSize,
    // node checks the head and keep-alive deadlines of all its connections on this period (default 30 s).
    connectionsCheckingInterval: Math.max(100, Math.min(1000, limits.headersTimeout / 4 || 1000)),
  };
}

/**
 * Makes node enforce headersTimeout on connections handed to the server with
 * `emit('connection')`: node tracks connections and starts its deadline
 * checks only when the server itself listens (Node 20–24); the listener's
 * server never does. Without this a client sending its head byte by byte
 * holds the connection for ever (slowloris).
 */
export function trackH1Connections(server: http.Server): void {
  // node keeps at most maxHeadersCount fields and drops the rest silently, Host
  // among them (then answering 400 itself): the listener counts them instead,
  // and maxHeaderSize bounds what node holds.
  server.maxHeadersCount = 0;
  server.emit('listening');
}

function h1Answer(kind: ProxyErrorKind): Buffer {
  const r = errorResponse(kind);
  const reason = kind.httpStatus === 408 ? 'Request Timeout' : kind.httpStatus === 414 ? 'URI Too Long' : kind.httpStatus === 431 ? 'Request Header Fields Too Large' : 'Bad Request';
  return Buffer.concat([
    Buffer.from(`HTTP/1.1 ${kind.httpStatus} ${reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${r.httpBody.length}\r\nswitchyard-error: ${kind.code}\r\nconnection: close\r\n\r\n`),
    r.httpBody,
  ]);
}

const ANSWERS: Buffer[] = [];
ANSWERS[HeadReject.HEADER_COUNT] = h1Answer(ProxyErrors.HEADERS_TOO_LARGE);
ANSWERS[HeadReject.HEADER_SIZE] = h1Answer(ProxyErrors.HEADERS_TOO_LARGE);
ANSWERS[HeadReject.URI_TOO_LONG] = h1Answer(ProxyErrors.URI_TOO_LONG);
ANSWERS[HeadReject.HEADER_TIMEOUT] = h1Answer(ProxyErrors.REQUEST_TIMEOUT);
ANSWERS[HeadReject.BAD_REQUEST] = h1Answer(ProxyErrors.BAD_REQUEST);

/** A request method, then a space: the start of a request line. */
const REQUEST_LINE_START = /^[A-Z]{3,10} /;

/**
 * What node's parser refused, as a HeadReject, or -1 when there is nothing
 * to answer (the client went away). HPE_HEADER_OVERFLOW covers the request
 * line and the header block together; it is a 414 when the chunk being
 * parsed starts a request whose line alone is over the limit (RFC 9112
 * §3), else 431 (RFC 6585 §5), as Envoy answers and
 * not the 400 of node's own handler. A target longer than one read cannot be
 * told from a long header: that one is a 431.
 */
export function classifyClientError(err: NodeJS.ErrnoException & { rawPacket?: Buffer }, maxHeaderSize: number): number {
  switch (err.code) {
    case 'ECONNRESET':
    case 'EPIPE':
      return -1;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return HeadReject.HEADER_TIMEOUT;
    case 'HPE_HEADER_OVERFLOW': {
      const raw = err.rawPacket;
      if (raw !== undefined && REQUEST_LINE_START.test(raw.toString('latin1', 0, 11))) {
        const lineEnd = raw.indexOf(0x0a);
        if (lineEnd < 0 || lineEnd >= maxHeaderSize) return HeadReject.URI_TOO_LONG;
      }
      return HeadReject.HEADER_SIZE;
    }
    default:
      return HeadReject.BAD_REQUEST;
  }
}

/** The listener's 'clientError': answers in the proxy's error format, counts, and closes. */
export function answerClientError(err: NodeJS.ErrnoException, socket: net.Socket, counts: number[], maxHeaderSize: number): void {
  const reason = classifyClientError(err, maxHeaderSize);
  if (reason < 0 || !socket.writable) {
    socket.destroy();
    return;
  }
  counts[reason]!++;
  // A response already under way on this connection cannot be followed by another.
  if ((socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true) {
    socket.destroy();
    return;
  }
  lingerThenClose(socket, ANSWERS[reason]!);
}

/**
 * Answers, then reads and drops what the client still sends until it closes
 * (or LINGER_MS): closing with unread bytes would make the kernel reset the
 * connection and could destroy the answer before the client reads it (RFC 9112 §9.6).
 */
export function lingerThenClose(socket: net.Socket, answer: string | Buffer): void {
  socket.end(answer);
  socket.resume();
  const t = setTimeout(destroySocket, LINGER_MS, socket);
  t.unref();
  socket.once('close', () => clearTimeout(t));
}

function destroySocket(s: net.Socket): void {
  s.destroy();
}

/** Replaces node's destroySoon() after a `Connection: close` answer: linger instead of a close that may reset. */
function lingerInstead(this: net.Socket): void {
  lingerThenClose(this, '');
}

/** An HTTP/1.1 request with more header fields than the listener allows: 431, and the connection is closed. */
export function answerH1TooManyHeaders(req: http.IncomingMessage, res: http.ServerResponse): void {
  const r = errorResponse(ProxyErrors.HEADERS_TOO_LARGE);
  if (!req.complete) req.socket.destroySoon = lingerInstead;
  res.writeHead(431, { 'content-type': 'text/plain; charset=utf-8', 'switchyard-error': ProxyErrors.HEADERS_TOO_LARGE.code, connection: 'close' });
  res.end(r.httpBody);
}

/**
 * An HTTP/2 request with more header fields than the listener allows: 431
 * (gRPC: RESOURCE_EXHAUSTED), then the stream is reset if the client is still sending.
 */
export function answerTooManyHeaders(stream: Http2Stream, headers: readonly string[], endStream: boolean): void {
  let grpc = false;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === 'content-type') {
      grpc = isGrpcContentType(headers[i + 1]);
      break;
    }
  }
  const r = errorResponse(ProxyErrors.HEADERS_TOO_LARGE);
  if (grpc) stream.respond(r.grpcHeaders, true);
  else {
    stream.respond(r.httpHeaders, false);
    stream.sendData(r.httpBody, true);
  }
  if (!endStream) stream.resetWhenSent(ErrorCode.NO_ERROR);
}
