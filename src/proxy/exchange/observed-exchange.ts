import type { PickDecision } from '../../balancing/decision.js';
import type { Endpoint } from '../endpoint.js';
import type { AuthzDenial } from '../policy-hooks.js';
import type { ServiceRuntime } from '../service-runtime.js';

/**
 * What telemetry reads of a finished request or tunnel: a proxied request
 * (Exchange) and an upgrade (UpgradeAttempt, whose tunnel reports once when
 * it closes) are observed alike, so both are counted in the same series and
 * logged on the same access log. Plain fields, read once at the end.
 */
export interface ObservedExchange {
  readonly listenerName: string;
  readonly routeName: string;
  readonly service: ServiceRuntime;
  readonly method: string;
  readonly path: string;
  readonly isGrpc: boolean;
  /** The request's fields (telemetry may add x-request-id at the start). */
  readonly reqHeaders: string[];
  /** performance.now() at the start. */
  readonly startedAt: number;
  /** The endpoint of the last attempt, null when none was picked. */
  readonly lastEndpoint: Endpoint | null;
  /** Why the balancer picked it, recorded only while the service records decisions; null (or absent) otherwise. */
  readonly decision?: PickDecision | null;
  /** The status the client got (101 or 200 for a tunnel), 0 for none. */
  readonly status: number;
  readonly grpcStatus: number;
  /** Stable code of the proxy error answered, or ''. */
  readonly errorCode: string;
  readonly refusal: AuthzDenial | null;
  readonly attempts: number;
  readonly hedges: number;
  readonly clientIdentity: string;
  readonly clientAddress: string | undefined;
  /** Octets relayed from the client: the request body, or a tunnel's bytes towards the endpoint. */
  readonly requestBytes: number;
  /** Octets relayed to the client: the response body, or a tunnel's bytes from the endpoint. */
  readonly responseBytes: number;
  /** The upgraded protocol of a tunnel (`websocket`), '' for a request. */
  readonly upgrade: string;
}

/** What the proxy reports about each request and tunnel (telemetry plugs in here). */
export interface ExchangeObserver {
  /** The request was routed and is about to be dispatched. */
  onExchangeStart(ex: ObservedExchange): void;
  /** The request finished (response ended, failed, reset or cancelled; a tunnel closed); called once. */
  onExchangeEnd(ex: ObservedExchange): void;
}
