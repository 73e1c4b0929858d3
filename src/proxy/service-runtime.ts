import {
  FailfastQueue, endpointLoadOptions, type BalancerSpec, type Clock, type LoadBalancer, type RandomSource,
} from '../balancing/index.js';
import type { ServiceConfig } from '../config/index.js';
import type { PickDecision } from '../balancing/decision.js';
import { formatAddress } from '../config/index.js';
import { createSource, staticEndpoints, type DiscoveredEndpoint, type DiscoveryOptions, type DiscoverySource, type DiscoveryStatus } from '../discovery/index.js';
import type { Http2Options } from '../http2/index.js';
import { ENDPOINT_STATE_NAMES, Endpoint, EndpointState, type EndpointOwner, type PoolWaiter } from './endpoint.js';
import { H1Pool, type H1PoolSettings } from './upstream-h1-pool.js';
import { H2Pool, type H2PoolSettings } from './upstream-h2-pool.js';
import type { PolicyProvider, ServiceGuard } from './policy-hooks.js';
import { sameValue } from './reconfigure-rules.js';
import { ClientTls } from '../security/client-tls.js';
import { serviceBalancer, updateBalancer, zoneTrafficOf, type ZoneTraffic } from './zone-picker.js';
import { OrcaService } from './orca-service.js';
import type { IdentitySource } from '../security/identity-source.js';

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
  /** What discovery sources need from outside the configuration (a Kubernetes client config in tests). */
  discovery?: DiscoveryOptions;
  /** Position of the service in `services` (names the setting in errors: `services[1].tls.ca`). */
  index?: number;
  /**
   * The top-level `identity`: its trust anchor is the default `tls.ca`, and
   * its certificate (`source`, when the proxy has one) the default client certificate.
   */
  identity?: { trustAnchor: string; source?: IdentitySource };
  /** The proxy's zone ('' or absent: unknown): zone-aware balancing and the zone counts (zone-picker.ts). */
  zone?: string;
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
  /** The service's discovery source failed (first failure, or a different cause): the last good set stays. */
  discoveryFailed?(service: string, source: string, message: string): void;
  /** The source answered again after `downForMs` of failures. */
  discoveryRecovered?(service: string, source: string, downForMs: number): void;
  /** The endpoint set changed (ids added and removed; `updated`: weight or condition changes). */
  endpointsChanged?(service: string, added: readonly string[], removed: readonly string[], updated: number, total: number): void;
  /** A replaced certificate, key or CA file of the service's `tls` cannot be used: the previous material stays in use. */
  tlsFilesFailed?(service: string, message: string): void;
}

/** Follows a service's endpoint set (telemetry keeps per-endpoint records with it). */
export interface EndpointSetListener {
  /** A new endpoint joined. */
  added(endpoint: Endpoint): void;
  /** A removed endpoint finished draining (or was cut off at drainTimeout): forget it. */
  removed(endpoint: Endpoint): void;
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
  /** The members: what discovery (or the static list) says the service has now. */
  readonly endpoints: Endpoint[] = [];
  /** Removed endpoints whose in-flight requests are finishing (bounded by drainTimeout). */
  readonly draining = new Set<Endpoint>();
  /** Where the endpoints come from, when not a static list of addresses. */
  source: DiscoverySource | undefined;
  /** The source's health and last update (undefined for a static list of addresses). */
  discovery: DiscoveryStatus | undefined;
  private readonly byId = new Map<string, Endpoint>();
  private readonly setListeners: EndpointSetListener[] = [];
  private started = false;
  private closed = false;
  private drainTimer: NodeJS.Timeout | undefined = undefined;
  private readonly deps: ServiceDeps;
  private loadOptions: ReturnType<typeof endpointLoadOptions>;
  /** Replaced by a reload that changes `balancer`: a new picker over the same endpoint objects. */
  balancer: LoadBalancer<Endpoint>;
  failfast: FailfastQueue<EndpointWaiter>;
  /** Requests in flight (circuit breaker maxRequests). */
  inflight = 0;
  /** Retries waiting or in flight (circuit breaker maxRetries). */
  retriesInFlight = 0;
  /** After a queue timeout, requests fail at once until an endpoint becomes ready. */
  failfastMode = false;
  private pickableCount = 0;
  /** Where the hash key of hash policies comes from: a header name, ':path', or '' for the client address. */
  hashHeader: string | undefined;
  hashOnSource: boolean;
  /** The proxy's zone ('' when unknown). */
  localZone: string;
  /** Picks by destination zone (undefined while the proxy's zone is unknown). */
  zoneTraffic: ZoneTraffic | undefined;
  /** A slot for telemetry's per-service record. */
  telemetry: unknown = undefined;
  /** Load reports from the endpoints (`orca`), or null: the data path reads it once per response. */
  orca: OrcaService | null = null;

  private readonly events: EndpointEvents | undefined;
  /** TLS to the endpoints (`tls`), shared by every pool of the service. */
  readonly tls: ClientTls | undefined;

  /** Throws PemError when a file of `tls` cannot be used (the message names the setting and the file). */
  constructor(public config: ServiceConfig, deps: ServiceDeps) {
    this.name = config.name;
    this.events = deps.events;
    this.tls = config.tls === undefined ? undefined : new ClientTls(config.tls, `services[${deps.index ?? config.name}].tls`, {
      trustAnchor: deps.identity?.trustAnchor,
      identity: deps.identity?.source,
      onError: (message) => this.events?.tlsFilesFailed?.(config.name, message),
    });
    this.isHttp1 = config.protocol === 'http1';
    this.deps = deps;
    this.poolSettings = poolSettingsOf(config, deps, this.tls);
    this.failfast = failfastQueueOf(config, deps);
    const spec = config.balancer as unknown as BalancerSpec;
    this.localZone = deps.zone ?? '';
    this.zoneTraffic = zoneTrafficOf(this.localZone);
    this.balancer = serviceBalancer(spec, config, this.localZone, deps);
    this.loadOptions = endpointLoadOptions(spec);
    [this.hashHeader, this.hashOnSource] = hashSourceOf(spec);
    this.guards = deps.policies?.serviceGuards(this) ?? [];
    this.orca = OrcaService.of(config, this.endpoints, deps.clock, deps.random);
    // Addresses listed in the configuration are members at once (no I/O);
    // hostnames there, files, DNS and Kubernetes arrive through the source.
    const initial = staticEndpoints(config.endpoints);
    if (initial.length > 0) this.apply(initial, true);
    this.source = createSource(config, deps.discovery);
    this.discovery = statusOf(this.source);
    this.rebuild();
  }

  private guards: ServiceGuard[];
  /** Settings of every pool of the service, one object they all read (a reload updates it in place). */
  private readonly poolSettings: H2PoolSettings & H1PoolSettings;

  /**
   * Applies a new configuration of this service in place (a reload). The
   * caller has checked `canReconfigure`: same upstream protocol, tls and kind
   * of endpoint source. Listed endpoints are diffed like a discovery
   * snapshot (those that stay keep their connections, load estimates,
   * health and ejection state; removed ones drain); a new balancer picks
   * over the same endpoint objects; a changed source restarts and its first
   * snapshot is diffed the same way; other settings are read from `config`
   * by the data path or copied into the shared pool settings (new
   * connections use them).
   */
  reconfigure(next: ServiceConfig): ServiceUpdate {
    const prev = this.config;
    const changed: string[] = [];
    for (const k of Object.keys(next) as (keyof ServiceConfig)[]) if (k !== 'name' && !sameValue(prev[k], next[k])) changed.push(k);
    for (const k of Object.keys(prev) as (keyof ServiceConfig)[]) if (!(k in next) && !changed.includes(k)) changed.push(k);
    const update: ServiceUpdate = { changed, endpointsAdded: 0, endpointsRemoved: 0 };
    if (changed.length === 0) return update;
    this.config = next;
    const has = (k: keyof ServiceConfig): boolean => changed.includes(k);
    Object.assign(this.poolSettings, poolSettingsOf(next, this.deps, this.tls));
    if (has('balancer') || has('zoneAware')) {
      const spec = next.balancer as unknown as BalancerSpec;
      this.balancer = serviceBalancer(spec, next, this.localZone, this.deps);
      // Endpoints that stay keep their load records (estimates and in-flight counts); new ones take the new options.
      this.loadOptions = endpointLoadOptions(spec);
      [this.hashHeader, this.hashOnSource] = hashSourceOf(spec);
    }
    if (has('failfast')) {
      const old = this.failfast;
      this.failfast = failfastQueueOf(next, this.deps);
      // Its waiters pick again now, and wait in the new queue if nothing is pickable yet.
      old.wakeAll();
      old.close();
    }
    if (has('healthCheck') || has('outlierDetection')) this.replaceGuards(has('outlierDetection'));
    if (has('orca')) this.orca = OrcaService.reconfigure(this.orca, next, this.endpoints, this.deps.clock, this.deps.random);
    if (this.source === undefined) {
      if (has('endpoints')) {
        const n = this.apply(staticEndpoints(next.endpoints), false);
        update.endpointsAdded = n.added;
        update.endpointsRemoved = n.removed;
      }
    } else if (has('discovery') || has('endpoints')) {
      // Same kind of source, other settings: the members stay until its first snapshot is diffed.
      this.source.stop();
      this.source = createSource(next, this.deps.discovery);
      this.discovery = statusOf(this.source);
      if (this.started) this.startSource();
    }
    this.rebuild();
    return update;
  }

  /**
   * New health checker and outlier detector for changed settings. Health
   * flags stay (the new checker moves them with its thresholds); with
   * outlier detection changed, ejected endpoints return at once (the new
   * detector knows nothing of the old ejections).
   */
  private replaceGuards(outlierChanged: boolean): void {
    for (const g of this.guards) g.stop();
    if (outlierChanged) for (const ep of this.endpoints) ep.setEjected(false);
    if (this.config.healthCheck === undefined) for (const ep of this.endpoints) ep.setHealthy(true);
    this.guards = this.deps.policies?.serviceGuards(this) ?? [];
    if (this.started) for (const g of this.guards) g.start();
  }


  /** Connects to (or checks) every endpoint ahead of traffic, starts the guards and the discovery source. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    for (const ep of this.endpoints) ep.pool.start();
    for (const g of this.guards) g.start();
    this.orca?.start();
    this.startSource();
  }

  private startSource(): void {
    const source = this.source;
    // A replaced source's late answers are ignored.
    source?.start({
      update: (endpoints) => {
        if (this.source === source) this.sourceUpdate(endpoints);
      },
      error: (message) => {
        if (this.source === source) this.sourceError(message);
      },
    });
  }

  /** Follow the endpoint set; `added` is called at once for every current member. */
  watchEndpoints(listener: EndpointSetListener): void {
    this.setListeners.push(listener);
    for (const ep of this.endpoints) listener.added(ep);
  }

  /** Every endpoint with connections: members and those draining. */
  forEachEndpoint(fn: (ep: Endpoint) => void): void {
    for (const ep of this.endpoints) fn(ep);
    for (const ep of this.draining) fn(ep);
  }

  private sourceUpdate(endpoints: readonly DiscoveredEndpoint[]): void {
    const st = this.discovery;
    if (this.closed || st === undefined) return;
    st.updates++;
    st.lastUpdate = Date.now();
    if (!st.healthy) {
      st.healthy = true;
      st.lastError = '';
      this.events?.discoveryRecovered?.(this.name, st.description, st.lastUpdate - st.lastErrorAt);
    }
    this.apply(endpoints, false);
  }

  private sourceError(message: string): void {
    const st = this.discovery;
    if (this.closed || st === undefined) return;
    st.errors++;
    st.lastErrorAt = Date.now();
    const changed = st.healthy || st.lastError !== message;
    st.healthy = false;
    st.lastError = message;
    if (changed) this.events?.discoveryFailed?.(this.name, st.description, message);
  }

  /**
   * Makes the members what `discovered` says: new endpoints get pools, load
   * records and guards; changed ones take their new weight and conditions;
   * missing ones drain. Endpoints that stay keep their connections, load
   * estimates and health. One picker rebuild per snapshot.
   */
  private apply(discovered: readonly DiscoveredEndpoint[], initial: boolean): { added: number; removed: number } {
    const wanted = new Map<string, DiscoveredEndpoint>();
    for (const d of discovered) {
      // Neither ready nor serving-while-terminating: Kubernetes says it must not
      // serve (Linkerd drops such endpoints); it drains like a removed one.
      if (!d.ready && !(d.serving && d.terminating)) continue;
      const id = d.id ?? formatAddress(d.address);
      if (!wanted.has(id)) wanted.set(id, d);
    }
    const removed: string[] = [];
    for (let i = this.endpoints.length - 1; i >= 0; i--) {
      const ep = this.endpoints[i]!;
      if (wanted.has(ep.id)) continue;
      this.endpoints.splice(i, 1);
      this.byId.delete(ep.id);
      this.drain(ep);
      removed.push(ep.id);
    }
    const added: string[] = [];
    let updated = 0;
    for (const [id, d] of wanted) {
      const ep = this.byId.get(id);
      if (ep === undefined) {
        this.add(d);
        added.push(id);
      } else if (ep.discovered !== d && applyConditions(ep, d)) {
        updated++;
      }
    }
    const counts = { added: added.length, removed: removed.length };
    if (added.length === 0 && removed.length === 0 && updated === 0) return counts;
    if (!initial) {
      this.rebuild();
      this.events?.endpointsChanged?.(this.name, added, removed.reverse(), updated, this.endpoints.length);
    }
    return counts;
  }

  private add(d: DiscoveredEndpoint): void {
    const ep = new Endpoint(d.address, d.weight, this.deps.clock, this.loadOptions, this);
    applyConditions(ep, d);
    ep.pool = this.isHttp1 ? new H1Pool(ep, this.poolSettings) : new H2Pool(ep, this.poolSettings, this.deps.random);
    this.endpoints.push(ep);
    this.byId.set(ep.id, ep);
    for (const g of this.guards) g.add(ep);
    this.orca?.add(ep);
    for (const l of this.setListeners) l.added(ep);
    if (this.started) ep.pool.start();
  }

  /**
   * Takes a removed endpoint out of service: never picked again, its guards
   * forget it, its connections close once their requests end (HTTP/2 GOAWAY,
   * HTTP/1.1 close after the response) and at drainTimeout whatever is left
   * is closed.
   */
  private drain(ep: Endpoint): void {
    ep.state = EndpointState.REMOVED;
    ep.removedAt = this.deps.clock.now();
    for (const g of this.guards) g.remove(ep);
    this.orca?.remove(ep);
    this.draining.add(ep);
    ep.pool.close(true);
    if (this.drainTimer === undefined) {
      this.drainTimer = setInterval(sweepDraining, DRAIN_SWEEP_MS, this);
      this.drainTimer.unref();
    }
  }

  /** Ends the drain of endpoints whose requests finished or whose drainTimeout passed. */
  sweepDraining(force = false): void {
    const now = this.deps.clock.now();
    for (const ep of this.draining) {
      if (!force && ep.load.pending > 0 && now - ep.removedAt < this.config.drainTimeout) continue;
      this.draining.delete(ep);
      ep.pool.close(false);
      for (const l of this.setListeners) l.removed(ep);
    }
    if (this.draining.size === 0 && this.drainTimer !== undefined) {
      clearInterval(this.drainTimer);
      this.drainTimer = undefined;
    }
  }

  /** Set by telemetry while somebody wants to see balancing decisions: then requests carry a PickDecision (decision.ts). */
  recordDecisions = false;

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
  pick(hashKey: string | undefined, avoid: Endpoint | null, explain?: PickDecision): Endpoint | undefined {
    if (explain !== undefined) {
      explain.reset();
      explain.panic = this.panicMode;
    }
    let ep = this.balancer.pick(hashKey, explain);
    if (ep !== undefined && ep === avoid && this.pickableCount > 1) {
      for (let i = 0; i < 3 && ep === avoid; i++) {
        explain?.clearCandidates();
        ep = this.balancer.pick(undefined, explain);
      }
      if (explain !== undefined && ep !== avoid) explain.avoided = avoid.id;
    }
    if (ep !== undefined) this.zoneTraffic?.record(ep.zone);
    return ep;
  }

  /** A reload changed the proxy's zone: new zone counts and a new zone-aware balancer over the same endpoints. */
  setLocalZone(zone: string): void {
    if (zone === this.localZone) return;
    this.localZone = zone;
    this.zoneTraffic = zoneTrafficOf(zone);
    this.balancer = serviceBalancer(this.config.balancer as unknown as BalancerSpec, this.config, zone, this.deps);
    this.rebuild();
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
    if (this.endpoints.length === 0) {
      const st = this.discovery;
      if (st === undefined) return `no endpoint configured for service "${this.name}"`;
      if (!st.healthy) return `no endpoint for service "${this.name}": ${st.description} failed: ${st.lastError}`;
      if (st.updates === 0) return `no endpoint for service "${this.name}" yet: waiting for ${st.description}`;
      return `no endpoint for service "${this.name}": ${st.description} lists none ready`;
    }
    const why = this.endpoints.map((ep) => `${ep.id}: ${endpointProblem(ep)}`).join('; ');
    return `no available endpoint for service "${this.name}" (${why})`;
  }

  /** True while fewer than panicThreshold % of endpoints are healthy: health and ejection are ignored. */
  panicMode = false;

  private rebuild(): void {
    let pickable: Endpoint[] = [];
    let total = 0;
    for (const ep of this.endpoints) {
      if (ep.terminating) continue;
      total++;
      if (ep.pickable && ep.weight > 0) pickable.push(ep);
    }
    // Envoy's panic threshold: when too few endpoints are healthy, sending everything to them
    // would overload them too; balance over every connectable endpoint instead.
    this.panicMode = total > 0 && (pickable.length * 100) / total < this.config.panicThreshold;
    if (this.panicMode) {
      pickable = [];
      for (const ep of this.endpoints) if (!ep.terminating && ep.connectable && ep.weight > 0) pickable.push(ep);
    }
    // Serving-but-terminating endpoints only when nothing else can serve (Envoy, Istio).
    if (pickable.length === 0) {
      for (const ep of this.endpoints) if (ep.terminating && ep.pickable && ep.weight > 0) pickable.push(ep);
    }
    this.pickableCount = pickable.length;
    updateBalancer(this.balancer, pickable, this.panicMode);
    if (pickable.length > 0) {
      this.failfastMode = false;
      this.failfast.wakeAll();
    }
  }

  close(graceful: boolean): void {
    this.closed = true;
    this.source?.stop();
    this.tls?.close();
    for (const g of this.guards) g.stop();
    this.orca?.stop();
    for (const ep of this.endpoints) {
      ep.state = EndpointState.REMOVED;
      ep.pool.close(graceful);
    }
    this.sweepDraining(true);
    // Followers forget the members too (a runtime a reload retired closes while the proxy runs on).
    for (const ep of this.endpoints) for (const l of this.setListeners) l.removed(ep);
    this.failfast.close();
  }
}

/** What a reload changed in a service kept in place. */
export interface ServiceUpdate {
  /** The changed keys of its configuration (`balancer`, `endpoints`, `healthCheck`, …). */
  changed: string[];
  endpointsAdded: number;
  endpointsRemoved: number;
}

function poolSettingsOf(config: ServiceConfig, deps: ServiceDeps, tls: ClientTls | undefined): H2PoolSettings & H1PoolSettings {
  return {
    connectTimeout: config.connectTimeout,
    maxConnections: config.maxConnectionsPerEndpoint,
    connections: config.http1.maxConnectionsPerEndpoint,
    keepaliveInterval: config.keepaliveInterval,
    keepaliveTimeout: config.keepaliveTimeout,
    stallTimeout: config.stallTimeout,
    streamIdleTimeout: config.streamIdleTimeout,
    backoffBase: config.reconnectBackoff.base,
    backoffMax: config.reconnectBackoff.max,
    http2: deps.upstreamHttp2,
    tls,
  };
}

function failfastQueueOf(config: ServiceConfig, deps: ServiceDeps): FailfastQueue<EndpointWaiter> {
  return new FailfastQueue<EndpointWaiter>({ clock: deps.clock, timeoutMs: config.failfast.timeout, capacity: config.failfast.queueSize });
}

/** Where hash policies take the key from: [header name, ':path' or undefined, on the client address]. */
function hashSourceOf(spec: BalancerSpec): [string | undefined, boolean] {
  const hashOn = spec.hashOn as Record<string, unknown> | undefined;
  const header = hashOn === undefined ? undefined
    : typeof hashOn.header === 'string' ? hashOn.header
    : typeof hashOn.grpcMetadata === 'string' ? hashOn.grpcMetadata
    : hashOn.path === true ? ':path' : undefined;
  return [header, hashOn?.sourceIp === true];
}

function statusOf(source: DiscoverySource | undefined): DiscoveryStatus | undefined {
  return source === undefined ? undefined : {
    kind: source.kind,
    description: source.description,
    healthy: true,
    lastError: '',
    lastUpdate: 0,
    lastErrorAt: 0,
    updates: 0,
    errors: 0,
  };
}

/** How often draining endpoints are checked for being done (their in-flight count is read, nothing more). */
const DRAIN_SWEEP_MS = 250;

function sweepDraining(s: ServiceRuntime): void {
  s.sweepDraining();
}

/** Applies a source's weight and conditions to a member; true when anything changed. */
function applyConditions(ep: Endpoint, d: DiscoveredEndpoint): boolean {
  ep.discovered = d;
  const terminating = !d.ready && d.serving && d.terminating;
  const zone = d.zone ?? '';
  const name = d.name ?? '';
  const forZones = d.forZones ?? [];
  const sameZones = forZones.length === ep.forZones.length && forZones.every((z, i) => z === ep.forZones[i]);
  if (ep.weight === d.weight && ep.terminating === terminating && ep.zone === zone && ep.sourceName === name && sameZones) return false;
  ep.weight = d.weight;
  ep.terminating = terminating;
  ep.zone = zone;
  ep.sourceName = name;
  if (!sameZones) ep.forZones = [...forZones];
  return true;
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
