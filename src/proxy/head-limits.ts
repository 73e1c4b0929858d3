import type { ListenerLimitsConfig } from '../config/index.js';
import { ErrorCode, type Http2Stream } from '../http2/index.js';
import { HeadError, type H1Limits } from '../http1/index.js';
import { ProxyErrors, type ProxyErrorKind } from '../errors.js';
import { errorResponse } from './error-responses.js';
import { isGrpcContentType } from './headers.js';

/**
 * Request heads refused before they became requests (no route, no exchange),
 * by index: the `reason` label of switchyard_listener_requests_rejected_total.
 */
export const HEAD_REJECT_REASONS = ['header-count', 'header-size', 'uri-too-long', 'header-timeout', 'bad-request'] as const;
export const HeadReject = { HEADER_COUNT: 0, HEADER_SIZE: 1, URI_TOO_LONG: 2, HEADER_TIMEOUT: 3, BAD_REQUEST: 4 } as const;

/**
 * The HTTP/1.1 codec's limits from a listener's: the head's size and field
 * count (Envoy's max_request_headers_kb and max_headers_count), the time to
 * send it (slowloris) and the keep-alive idle time. A request body may
 * stream for as long as the route allows (route `timeout`, `idleTimeout`).
 */
export function h1Limits(limits: ListenerLimitsConfig): H1Limits {
  return {
    maxHeaderSize: limits.maxHeaderSize,
    maxHeaderFields: 2 * limits.maxHeaderCount,
    headersTimeout: limits.headersTimeout,
    idleTimeout: limits.idleTimeout,
  };
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

/**
 * What the codec refused, as a HeadReject: 431 for a head over
 * maxHeaderSize or with too many fields (RFC 6585 §5, as Envoy answers),
 * 414 for a request line alone over it (RFC 9112 §3), 408 for a head not
 * in within headersTimeout, 400 for a malformed one.
 */
export function headReject(error: HeadError): number {
  switch (error) {
    case HeadError.TooManyFields: return HeadReject.HEADER_COUNT;
    case HeadError.TooLarge: return HeadReject.HEADER_SIZE;
    case HeadError.UriTooLong: return HeadReject.URI_TOO_LONG;
    case HeadError.Timeout: return HeadReject.HEADER_TIMEOUT;
    default: return HeadReject.BAD_REQUEST;
  }
}

/** The codec's refusal: counted, and answered in the proxy's error format (then the connection closes). */
export function answerRefusedHead(error: HeadError, counts: number[]): Buffer {
  const reason = headReject(error);
  counts[reason]!++;
  return ANSWERS[reason]!;
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
