import {
  FailfastQueue, createBalancer, endpointLoadOptions, type BalancerSpec, type Clock, type LoadBalancer, type RandomSource,
} from '../balancing/index.js';
import type { ServiceConfig } from '../config/index.js';
import type { Http2Options } from '../http2/index.js';
import { ENDPOINT_STATE_NAMES, Endpoint, EndpointState, type EndpointOwner, type PoolWaiter } from './endpoint.js';
import { H1Pool } from './upstream-h1-pool.js';
import { H2Pool } from './upstream-h2-pool.js';
import type { PolicyProvider, ServiceGuard } from './policy-hooks.js';

/** A request waiting for an endpoint of a service (the failfast queue's waiter). */
export interface EndpointWaiter extends PoolWaiter {
  onReady(): void;
  onTimeout(): void;
}

export interface ServiceDeps {
  clock: Clock;
  random: RandomSource;
  /**
   * Health checking and outlier detection come from the policy layer through
   * this provider (src/proxy/policy-hooks.ts); this file never imports src/policy.
   */
  policies?: PolicyProvider;
  /** Engine options for upstream connections. */
  upstreamHttp2?: Http2Options;
  /** Told when an endpoint becomes unreachable or reachable again (for logs). */
  events?: EndpointEvents;
}

/**
 * Reachability changes of endpoints: at most one call per change, never one
 * per failed reconnect attempt or per request, so each can be a log line.
 */
export interface EndpointEvents {
  /** Connecting failed and no connection is open; `cause` is e.g. "connection refused (ECONNREFUSED)". */
  unreachable?(service: string, endpoint: string, cause: string): void;
  /** Connected again after `downForMs` of being unreachable. */
  reachable?(service: string, endpoint: string, downForMs: number): void;
  /** An upstream connection's flow control stalled for stallTimeout; it is being replaced. */
  stalled?(service: string, endpoint: string, direction: 'send' | 'receive', stallTimeoutMs: number): void;
}

/**
 * A service at run time: its endpoints with their pools, the balancer's
 * picker over the pickable ones, and the failfast queue for requests that
 * arrive while none is pickable (Linkerd's behaviour: wait up to 3 s, then
 * fail fast until an endpoint is ready again).
 */
export class ServiceRuntime implements EndpointOwner {
  readonly name: string;
  readonly isHttp1: boolean;
  readonly endpoints: Endpoint[] = [];
  readonly balancer: LoadBalancer<Endpoint>;
  readonly failfast: FailfastQueue<EndpointWaiter>;
  /** Requests in flight (circuit breaker maxRequests). */
  inflight = 0;
  /** Retries waiting or in flight (circuit breaker maxRetries). */
  retriesInFlight = 0;
  /** After a queue timeout, requests fail at once until an endpoint becomes ready. */
  failfastMode = false;
  private pickableCount = 0;
  /** Where the hash key of hash policies comes from: a header name, ':path', or '' for the client address. */
  readonly hashHeader: string | undefined;
  readonly hashOnSource: boolean;
  /** A slot for telemetry's per-service record. */
  telemetry: unknown = undefined;

  private readonly events: EndpointEvents | undefined;

  constructor(readonly config: ServiceConfig, deps: ServiceDeps) {
    this.name = config.name;
    this.events = deps.events;
    this.isHttp1 = config.protocol === 'http1';
    const spec = config.balancer as unknown as BalancerSpec;
    this.balancer = createBalancer<Endpoint>(spec, { clock: deps.clock, random: deps.random });
    this.failfast = new FailfastQueue<EndpointWaiter>({
      clock: deps.clock,
      timeoutMs: config.failfast.timeout,
      capacity: config.failfast.queueSize,
    });
    const hashOn = spec.hashOn as Record<string, unknown> | undefined;
    this.hashHeader = hashOn === undefined ? undefined
      : typeof hashOn.header === 'string' ? hashOn.header
      : typeof hashOn.grpcMetadata === 'string' ? hashOn.grpcMetadata
      : hashOn.path === true ? ':path' : undefined;
    this.hashOnSource = hashOn?.sourceIp === true;
    const loadOptions = endpointLoadOptions(spec);
    for (const e of config.endpoints) {
      const ep = new Endpoint(e.address, e.weight, deps.clock, loadOptions, this);
      ep.pool = this.isHttp1
        ? new H1Pool(ep, {
            connectTimeout: config.connectTimeout,
            connections: config.http1.maxConnectionsPerEndpoint,
            backoffBase: config.reconnectBackoff.base,
            backoffMax: config.reconnectBackoff.max,
          })
        : new H2Pool(ep, {
            connectTimeout: config.connectTimeout,
            maxConnections: config.maxConnectionsPerEndpoint,
            keepaliveInterval: config.keepaliveInterval,
            keepaliveTimeout: config.keepaliveTimeout,
            stallTimeout: config.stallTimeout,
            streamIdleTimeout: config.streamIdleTimeout,
            backoffBase: config.reconnectBackoff.base,
            backoffMax: config.reconnectBackoff.max,
            http2: deps.upstreamHttp2,
          }, deps.random);
      this.endpoints.push(ep);
    }
    this.rebuild();
    this.guards = deps.policies?.serviceGuards(this) ?? [];
  }

  private readonly guards: ServiceGuard[];

  /** Connects to (or checks) every endpoint ahead of traffic and starts the guards. */
  start(): void {
    for (const ep of this.endpoints) ep.pool.start();
    for (const g of this.guards) g.start();
  }

  /** The hash key of a request for hash policies, or undefined. */
  hashKey(headers: readonly string[], clientAddress: string | undefined): string | undefined {
    if (this.hashOnSource) return clientAddress;
    const name = this.hashHeader;
    if (name === undefined) return undefined;
    for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1];
    return undefined;
  }

  /**
   * An endpoint for a request, avoiding `avoid` (the endpoint of a failed
   * attempt) when another is pickable. Undefined when none is pickable.
   */
  pick(hashKey: string | undefined, avoid: Endpoint | null): Endpoint | undefined {
    let ep = this.balancer.pick(hashKey);
    if (ep !== undefined && ep === avoid && this.pickableCount > 1) {
      for (let i = 0; i < 3 && ep === avoid; i++) ep = this.balancer.pick(undefined);
    }
    return ep;
  }

  get hasPickable(): boolean {
    return this.pickableCount > 0;
  }

  onEndpointStateChange(): void {
    this.rebuild();
  }

  onEndpointStall(ep: Endpoint, direction: 'send' | 'receive'): void {
    this.events?.stalled?.(this.name, ep.id, direction, this.config.stallTimeout);
  }

  onEndpointReachabilityChange(ep: Endpoint, downForMs: number): void {
    if (ep.cause !== '') this.events?.unreachable?.(this.name, ep.id, ep.cause);
    else this.events?.reachable?.(this.name, ep.id, downForMs);
  }

  /**
   * '' while a request can be sent; otherwise why not, naming every endpoint
   * and what keeps it out: `no available endpoint for service "api"
   * (127.0.0.1:1: connection refused (ECONNREFUSED))`. For /ready and the
   * stats, never the data path.
   */
  unavailableReason(): string {
    if (this.pickableCount > 0) return '';
    if (this.endpoints.length === 0) return `no endpoint configured for service "${this.name}"`;
    const why = this.endpoints.map((ep) => `${ep.id}: ${endpointProblem(ep)}`).join('; ');
    return `no available endpoint for service "${this.name}" (${why})`;
  }

  /** True while fewer than panicThreshold % of endpoints are healthy: health and ejection are ignored. */
  panicMode = false;

  private rebuild(): void {
    let pickable: Endpoint[] = [];
    for (const ep of this.endpoints) if (ep.pickable && ep.weight > 0) pickable.push(ep);
    const total = this.endpoints.length;
    // Envoy's panic threshold: when too few endpoints are healthy, sending everything to them
    // would overload them too; balance over every connectable endpoint instead.
    this.panicMode = total > 0 && (pickable.length * 100) / total < this.config.panicThreshold;
    if (this.panicMode) {
      pickable = [];
      for (const ep of this.endpoints) if (ep.connectable && ep.weight > 0) pickable.push(ep);
    }
    this.pickableCount = pickable.length;
    this.balancer.update(pickable);
    if (pickable.length > 0) {
      this.failfastMode = false;
      this.failfast.wakeAll();
    }
  }

  close(graceful: boolean): void {
    for (const g of this.guards) g.stop();
    for (const ep of this.endpoints) {
      ep.state = EndpointState.REMOVED;
      ep.pool.close(graceful);
    }
    this.failfast.close();
  }
}

/** What keeps an endpoint from being picked, in a few words. */
function endpointProblem(ep: Endpoint): string {
  if (ep.state === EndpointState.REMOVED) return 'removed';
  if (ep.cause !== '') return ep.cause;
  if (ep.ejected) return 'ejected by outlier detection';
  if (!ep.healthy) return 'failing health checks';
  if (ep.weight === 0) return 'weight 0';
  return ENDPOINT_STATE_NAMES[ep.state] ?? 'unknown';
}
