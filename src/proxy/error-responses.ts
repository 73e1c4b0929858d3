import { ProxyErrors, type ProxyErrorKind } from '../errors.js';
import { encodeGrpcMessage } from './headers.js';

/**
 * The responses the proxy answers with itself, built once per error kind:
 * a trailers-only gRPC response (gRPC PROTOCOL-HTTP2 "Trailers-Only") and a
 * plain HTTP response, both carrying the stable code in `switchyard-error`.
 */
export interface ErrorResponse {
  readonly grpcHeaders: readonly string[];
  /** For a gRPC response already under way: the status in trailers instead. */
  readonly grpcTrailers: readonly string[];
  readonly httpHeaders: readonly string[];
  readonly httpBody: Buffer;
}

const responses = new Map<ProxyErrorKind, ErrorResponse>();

for (const kind of Object.values(ProxyErrors)) {
  const body = Buffer.from(`${kind.code}: ${kind.message}\n`);
  responses.set(kind, {
    grpcHeaders: [
      ':status', '200',
      'content-type', 'application/grpc',
      'grpc-status', String(kind.grpcStatus),
      'grpc-message', encodeGrpcMessage(kind.message),
      'switchyard-error', kind.code,
    ],
    grpcTrailers: [
      'grpc-status', String(kind.grpcStatus),
      'grpc-message', encodeGrpcMessage(kind.message),
      'switchyard-error', kind.code,
    ],
    httpHeaders: [
      ':status', String(kind.httpStatus),
      'content-type', 'text/plain; charset=utf-8',
      'content-length', String(body.length),
      'switchyard-error', kind.code,
    ],
    httpBody: body,
  });
}

export function errorResponse(kind: ProxyErrorKind): ErrorResponse {
  return responses.get(kind)!;
}
