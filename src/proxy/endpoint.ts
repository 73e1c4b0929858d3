import { EndpointLoad, type Balanceable, type Clock, type EndpointLoadOptions } from '../balancing/index.js';
import type { HostPort } from '../config/index.js';
import { formatAddress } from '../config/index.js';

/** Connection state of an endpoint as the balancer sees it. */
export const EndpointState = {
  /** First connection attempt under way: pickable (requests wait for the connection). */
  CONNECTING: 0,
  /** At least one usable connection. */
  READY: 1,
  /** Connecting failed or the connection was lost: not pickable until a connection succeeds. */
  RECONNECTING: 2,
  /** Removed from the service: finishing in-flight requests only. */
  REMOVED: 3,
} as const;

export const ENDPOINT_STATE_NAMES = ['connecting', 'ready', 'reconnecting', 'removed'] as const;

/** Whatever carries requests to one endpoint (an HTTP/2 or HTTP/1.1 connection pool). */
export interface EndpointPool {
  /** Send the exchange when a connection can take it; or tell it the connection failed. */
  dispatch(exchange: PoolWaiter): void;
  /** Close connections: gracefully (GOAWAY, let streams finish) or at once. */
  close(graceful: boolean): void;
  /** Open connections (for telemetry). */
  readonly connectionCount: number;
}

/** The part of an exchange a pool talks to. */
export interface PoolWaiter {
  /** True when the request no longer needs a connection (cancelled or answered). */
  readonly abandoned: boolean;
  /** A connection can take the request now. */
  onPoolConnection(connection: unknown): void;
  /** Connecting to the endpoint failed; nothing was sent. */
  onPoolConnectFailed(): void;
}

/** Receives every real outcome of requests to an endpoint (passive outlier detection). */
export interface OutcomeRecorder {
  record(endpoint: Endpoint, failed: boolean): void;
}

/** Notified when an endpoint's pickability changes. */
export interface EndpointOwner {
  onEndpointStateChange(endpoint: Endpoint): void;
}

/**
 * One backend address of a service: what the balancer picks (Balanceable),
 * its connection pool, and the load record the data path updates.
 */
export class Endpoint implements Balanceable {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  readySince: number;
  readonly load: EndpointLoad;
  state: number = EndpointState.CONNECTING;
  pool!: EndpointPool;
  /** In-flight requests (the load record counts the same; kept here for telemetry). */
  requestsTotal = 0;
  failuresTotal = 0;
  /** Times passive outlier detection ejected it. */
  ejectionsTotal = 0;
  /** Times active health checking flipped it between healthy and unhealthy. */
  healthChangesTotal = 0;
  /** Upstream connections replaced because their flow control stalled. */
  stallsTotal = 0;
  /** A slot for telemetry's per-endpoint record, reached without a lookup. */
  telemetry: unknown = undefined;
  /** Passive outlier detection of the service, when enabled. */
  outlier: OutcomeRecorder | undefined = undefined;

  constructor(
    address: HostPort,
    weight: number,
    private readonly clock: Clock,
    loadOptions: EndpointLoadOptions,
    private readonly owner: EndpointOwner,
  ) {
    this.host = address.host;
    this.port = address.port;
    this.id = formatAddress(address);
    this.weight = weight;
    this.readySince = clock.now();
    this.load = new EndpointLoad(clock, loadOptions);
  }

  /** Active health checking says healthy (true until a checker says otherwise). */
  healthy = true;
  /** Passive outlier detection has ejected it for now. */
  ejected = false;

  /** Connected (or connecting for the first time): requests can be carried. */
  get connectable(): boolean {
    return this.state === EndpointState.READY || this.state === EndpointState.CONNECTING;
  }

  /** The balancer may pick it: connectable, healthy and not ejected. */
  get pickable(): boolean {
    return this.connectable && this.healthy && !this.ejected;
  }

  setState(state: number): void {
    if (this.state === state || this.state === EndpointState.REMOVED) return;
    this.update(() => (this.state = state));
  }

  setHealthy(healthy: boolean): void {
    if (this.healthy === healthy) return;
    this.healthChangesTotal++;
    this.update(() => (this.healthy = healthy));
  }

  setEjected(ejected: boolean): void {
    if (this.ejected === ejected) return;
    if (ejected) this.ejectionsTotal++;
    this.update(() => (this.ejected = ejected));
  }

  /** A request to this endpoint got a real answer (or a real failure). */
  recordOutcome(failed: boolean): void {
    if (this.outlier !== undefined) this.outlier.record(this, failed);
  }

  /** Applies a change and tells the owner when pickability changed (rare: never per request). */
  private update(change: () => void): void {
    const wasPickable = this.pickable;
    change();
    const now = this.pickable;
    // A newly pickable endpoint starts its slow-start ramp now.
    if (now && !wasPickable) this.readySince = this.clock.now();
    if (wasPickable !== now) this.owner.onEndpointStateChange(this);
  }
}
