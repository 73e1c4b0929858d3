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

/**
 * The response of one error kind with its own message (an authorization
 * refusal names its rule): built when the configuration is compiled, never
 * per request.
 */
export function buildErrorResponse(kind: ProxyErrorKind, message: string = kind.message): ErrorResponse {
  const body = Buffer.from(`${kind.code}: ${message}\n`);
  return {
    grpcHeaders: [
      ':status', '200',
      'content-type', 'application/grpc',
      'grpc-status', String(kind.grpcStatus),
      'grpc-message', encodeGrpcMessage(message),
      'switchyard-error', kind.code,
    ],
    grpcTrailers: [
      'grpc-status', String(kind.grpcStatus),
      'grpc-message', encodeGrpcMessage(message),
      'switchyard-error', kind.code,
    ],
    httpHeaders: [
      ':status', String(kind.httpStatus),
      'content-type', 'text/plain; charset=utf-8',
      'content-length', String(body.length),
      'switchyard-error', kind.code,
    ],
    httpBody: body,
  };
}

for (const kind of Object.values(ProxyErrors)) responses.set(kind, buildErrorResponse(kind));

export function errorResponse(kind: ProxyErrorKind): ErrorResponse {
  return responses.get(kind)!;
}
