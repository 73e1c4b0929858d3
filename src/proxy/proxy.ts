import { monotonicClock, mathRandom, type Clock, type RandomSource } from '../balancing/index.js';
import type { Config } from '../config/index.js';
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
}

/**
 * The running data plane built from one configuration: services (endpoints,
 * pools, balancers) and listeners with their compiled routers. Routes and
 * services are compiled here once, never per request.
 */
export class Proxy {
  readonly services = new Map<string, ServiceRuntime>();
  readonly listeners: Listener[] = [];
  private readonly clock: Clock;
  private readonly random: RandomSource;

  constructor(readonly config: Config, options: ProxyOptions = {}) {
    this.clock = options.clock ?? monotonicClock;
    this.random = options.random ?? mathRandom;
    const identity = config.identity === undefined ? undefined : { trustAnchor: config.identity.trustAnchor, source: options.identity };
    config.services.forEach((s, index) => {
      this.services.set(s.name, new ServiceRuntime(s, { clock: this.clock, random: this.random, policies: options.policies, events: options.endpointEvents, discovery: options.discovery, index, identity }));
    });
    const resolve = (name: string): ServiceRuntime => {
      const s = this.services.get(name);
      // The schema has checked every reference; this is a programming error.
      if (s === undefined) throw new Error(`unknown service ${name}`);
      return s;
    };
    const authorizer = (rules: readonly AuthorizationRule[] | undefined): Authorizer | undefined => {
      if (rules === undefined) return undefined;
      // Rules that are not enforced must not look as if they were: refuse to run.
      if (options.policies?.authorizer === undefined) throw new Error('the configuration has authorization rules: pass policies that compile them (src/policy)');
      return options.policies.authorizer(rules);
    };
    for (const [index, l] of config.listeners.entries()) {
      const routes = l.routes.map((r, i) => new CompiledRoute(r, i, resolve, options.policies?.retryRules(r), authorizer(r.authorization)));
      const fallback = l.service === undefined
        ? undefined
        : new CompiledRoute({ name: 'default', match: {}, backends: [{ service: l.service, weight: 1 }], timeout: 0, idempotent: false, idleTimeout: 0 } as never, routes.length, resolve);
      const tcpService = l.protocol === 'tcp' && l.service !== undefined ? resolve(l.service) : undefined;
      const tls = l.tls === undefined ? undefined : { label: `listeners[${index}].tls`, identity: options.identity, events: options.tlsEvents, pollInterval: options.tlsPollInterval };
      try {
        this.listeners.push(new Listener(l, new Router(routes, fallback, authorizer(l.authorization)), this.random, options.observer, tcpService, tls));
      } catch (err) {
        // Certificate files that cannot be used: stop following those of the listeners made so far.
        for (const made of this.listeners) made.destroy();
        throw err;
      }
    }
  }

  /** Connects to endpoints and opens every listener. */
  async start(): Promise<void> {
    for (const s of this.services.values()) s.start();
    for (const l of this.listeners) await l.listen();
  }

  /** Every open HTTP/2 connection of one side: clients of the listeners, or connections to endpoints. */
  forEachHttp2Connection(side: 'downstream' | 'upstream', fn: (c: Http2Connection) => void): void {
    if (side === 'downstream') {
      for (const l of this.listeners) l.forEachHttp2Connection(fn);
      return;
    }
    for (const s of this.services.values()) {
      s.forEachEndpoint((ep) => {
        const pool = ep.pool;
        if (pool instanceof H2Pool) pool.forEachConnection(fn);
      });
    }
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
    for (const l of this.listeners) l.drain();
    const deadline = Date.now() + drainTimeoutMs;
    while (Date.now() < deadline && this.listeners.some((l) => l.openConnections > 0)) {
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const l of this.listeners) l.destroy();
    for (const s of this.services.values()) s.close(true);
  }
}
