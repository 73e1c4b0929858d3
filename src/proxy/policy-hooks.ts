/**
 * What the data path needs from the policy layer, declared here so that the
 * proxy never imports src/policy (lower layers never import higher ones). The
 * policy layer implements these; whoever assembles a Proxy (the CLI, tests)
 * passes `defaultPolicies` from src/policy.
 */
import type { AuthorizationRule, RouteConfig } from '../config/index.js';
import type { ProxyErrorKind } from '../errors.js';
import type { ErrorResponse } from './error-responses.js';
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

/**
 * Why authorization refused a request, made once per rule when the rules are
 * compiled: the refusal costs no allocation.
 */
export interface AuthzDenial {
  /** The rule that refused it: a configured name, or `default-deny` (no allow rule matched). */
  readonly rule: string;
  /** ProxyErrors.UNAUTHENTICATED (401) or ProxyErrors.PERMISSION_DENIED (403). */
  readonly kind: ProxyErrorKind;
  /** The answer, whose message names the rule. */
  readonly response: ErrorResponse;
}

/** The authorization rules of one listener or route, compiled once per configuration. */
export interface Authorizer {
  /**
   * `identity`: the client's verified identity ('' without one); `address`:
   * the client's IP address as the socket reports it; `path`: the request's
   * :path (request-target). Returns null when the request may pass.
   */
  check(identity: string, address: string | undefined, path: string): AuthzDenial | null;
}

export interface PolicyProvider {
  retryRules(route: RouteConfig): RetryRules | undefined;
  /** Guards for a service; they act on its endpoints (setHealthy, setEjected, endpoint.outlier). */
  serviceGuards(service: ServiceRuntime): ServiceGuard[];
  /**
   * Compiles the `authorization` rules of a listener or route. A proxy whose
   * configuration has rules refuses to start without it (rules that are not
   * enforced must not look as if they were).
   */
  authorizer?(rules: readonly AuthorizationRule[]): Authorizer;
}
