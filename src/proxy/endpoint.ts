import { EndpointLoad, type Balanceable, type Clock, type EndpointLoadOptions } from '../balancing/index.js';
import type { HostPort } from '../config/index.js';
import { formatAddress } from '../config/index.js';
import type { Upstream } from './exchange/upstream.js';

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
  /** Finds out, ahead of traffic, whether the endpoint can be reached (connects, or checks it can). */
  start(): void;
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
  /** A connection can take the request now: an HTTP/2 connection, or the HTTP/1.1 pool. */
  onPoolConnection(upstream: Upstream): void;
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
  /**
   * The endpoint became unreachable (`endpoint.cause` says why) or reachable
   * again: once per change, never per failed retry.
   */
  onEndpointReachabilityChange?(endpoint: Endpoint, downForMs: number): void;
  /** An upstream connection's flow control stalled and the connection is being replaced (rare). */
  onEndpointStall?(endpoint: Endpoint, direction: 'send' | 'receive'): void;
}

/**
 * Why connecting failed, in words an operator can act on, with the system
 * code: "connection refused (ECONNREFUSED)". Called per failed connect
 * attempt (bounded by the reconnect backoff), never per request.
 */
export function connectFailureCause(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const reason = (e as { reason?: unknown } | null)?.reason;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' && typeof reason === 'string') {
    return `TLS: the endpoint's certificate does not match the server name: ${reason} (set services[].tls.serverName or identity) (${code})`;
  }
  const words = CONNECT_ERROR_WORDS[code];
  if (words !== undefined) return `${words} (${code})`;
  const message = typeof e?.message === 'string' && e.message !== '' ? e.message : String(err);
  return code === '' || message.includes(code) ? message : `${message} (${code})`;
}

const CONNECT_ERROR_WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'name resolution failed, try again',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EADDRNOTAVAIL: 'address not available',
  ETIMEDOUT: 'connect timeout',
  UND_ERR_CONNECT_TIMEOUT: 'connect timeout',
  UND_ERR_SOCKET: 'connection closed',
  // TLS to endpoints: verification of the endpoint's certificate (OpenSSL's X509 codes) ...
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "TLS: the endpoint's certificate is not signed by a trusted CA (services[].tls.ca)",
  UNABLE_TO_GET_ISSUER_CERT: "TLS: the endpoint's certificate is not signed by a trusted CA (services[].tls.ca)",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "TLS: the endpoint's certificate is not signed by a trusted CA (services[].tls.ca)",
  SELF_SIGNED_CERT_IN_CHAIN: "TLS: the endpoint's certificate chain ends in a CA that is not trusted (services[].tls.ca)",
  DEPTH_ZERO_SELF_SIGNED_CERT: "TLS: the endpoint's certificate is self-signed and not trusted (services[].tls.ca)",
  CERT_HAS_EXPIRED: "TLS: the endpoint's certificate has expired",
  CERT_NOT_YET_VALID: "TLS: the endpoint's certificate is not valid yet (clock skew?)",
  CERT_REVOKED: "TLS: the endpoint's certificate is revoked",
  ERR_TLS_CERT_ALTNAME_INVALID: "TLS: the endpoint's certificate does not match the server name",
  // ... and the endpoint's refusals (TLS alerts, RFC 8446 §6.2).
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: 'TLS: the endpoint refused the handshake: it requires a client certificate (services[].tls.cert and key)',
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: 'TLS: the endpoint refused the handshake: it does not accept our client certificate',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'TLS: the endpoint refused the handshake: it does not trust the CA of our client certificate',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: 'TLS: the endpoint refused the handshake: our client certificate has expired',
  ERR_SSL_TLSV1_ALERT_ACCESS_DENIED: 'TLS: the endpoint refused the handshake: access denied for our client certificate',
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: 'TLS: the endpoint refused the handshake (no common cipher, or it requires a client certificate)',
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: 'TLS: the endpoint refused the handshake: no common TLS version (services[].tls.minVersion)',
  ERR_SSL_UNSUPPORTED_PROTOCOL: 'TLS: no common TLS version with the endpoint (services[].tls.minVersion)',
  ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL: 'TLS: the endpoint refused the handshake: it speaks none of the offered ALPN protocols',
  ERR_SSL_WRONG_VERSION_NUMBER: 'TLS: the endpoint does not speak TLS (a plaintext port?)',
  ERR_SSL_PACKET_LENGTH_TOO_LONG: 'TLS: the endpoint does not speak TLS (a plaintext port?)',
};

/**
 * One backend address of a service: what the balancer picks (Balanceable),
 * its connection pool, and the load record the data path updates.
 */
export class Endpoint implements Balanceable {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /** Relative weight; discovery may change it (the owner rebuilds its picker then). */
  weight: number;
  /**
   * Kubernetes: serving but terminating. Such an endpoint takes requests only
   * while no other endpoint of the service can (Envoy's and Istio's rule), so
   * a rollout that leaves nothing ready still serves.
   */
  terminating = false;
  /** Topology zone from discovery ('' when unknown). */
  zone = '';
  /** Zones this endpoint should serve (Kubernetes topology hints). */
  forZones: readonly string[] = [];
  /** The discovery source's name for it (a pod), '' when none. */
  sourceName = '';
  /** The source's object it was last updated from (an identical object is not compared again). */
  discovered: unknown = undefined;
  /** When it was removed from the service (clock ms) and began draining; 0 while a member. */
  removedAt = 0;
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

  /** One of its connections stalled (flow control made no progress) and is being replaced. */
  stalled(direction: 'send' | 'receive'): void {
    this.stallsTotal++;
    this.owner.onEndpointStall?.(this, direction);
  }
  /** A slot for telemetry's per-endpoint record, reached without a lookup. */
  telemetry: unknown = undefined;
  /** Passive outlier detection of the service, when enabled. */
  outlier: OutcomeRecorder | undefined = undefined;
  /**
   * Why the endpoint cannot be reached ("connection refused (ECONNREFUSED)"),
   * from the last failed connect; '' while it is reachable (or not tried yet).
   */
  cause = '';
  /** When it became unreachable (clock ms), while `cause` is set. */
  unreachableSince = 0;
  /** Connect attempts that failed (TCP or name resolution), since start. */
  connectFailuresTotal = 0;

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
    if (state === EndpointState.READY && this.cause !== '') {
      // Reachable again: the owner hears of it once (an info line, not one per connection).
      this.cause = '';
      this.owner.onEndpointReachabilityChange?.(this, this.clock.now() - this.unreachableSince);
    }
  }

  /**
   * A connect attempt failed and no connection is open: not pickable until
   * one succeeds. The owner hears of the first failure of an outage only;
   * later ones (every backoff retry) just keep `cause` current.
   */
  connectFailed(cause: string): void {
    if (this.state === EndpointState.REMOVED) return;
    this.connectFailuresTotal++;
    const first = this.cause === '';
    this.cause = cause;
    if (first) this.unreachableSince = this.clock.now();
    this.setState(EndpointState.RECONNECTING);
    if (first) this.owner.onEndpointReachabilityChange?.(this, 0);
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
