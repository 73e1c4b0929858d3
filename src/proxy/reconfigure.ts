/**
 * A reload: a new configuration applied to the running proxy without a
 * restart. Everything that can fail (certificate files of new listeners
 * and services, binding new addresses) happens first; if anything fails,
 * what was made is closed and the running configuration is untouched. The
 * commit that follows is synchronous, so no request sees half of it.
 *
 * - A service of the same name keeps its runtime (ServiceRuntime.reconfigure:
 *   endpoints diffed like a discovery snapshot, a new picker over the same
 *   endpoint objects, settings in place) unless its upstream protocol, tls
 *   or kind of endpoint source changed: then a new runtime takes its place
 *   and the old one drains. New services start; removed ones drain.
 * - A listener of the same name, address, protocol and tls keeps its socket
 *   and connections and gets the new router: new requests take the new
 *   routes, exchanges in flight keep the services they hold. Any other
 *   listener is made anew: it binds its address first (or takes over the
 *   listening socket of an old listener on the same address, which cannot be
 *   bound twice), then the old one drains like at shutdown (GOAWAY).
 * - Retired listeners and services finish what they carry (bounded by
 *   shutdown.drainTimeout and the service's drainTimeout), then close.
 */
import type { Config, ListenerConfig, ServiceConfig } from '../config/index.js';
import type { Listener } from './listener.js';
import type { Proxy } from './proxy.js';
import type { Router } from './router.js';
import { canReconfigure, sameValue } from './reconfigure-rules.js';
import { localZoneOf } from './zone-picker.js';
import type { ServiceRuntime } from './service-runtime.js';

/** What a reload changed, for its log line and its answer. */
export interface ReloadSummary {
  listeners: {
    added: string[];
    removed: string[];
    /** Same name, new address, protocol or tls: a new socket, the old one drained. */
    rebound: string[];
    /** Same socket, new routes or settings. */
    updated: string[];
  };
  services: {
    added: string[];
    removed: string[];
    /** Same name, new upstream protocol, tls or kind of endpoint source: a new runtime, the old one drained. */
    replaced: string[];
    /** Kept in place: service name → the keys of its configuration that changed. */
    changed: Record<string, string[]>;
  };
  endpoints: { added: number; removed: number };
}

/** True when a reload changed nothing that runs. */
export function unchanged(s: ReloadSummary): boolean {
  const l = s.listeners;
  const v = s.services;
  return l.added.length + l.removed.length + l.rebound.length + l.updated.length + v.added.length + v.removed.length + v.replaced.length === 0
    && Object.keys(v.changed).length === 0;
}

/** Can a running listener serve `next` without a new socket? */
function keepsSocket(cur: ListenerConfig, next: ListenerConfig): boolean {
  return sameValue(cur.listen, next.listen) && cur.protocol === next.protocol && sameValue(cur.tls, next.tls);
}

export async function reconfigureProxy(proxy: Proxy, next: Config): Promise<ReloadSummary> {
  const summary: ReloadSummary = {
    listeners: { added: [], removed: [], rebound: [], updated: [] },
    services: { added: [], removed: [], replaced: [], changed: {} },
    endpoints: { added: 0, removed: 0 },
  };
  const services = new Map<string, ServiceRuntime>();
  const made: ServiceRuntime[] = [];
  const updates: [ServiceRuntime, ServiceConfig][] = [];
  const kept: [Listener, ListenerConfig, Router<ServiceRuntime>][] = [];
  const fresh: Listener[] = [];
  const order: Listener[] = [];
  const adoptions: [Listener, Listener][] = [];
  const oldByName = new Map(proxy.listeners.map((l) => [l.name, l]));
  try {
    next.services.forEach((s, i) => {
      const cur = proxy.services.get(s.name);
      if (cur !== undefined && canReconfigure(cur.config, s)) {
        services.set(s.name, cur);
        updates.push([cur, s]);
        return;
      }
      const r = proxy.makeService(s, i, next);
      made.push(r);
      services.set(s.name, r);
      (cur === undefined ? summary.services.added : summary.services.replaced).push(s.name);
    });
    const keptSet = new Set<Listener>();
    next.listeners.forEach((l, i) => {
      const cur = oldByName.get(l.name);
      if (cur !== undefined && keepsSocket(cur.config, l)) {
        kept.push([cur, l, proxy.compileRouter(l, services)]);
        keptSet.add(cur);
        order.push(cur);
        if (!sameValue(cur.config, l)) summary.listeners.updated.push(l.name);
        return;
      }
      const nl = proxy.makeListener(l, i, services);
      fresh.push(nl);
      order.push(nl);
      (cur === undefined ? summary.listeners.added : summary.listeners.rebound).push(l.name);
    });
    const leaving = proxy.listeners.filter((l) => !keptSet.has(l));
    for (const l of fresh) {
      const { host, port } = l.config.listen;
      const donor = port === 0 ? undefined : leaving.find((o) => o.config.listen.port === port && o.config.listen.host === host && !adoptions.some(([, d]) => d === o));
      if (donor !== undefined) adoptions.push([l, donor]);
      else await l.listen();
    }
  } catch (err) {
    // Nothing of the running configuration was touched: close what was made (bound sockets included).
    for (const l of fresh) l.destroy();
    for (const s of made) s.close(false);
    throw err;
  }

  // Commit: synchronous from here on.
  for (const [rt, cfg] of updates) {
    rt.setLocalZone(localZoneOf(next));
    const u = rt.reconfigure(cfg);
    if (u.changed.length > 0) summary.services.changed[rt.name] = u.changed;
    summary.endpoints.added += u.endpointsAdded;
    summary.endpoints.removed += u.endpointsRemoved;
  }
  const retiredServices: ServiceRuntime[] = [];
  for (const [name, s] of proxy.services) {
    if (services.get(name) === s) continue;
    retiredServices.push(s);
    summary.endpoints.removed += s.endpoints.length;
    if (!services.has(name)) summary.services.removed.push(name);
  }
  proxy.services.clear();
  for (const [name, s] of services) proxy.services.set(name, s);
  for (const s of made) {
    s.start();
    summary.endpoints.added += s.endpoints.length;
  }
  for (const [l, cfg, router] of kept) l.reconfigure(cfg, router, proxy.tcpService(cfg, services));
  for (const [l, donor] of adoptions) l.adoptSocket(donor);
  const keptListeners = new Set(kept.map(([l]) => l));
  const retiredListeners = proxy.listeners.filter((l) => !keptListeners.has(l));
  for (const l of retiredListeners) if (!next.listeners.some((c) => c.name === l.name)) summary.listeners.removed.push(l.name);
  proxy.listeners.length = 0;
  proxy.listeners.push(...order);
  proxy.config = next;
  proxy.retiring.retire(retiredListeners, retiredServices, next.shutdown.drainTimeout, proxy);
  return summary;
}

/** How often retired listeners and services are checked for being done (counters are read, nothing more). */
const RETIRE_SWEEP_MS = 100;

/**
 * Listeners and services a reload took out: listeners drain (no new
 * connections, GOAWAY, HTTP/1.1 closes after the response) until their
 * connections end or shutdown.drainTimeout; services close once no retired
 * listener is left and their requests in flight finished, or at their
 * drainTimeout.
 */
export class Retirement {
  readonly listeners = new Set<Listener>();
  readonly services = new Set<ServiceRuntime>();
  private readonly deadlines = new Map<Listener | ServiceRuntime, number>();
  private timer: NodeJS.Timeout | undefined = undefined;
  private owner: { serviceClosed(s: ServiceRuntime): void } | undefined = undefined;

  retire(listeners: readonly Listener[], services: readonly ServiceRuntime[], drainTimeoutMs: number, owner: { serviceClosed(s: ServiceRuntime): void }): void {
    this.owner = owner;
    const now = Date.now();
    for (const l of listeners) {
      l.drain();
      this.listeners.add(l);
      this.deadlines.set(l, now + drainTimeoutMs);
    }
    for (const s of services) {
      this.services.add(s);
      this.deadlines.set(s, now + Math.max(drainTimeoutMs, s.config.drainTimeout));
    }
    this.sweep();
    if (this.timer === undefined && this.listeners.size + this.services.size > 0) {
      this.timer = setInterval(sweepRetired, RETIRE_SWEEP_MS, this);
      this.timer.unref();
    }
  }

  /** Closes what finished (or ran out of time). */
  sweep(force = false): void {
    const now = Date.now();
    for (const l of this.listeners) {
      if (!force && l.openConnections > 0 && now < this.deadlines.get(l)!) continue;
      l.destroy();
      this.listeners.delete(l);
      this.deadlines.delete(l);
    }
    for (const s of this.services) {
      if (!force && (this.listeners.size > 0 || s.inflight > 0) && now < this.deadlines.get(s)!) continue;
      s.close(true);
      this.services.delete(s);
      this.deadlines.delete(s);
      this.owner?.serviceClosed(s);
    }
    if (this.listeners.size + this.services.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** Proxy.stop: close everything still retiring. */
  closeAll(): void {
    this.sweep(true);
  }
}

function sweepRetired(r: Retirement): void {
  r.sweep();
}
