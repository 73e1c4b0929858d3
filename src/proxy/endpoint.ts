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
  /** A slot for telemetry's per-endpoint record, reached without a lookup. */
  telemetry: unknown = undefined;

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

  get pickable(): boolean {
    return this.state === EndpointState.READY || this.state === EndpointState.CONNECTING;
  }

  setState(state: number): void {
    if (this.state === state || this.state === EndpointState.REMOVED) return;
    const wasPickable = this.pickable;
    this.state = state;
    if (state === EndpointState.READY && !wasPickable) this.readySince = this.clock.now();
    if (wasPickable !== this.pickable) this.owner.onEndpointStateChange(this);
  }
}
