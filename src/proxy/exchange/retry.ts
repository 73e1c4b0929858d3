/**
 * Retries of an exchange: whether another attempt may be made now, and the
 * response held back until its trailers so that a grpc-status in them can
 * still be retried. The rules themselves (conditions, attempts, backoff,
 * budget) are compiled once per route by the policy layer (RetryRules).
 */
import type { RetryRules } from '../policy-hooks.js';
import { firstMessageEnd } from '../response-status.js';
import type { ServiceRuntime } from '../service-runtime.js';
import type { RequestBody } from './request-body.js';

/** Attempts for failures that are always safe to retry: connect failures and unprocessed streams (§8.7). */
export const MAX_SAFE_ATTEMPTS = 5;

/** What a retry decision reads of its exchange. */
export interface RetryCandidate {
  readonly service: ServiceRuntime;
  readonly body: RequestBody;
  readonly isGrpc: boolean;
  /** The method (or the route) allows sending the request again. */
  readonly idempotent: boolean;
  /** Attempts dispatched so far, resends included. */
  readonly attempts: number;
  /** Retries (not counting never-processed resends) made so far. */
  readonly retries: number;
  /** Absolute deadline of the whole exchange (performance.now() ms; 0 = none). */
  readonly routeDeadline: number;
}

/**
 * The backoff before the next retry, or -1 when none may be made now:
 * attempts left, the body still at hand, a method that may be repeated, time
 * left, the service's retry breaker and the retry budget (taken from here on
 * success).
 */
export function retryDelay(retry: RetryRules, ex: RetryCandidate, now: number): number {
  if (ex.attempts >= retry.attempts || !ex.body.replayable) return -1;
  if (!ex.isGrpc && !ex.idempotent && !retry.nonIdempotent) return -1;
  const delay = retry.backoff(ex.retries + 1);
  if (ex.routeDeadline > 0 && now + delay >= ex.routeDeadline) return -1;
  const service = ex.service;
  if (service.retriesInFlight >= service.config.circuitBreakers.maxRetries) return -1;
  if (!retry.tryRetry()) return -1;
  return delay;
}

/**
 * A gRPC response held until its trailers (or until it is clearly a stream):
 * a grpc-status in the trailers can then still be retried, where Envoy only
 * reads headers. Made only for routes that retry on a gRPC status.
 */
export class HeldResponse {
  readonly data: Buffer[] = [];
  bytes = 0;

  constructor(readonly headers: readonly string[], private readonly limit: number) {}

  /** Adds response octets; true when the response must go on to the client now. */
  add(d: Buffer, endStream: boolean): boolean {
    this.data.push(d);
    this.bytes += d.length;
    // One gRPC message fits the hold; a second one means a stream: stop holding it back.
    return this.bytes > this.limit || endStream || this.bytes > firstMessageEnd(this.data);
  }
}

/** RFC 9110 §9.2.2: methods whose repetition has the same effect as one request. */
export function isIdempotentMethod(m: string): boolean {
  switch (m) {
    case 'GET':
    case 'HEAD':
    case 'OPTIONS':
    case 'PUT':
    case 'DELETE':
    case 'TRACE':
      return true;
    default:
      return false;
  }
}
