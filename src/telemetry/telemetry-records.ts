import type { Endpoint } from '../proxy/endpoint.js';
import type { ObservedExchange } from '../proxy/exchange/observed-exchange.js';
import type { AuthzDenial } from '../proxy/policy-hooks.js';
import type { ServiceRuntime } from '../proxy/service-runtime.js';
import { FAILED_GRPC } from './failure-reason.js';
import { DURATION_BUCKETS } from './prom.js';
import { Outcome, WindowStats } from './window-stats.js';

/*
 * The records telemetry keeps per service, endpoint, listener × route series
 * and path, reached from the data path through plain object slots (no lookup
 * by label per request), and how a finished request is classified.
 */

/**
 * success, failure, cancelled or refused. A refusal by authorization is
 * `refused`: the client's doing, not the service's, so it must not lower the
 * success rate (an unauthorized caller could otherwise page the service's
 * owners); a 403 or PERMISSION_DENIED from the endpoint itself is a success,
 * as before. Any other proxy error code makes it a failure first of all: a
 * client that gave up while the proxy could not serve it (waiting for an
 * endpoint during an outage) lost the call, and counting that as a neutral
 * cancel hid outages (the success rate stayed high while most calls failed).
 * Only a cancel with no proxy error is `cancelled`.
 */
export function classify(ex: ObservedExchange): number {
  if (ex.refusal) return Outcome.REFUSED;
  if (ex.errorCode !== '') return Outcome.FAILURE;
  if (ex.status === 0 && ex.grpcStatus === 1) return Outcome.CANCELLED;
  if (ex.status >= 500) return Outcome.FAILURE;
  if (ex.grpcStatus > 0 && FAILED_GRPC.has(ex.grpcStatus)) return Outcome.FAILURE;
  if (ex.status === 0) return Outcome.FAILURE;
  return Outcome.SUCCESS;
}

/** Requests of one (status, grpc-status, classification, failure reason) of a series. */
export interface OutcomeCount {
  status: number;
  grpcStatus: number;
  outcome: number;
  reason: number;
  n: number;
}

/** The key of an OutcomeCount: status < 1000, (grpcStatus + 1) * 4 + outcome < 1000. */
function outcomeKey(status: number, grpcStatus: number, outcome: number, reason: number): number {
  return reason * 1_000_000 + status * 1000 + (grpcStatus + 1) * 4 + outcome;
}

export function countOutcome(outcomes: Map<number, OutcomeCount>, status: number, grpcStatus: number, outcome: number, reason: number): void {
  const key = outcomeKey(status, grpcStatus, outcome, reason);
  const o = outcomes.get(key);
  if (o !== undefined) o.n++;
  else outcomes.set(key, { status, grpcStatus, outcome, reason, n: 1 });
}

/**
 * Windowed statistics of one listener × route × service, shared by its
 * endpoints' series: listener, route and service views read these, so the
 * exact (1 %) latency windows exist once per route and service, not once
 * per endpoint.
 */
export class RouteStats {
  readonly stats = new WindowStats();
  constructor(readonly listener: string, readonly route: string, readonly service: string) {}
}

/** Per listener × route × service × endpoint: counters and the duration histogram. */
export class Series {
  readonly buckets = new Float64Array(DURATION_BUCKETS.length + 1);
  sum = 0;
  count = 0;
  retries = 0;
  hedges = 0;
  /** Refused requests by the refusal (rule and code), made at the first one. */
  denials: Map<AuthzDenial, number> | undefined = undefined;
  readonly outcomes = new Map<number, OutcomeCount>();
  readonly labels: Record<string, string>;
  /** Windowed stats of this series at compact latency resolution (one per endpoint: thousands of them); endpoint views merge them when read. */
  readonly stats = new WindowStats(true);

  constructor(readonly listener: string, readonly route: string, service: string, endpoint: string, readonly routeStats: RouteStats) {
    this.labels = { listener, route, service, endpoint };
  }
}

/** The record reached through Endpoint.telemetry: no lookup by label per request. */
export class EndpointRecord {
  /** listener name → route name → series. */
  readonly series = new Map<string, Map<string, Series>>();
  /** The series of the last request: an endpoint is mostly reached through one route (no map lookups per request). */
  last: Series | undefined = undefined;
  /** The endpoint it counts for; an endpoint re-added while its predecessor drains takes the record over. */
  constructor(readonly id: string, public endpoint: Endpoint | undefined) {}
}

/** The record reached through ServiceRuntime.telemetry. */
export class ServiceRecord {
  inFlight = 0;
  readonly endpoints: EndpointRecord[] = [];
  /** Requests that never got an endpoint. */
  readonly none = new EndpointRecord('none', undefined);
  /** Per listener × route this service was reached through. */
  readonly routes: RouteStats[] = [];
  constructor(readonly name: string, public service: ServiceRuntime) {}
}

/** Per path (gRPC method for gRPC requests), bounded. */
export class PathRecord {
  readonly stats = new WindowStats();
  readonly outcomes = new Map<number, OutcomeCount>();
  constructor(readonly name: string, readonly grpc: boolean) {}
}
