/**
 * Reading the status of a response on the data path: HTTP :status, gRPC
 * grpc-status (headers or trailers), and whether it matches a route's retry
 * conditions. Plain loops over flat header lists; no parsing libraries.
 */
import { GrpcStatus } from '../errors.js';
import { RetryOn } from './policy-hooks.js';

/**
 * A failed answer for load and outlier accounting: a 5xx, or a gRPC status
 * that says the endpoint could not serve (UNAVAILABLE, INTERNAL, UNKNOWN,
 * RESOURCE_EXHAUSTED). Application errors such as NOT_FOUND are answers.
 */
export function isFailureStatus(status: number, grpc: number): boolean {
  if (status >= 500) return true;
  return grpc === GrpcStatus.UNAVAILABLE || grpc === GrpcStatus.INTERNAL || grpc === GrpcStatus.UNKNOWN || grpc === GrpcStatus.RESOURCE_EXHAUSTED;
}

/** Whether a response (HTTP status, and gRPC status when known) matches the route's retry conditions. */
export function matchesRetryConditions(on: number, status: number, grpc: number): boolean {
  if (status >= 500) {
    if ((on & RetryOn.HTTP_5XX) !== 0) return true;
    if ((on & RetryOn.GATEWAY_ERROR) !== 0 && (status === 502 || status === 503 || status === 504)) return true;
  } else if (status === 409 && (on & RetryOn.RETRIABLE_4XX) !== 0) {
    return true;
  }
  switch (grpc) {
    case GrpcStatus.UNAVAILABLE: return (on & RetryOn.GRPC_UNAVAILABLE) !== 0;
    case GrpcStatus.CANCELLED: return (on & RetryOn.GRPC_CANCELLED) !== 0;
    case GrpcStatus.DEADLINE_EXCEEDED: return (on & RetryOn.GRPC_DEADLINE_EXCEEDED) !== 0;
    case GrpcStatus.RESOURCE_EXHAUSTED: return (on & RetryOn.GRPC_RESOURCE_EXHAUSTED) !== 0;
    case GrpcStatus.INTERNAL: return (on & RetryOn.GRPC_INTERNAL) !== 0;
    case GrpcStatus.UNKNOWN: return (on & RetryOn.GRPC_UNKNOWN) !== 0;
    default: return false;
  }
}

/** Where the first gRPC message of a held body ends (5-byte prefix + length), or Infinity while unknown. */
export function firstMessageEnd(data: readonly Buffer[]): number {
  const first = data[0]!;
  if (first.length >= 5) return 5 + first.readUInt32BE(1);
  const all = Buffer.concat(data as Buffer[]);
  return all.length >= 5 ? 5 + all.readUInt32BE(1) : Infinity;
}

export function statusOf(v: string): number {
  if (v.length !== 3) return 0;
  return (v.charCodeAt(0) - 48) * 100 + (v.charCodeAt(1) - 48) * 10 + (v.charCodeAt(2) - 48);
}

export function grpcStatusOf(h: readonly string[]): number {
  for (let i = 0; i < h.length; i += 2) {
    if (h[i] === 'grpc-status') {
      const v = h[i + 1]!;
      let n = 0;
      for (let j = 0; j < v.length; j++) n = n * 10 + (v.charCodeAt(j) - 48);
      return n;
    }
  }
  return -1;
}
