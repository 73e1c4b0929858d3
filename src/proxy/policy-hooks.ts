/**
 * What the data path needs from the policy layer, declared here so that the
 * proxy never imports src/policy (lower layers never import higher ones). The
 * policy layer implements these; whoever assembles a Proxy (the CLI, tests)
 * passes `defaultPolicies` from src/policy.
 */
import type { RouteConfig } from '../config/index.js';
import type { ServiceRuntime } from './service-runtime.js';
import type { Endpoint } from './endpoint.js';

/** Retry conditions as bits, so a decision is one AND per attempt. */
export const RetryOn = {
  CONNECT_FAILURE: 1 << 0,
  REFUSED_STREAM: 1 << 1,
  RESET: 1 << 2,
  HTTP_5XX: 1 << 3,
  GATEWAY_ERROR: 1 << 4,
  RETRIABLE_4XX: 1 << 5,
  GRPC_UNAVAILABLE: 1 << 6,
  GRPC_CANCELLED: 1 << 7,
  GRPC_DEADLINE_EXCEEDED: 1 << 8,
  GRPC_RESOURCE_EXHAUSTED: 1 << 9,
  GRPC_INTERNAL: 1 << 10,
  GRPC_UNKNOWN: 1 << 11,
} as const;

/** Any gRPC status condition: responses must be held until their trailers to decide. */
export const RETRY_ON_GRPC_STATUS =
  RetryOn.GRPC_UNAVAILABLE | RetryOn.GRPC_CANCELLED | RetryOn.GRPC_DEADLINE_EXCEEDED |
  RetryOn.GRPC_RESOURCE_EXHAUSTED | RetryOn.GRPC_INTERNAL | RetryOn.GRPC_UNKNOWN;

/** A route's retry rules, compiled once per configuration. */
export interface RetryRules {
  /** RetryOn bits. */
  readonly on: number;
  /** Attempts in total, the first included. */
  readonly attempts: number;
  readonly perTryTimeout: number;
  readonly bufferSize: number;
  readonly nonIdempotent: boolean;
  /** Delay before retry number `n` (1-based), ms. */
  backoff(n: number): number;
  /** Counts a request towards the budget. */
  onRequest(): void;
  /** Takes one retry from the budget; false when it is spent. */
  tryRetry(): boolean;
}

/** Something a service runs alongside its endpoints (health checking, outlier detection). */
export interface ServiceGuard {
  start(): void;
  stop(): void;
  /** An endpoint joined the service (discovery): watch it too. */
  add(endpoint: Endpoint): void;
  /** An endpoint left the service (it drains): forget it. */
  remove(endpoint: Endpoint): void;
}

export interface PolicyProvider {
  retryRules(route: RouteConfig): RetryRules | undefined;
  /** Guards for a service; they act on its endpoints (setHealthy, setEjected, endpoint.outlier). */
  serviceGuards(service: ServiceRuntime): ServiceGuard[];
}
