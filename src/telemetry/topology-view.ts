import { ENDPOINT_STATE_NAMES, EndpointState, type Endpoint } from '../proxy/endpoint.js';
import type { Listener } from '../proxy/listener.js';
import type { Proxy } from '../proxy/proxy.js';
import type { ServiceRuntime } from '../proxy/service-runtime.js';

/** Listeners → routes → services → endpoints, with states (`/api/v1/topology`). */
export function topologyView(proxy: Proxy): Record<string, unknown> {
  return {
    listeners: proxy.listeners.map((l) => ({
      name: l.name,
      protocol: l.config.protocol,
      address: addressOf(l),
      routes: [...l.router.routes, ...(l.router.fallback ? [l.router.fallback] : [])].map((r) => ({
        name: r.name,
        services: [...new Set(r.targets.map((t) => t.name))],
      })),
      // A tcp listener relays whole connections to its service.
      service: l.config.service,
    })),
    services: [...proxy.services.values()].map((s) => ({
      name: s.name,
      protocol: s.config.protocol,
      panicMode: s.panicMode,
      available: s.hasPickable,
      discovery: discoveryView(s),
      endpoints: [...s.endpoints, ...s.draining].map((e) => ({
        id: e.id,
        state: endpointStateName(e),
        cause: e.cause === '' ? null : e.cause,
        weight: e.weight,
        zone: e.zone === '' ? null : e.zone,
        source: e.sourceName === '' ? null : e.sourceName,
        terminating: e.terminating,
        orca: e.load.orca === null ? null : { utilization: e.load.orca.utilization, weight: e.load.orca.weightNow(e.readySince), reports: e.load.orca.reports },
      })),
    })),
  };
}

/** The state an endpoint is shown in: ejection and a failed health check override the connection's state. */
export function endpointStateName(e: Endpoint): string {
  if (e.state !== EndpointState.REMOVED) {
    if (e.ejected) return 'ejected';
    if (!e.healthy) return 'unhealthy';
  }
  return ENDPOINT_STATE_NAMES[e.state] ?? 'unknown';
}

function addressOf(l: Listener): string | undefined {
  try {
    const a = l.address;
    return a === null ? undefined : `${a.address}:${a.port}`;
  } catch {
    return undefined;
  }
}

/** A figure to three decimals, as the JSON views show them. */
export function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}

/** A service's endpoint source for stats and topology: 'static' when its endpoints are listed addresses. */
export function discoveryView(s: ServiceRuntime): { kind: string; description: string; healthy: boolean; lastError: string | null; lastUpdate: string | null; updates: number; errors: number } {
  const d = s.discovery;
  if (d === undefined) return { kind: 'static', description: 'endpoints in the configuration', healthy: true, lastError: null, lastUpdate: null, updates: 0, errors: 0 };
  return {
    kind: d.kind,
    description: d.description,
    healthy: d.healthy,
    lastError: d.lastError === '' ? null : d.lastError,
    lastUpdate: d.lastUpdate === 0 ? null : new Date(d.lastUpdate).toISOString(),
    updates: d.updates,
    errors: d.errors,
  };
}
