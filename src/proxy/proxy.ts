import { monotonicClock, mathRandom, type Clock, type RandomSource } from '../balancing/index.js';
import type { Config, ListenerConfig, ServiceConfig } from '../config/index.js';
import type { ExchangeObserver } from './exchange/exchange.js';
import { Listener } from './listener.js';
import { CompiledRoute, Router } from './router.js';
import { H2Pool } from './upstream-h2-pool.js';
import type { Http2Connection } from '../http2/index.js';
import { ServiceRuntime, type EndpointEvents } from './service-runtime.js';
import type { Authorizer, PolicyProvider } from './policy-hooks.js';
import type { AuthorizationRule } from '../config/index.js';
import type { DiscoveryOptions } from '../discovery/index.js';
import type { IdentitySource } from '../security/identity-source.js';
import type { TlsEvents } from '../security/server-tls.js';
import { reconfigureProxy, Retirement, type ReloadSummary } from './reconfigure.js';

export type { ReloadSummary } from './reconfigure.js';
import { ConnectionLimits } from './connection-limits.js';
import { localZoneOf } from './zone-picker.js';
import { MemoryBudget, type MemoryEvents, type MemoryReader } from './memory-budget.js';

export interface ProxyOptions {
  clock?: Clock;
  random?: RandomSource;
  /** Receives every finished request (telemetry). */
  observer?: ExchangeObserver;
  /** Retries, health checks and outlier detection (src/policy's defaultPolicies). Without it: none. */
  policies?: PolicyProvider;
  /** Told when an endpoint becomes unreachable or reachable again (the CLI logs it). */
  endpointEvents?: EndpointEvents;
  /** What discovery sources need from outside the configuration (tests: a Kubernetes client config). */
  discovery?: DiscoveryOptions;
  /** The proxy's own certificate when the top-level `identity` is set (listeners' and services' default). */
  identity?: IdentitySource;
  /** Told when a listener's replaced certificate files are in use, or cannot be used (the CLI logs it). */
  tlsEvents?: TlsEvents;
  /** Test hook: how often certificate files are read again besides file-system events. */
  tlsPollInterval?: number;
  /** Told when process memory goes over `limits.memoryBudget` and back under (the CLI logs it). */
  memoryEvents?: MemoryEvents;
  /** Test hook: what the memory budget reads instead of the process's memory. */
  memoryReader?: MemoryReader;
}

/** Follows reloads (telemetry keeps its records with the running services). */
export interface ReconfigureListener {
  /** A reload was applied: `proxy.services` and `proxy.listeners` are the new ones. */
  applied(): void;
  /** A service removed or replaced by a reload finished draining and closed. */
  serviceClosed(service: ServiceRuntime): void;
}

/**
 * The running data plane built from one configuration: services (endpoints,
 * pools, balancers) and listeners with their compiled routers. Routes and
 * services are compiled here once, never per request; a reload
 * (`reconfigure`) compiles them again and swaps them in.
 */
export class Proxy {
  readonly services = new Map<string, ServiceRuntime>();
  readonly listeners: Listener[] = [];
  /** Listeners and services a reload took out, finishing what they carry. */
  readonly retiring = new Retirement();
  private readonly clock: Clock;
  private readonly random: RandomSource;
  private readonly reconfigureListeners: ReconfigureListener[] = [];
  /** Client connection admission over all listeners (`limits`). */
  readonly limits: ConnectionLimits;
  readonly memoryBudget: MemoryBudget;

  constructor(public config: Config, readonly options: ProxyOptions = {}) {
    this.clock = options.clock ?? monotonicClock;
    this.random = options.random ?? mathRandom;
    this.memoryBudget = new MemoryBudget(config.limits, options.memoryEvents, options.memoryReader);
    this.limits = new ConnectionLimits(config.limits.maxConnections, this.memoryBudget.enabled ? this.memoryBudget : null);
    config.services.forEach((s, index) => this.services.set(s.name, this.makeService(s, index, config)));
    for (const [index, l] of config.listeners.entries()) {
      try {
        this.listeners.push(this.makeListener(l, index, this.services));
      } catch (err) {
        // Certificate files that cannot be used: stop following those of the listeners made so far.
        for (const made of this.listeners) made.destroy();
        throw err;
      }
    }
  }

  /** A service's runtime (not started). Throws PemError when a file of its `tls` cannot be used. */
  makeService(s: ServiceConfig, index: number, config: Config): ServiceRuntime {
    const o = this.options;
    const identity = config.identity === undefined ? undefined : { trustAnchor: config.identity.trustAnchor, source: o.identity };
    return new ServiceRuntime(s, { clock: this.clock, random: this.random, policies: o.policies, events: o.endpointEvents, discovery: o.discovery, index, identity, zone: localZoneOf(config) });
  }

  /** The compiled routes of a listener over `services`, with its default target and authorization. */
  compileRouter(l: ListenerConfig, services: ReadonlyMap<string, ServiceRuntime>): Router<ServiceRuntime> {
    const policies = this.options.policies;
    const resolve = (name: string): ServiceRuntime => {
      const s = services.get(name);
      // The schema has checked every reference; this is a programming error.
      if (s === undefined) throw new Error(`unknown service ${name}`);
      return s;
    };
    const authorizer = (rules: readonly AuthorizationRule[] | undefined): Authorizer | undefined => {
      if (rules === undefined) return undefined;
      // Rules that are not enforced must not look as if they were: refuse to run.
      if (policies?.authorizer === undefined) throw new Error('the configuration has authorization rules: pass policies that compile them (src/policy)');
      return policies.authorizer(rules);
    };
    const routes = l.routes.map((r, i) => new CompiledRoute(r, i, resolve, policies?.retryRules(r), authorizer(r.authorization)));
    const fallback = l.service === undefined
      ? undefined
      : new CompiledRoute({ name: 'default', match: {}, backends: [{ service: l.service, weight: 1 }], timeout: 0, idempotent: false, idleTimeout: 0 } as never, routes.length, resolve);
    return new Router(routes, fallback, authorizer(l.authorization));
  }

  /** The target of a tcp listener (its only service). */
  tcpService(l: ListenerConfig, services: ReadonlyMap<string, ServiceRuntime>): ServiceRuntime | undefined {
    return l.protocol === 'tcp' && l.service !== undefined ? services.get(l.service) : undefined;
  }

  /** A listener (not listening yet). Throws PemError when a file of its `tls` cannot be used. */
  makeListener(l: ListenerConfig, index: number, services: ReadonlyMap<string, ServiceRuntime>): Listener {
    const o = this.options;
    const tls = l.tls === undefined ? undefined : { label: `listeners[${index}].tls`, identity: o.identity, events: o.tlsEvents, pollInterval: o.tlsPollInterval };
    return new Listener(l, this.compileRouter(l, services), this.random, o.observer, this.tcpService(l, services), tls, this.limits);
  }

  /** Connects to endpoints and opens every listener. */
  async start(): Promise<void> {
    for (const s of this.services.values()) s.start();
    this.memoryBudget.start();
    for (const l of this.listeners) await l.listen();
  }

  /**
   * Applies a new, validated configuration in place (a reload): see
   * reconfigure.ts. Rejects, with nothing changed, when a new listener's
   * address cannot be bound or a certificate file cannot be used. Calls must
   * not overlap (the caller queues them).
   */
  async reconfigure(next: Config): Promise<ReloadSummary> {
    const summary = await reconfigureProxy(this, next);
    for (const l of this.reconfigureListeners) l.applied();
    return summary;
  }

  /** Follow reloads. */
  watchReconfigure(listener: ReconfigureListener): void {
    this.reconfigureListeners.push(listener);
  }

  /** A retired service closed (called by the retirement). */
  serviceClosed(s: ServiceRuntime): void {
    for (const l of this.reconfigureListeners) l.serviceClosed(s);
  }

  /** Every open HTTP/2 connection of one side: clients of the listeners, or connections to endpoints. */
  forEachHttp2Connection(side: 'downstream' | 'upstream', fn: (c: Http2Connection) => void): void {
    if (side === 'downstream') {
      for (const l of this.listeners) l.forEachHttp2Connection(fn);
      for (const l of this.retiring.listeners) l.forEachHttp2Connection(fn);
      return;
    }
    const each = (s: ServiceRuntime): void => {
      s.forEachEndpoint((ep) => {
        const pool = ep.pool;
        if (pool instanceof H2Pool) pool.forEachConnection(fn);
      });
    };
    for (const s of this.services.values()) each(s);
    for (const s of this.retiring.services) each(s);
  }

  /** True when every service has at least one pickable endpoint. */
  get ready(): boolean {
    for (const s of this.services.values()) if (!s.hasPickable) return false;
    return true;
  }

  /**
   * Graceful stop: stop accepting, GOAWAY to HTTP/2 clients, wait for open
   * client connections to finish (up to drainTimeout), then close the rest
   * and the upstream pools.
   */
  async stop(drainTimeoutMs: number): Promise<void> {
    const listeners = [...this.listeners, ...this.retiring.listeners];
    for (const l of listeners) l.drain();
    const deadline = Date.now() + drainTimeoutMs;
    while (Date.now() < deadline && listeners.some((l) => l.openConnections > 0)) {
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const l of listeners) l.destroy();
    for (const s of this.services.values()) s.close(true);
    this.retiring.closeAll();
    this.memoryBudget.stop();
  }
}
