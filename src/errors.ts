/**
 * Errors the proxy itself answers with. Each has a stable code (sent in the
 * `switchyard-error` response header and written in docs/errors.md), one
 * HTTP status and one gRPC status. This table is the only place they are mapped.
 */
export interface ProxyErrorKind {
  /** Stable code, e.g. SWY_ERR_NO_ENDPOINT. */
  readonly code: string;
  readonly httpStatus: number;
  readonly grpcStatus: number;
  readonly message: string;
}

function kind(code: string, httpStatus: number, grpcStatus: number, message: string): ProxyErrorKind {
  return Object.freeze({ code, httpStatus, grpcStatus, message });
}

/** gRPC status codes used here (grpc/doc/statuscodes.md). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export const ProxyErrors = {
  NO_ROUTE: kind('SWY_ERR_NO_ROUTE', 404, GrpcStatus.UNIMPLEMENTED, 'no route matches the request'),
  NO_ENDPOINT: kind('SWY_ERR_NO_ENDPOINT', 503, GrpcStatus.UNAVAILABLE, 'no endpoint of the service is available'),
  QUEUE_FULL: kind('SWY_ERR_QUEUE_FULL', 503, GrpcStatus.UNAVAILABLE, 'the wait queue for an endpoint is full'),
  QUEUE_TIMEOUT: kind('SWY_ERR_QUEUE_TIMEOUT', 503, GrpcStatus.UNAVAILABLE, 'no endpoint became available in time'),
  CONNECT_FAILED: kind('SWY_ERR_CONNECT_FAILED', 502, GrpcStatus.UNAVAILABLE, 'could not connect to the endpoint'),
  UPSTREAM_RESET: kind('SWY_ERR_UPSTREAM_RESET', 502, GrpcStatus.UNAVAILABLE, 'the endpoint reset the request'),
  UPSTREAM_PROTOCOL: kind('SWY_ERR_UPSTREAM_PROTOCOL', 502, GrpcStatus.INTERNAL, 'the endpoint broke the protocol'),
  CONNECTION_LOST: kind('SWY_ERR_CONNECTION_LOST', 502, GrpcStatus.UNAVAILABLE, 'the connection to the endpoint was lost'),
  TIMEOUT: kind('SWY_ERR_TIMEOUT', 504, GrpcStatus.DEADLINE_EXCEEDED, 'the request timed out'),
  OVERLOADED: kind('SWY_ERR_OVERLOADED', 503, GrpcStatus.UNAVAILABLE, 'the service is at its concurrency limit'),
  BAD_REQUEST: kind('SWY_ERR_BAD_REQUEST', 400, GrpcStatus.INTERNAL, 'the request cannot be forwarded'),
  UNAUTHENTICATED: kind('SWY_ERR_UNAUTHENTICATED', 401, GrpcStatus.UNAUTHENTICATED, 'a client identity is required'),
  PERMISSION_DENIED: kind('SWY_ERR_PERMISSION_DENIED', 403, GrpcStatus.PERMISSION_DENIED, 'the request is not allowed'),
  UPGRADE_UNSUPPORTED: kind('SWY_ERR_UPGRADE_UNSUPPORTED', 502, GrpcStatus.UNIMPLEMENTED, 'the service cannot carry this protocol upgrade'),
  REQUEST_TIMEOUT: kind('SWY_ERR_REQUEST_TIMEOUT', 408, GrpcStatus.DEADLINE_EXCEEDED, 'the request head did not arrive in time'),
  BODY_TOO_LARGE: kind('SWY_ERR_BODY_TOO_LARGE', 413, GrpcStatus.RESOURCE_EXHAUSTED, 'the request body is larger than the limit'),
  URI_TOO_LONG: kind('SWY_ERR_URI_TOO_LONG', 414, GrpcStatus.RESOURCE_EXHAUSTED, 'the request line is longer than the limit'),
  HEADERS_TOO_LARGE: kind('SWY_ERR_HEADERS_TOO_LARGE', 431, GrpcStatus.RESOURCE_EXHAUSTED, 'the request header fields are too large or too many'),
  INTERNAL: kind('SWY_ERR_INTERNAL', 500, GrpcStatus.INTERNAL, 'internal proxy error'),
} as const;

export type ProxyErrorName = keyof typeof ProxyErrors;

/** Thrown (rarely, never on the hot path) where a proxy error must cross an API boundary. */
export class SwitchyardError extends Error {
  readonly code: string;
  constructor(readonly kind: ProxyErrorKind, detail?: string) {
    super(detail === undefined ? kind.message : `${kind.message}: ${detail}`);
    this.code = kind.code;
    this.name = 'SwitchyardError';
  }
}
