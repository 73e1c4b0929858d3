/**
 * Wiring of zone-aware balancing into a service (the decisions are in
 * src/balancing/zone-aware.ts): the proxy's own zone, the service's policy
 * behind the local-zone subset, and counts of picks by destination zone for
 * the cross-zone metrics.
 */
import { ZoneAwareBalancer, createBalancer, type BalancerDeps, type BalancerSpec, type LoadBalancer } from '../balancing/index.js';
import type { ServiceConfig } from '../config/index.js';
import type { Endpoint } from './endpoint.js';

/** Where the proxy's zone comes from when the configuration has no top-level `zone`. */
export const ZONE_ENV = 'SWITCHYARD_ZONE';

/**
 * The proxy's zone: the top-level `zone`, else $SWITCHYARD_ZONE, else ''
 * (unknown: no zone preference and no zone counts). On Kubernetes the
 * variable is set from the node's topology.kubernetes.io/zone label
 * (docs/zones.md says how).
 */
export function localZoneOf(config: { zone?: string | undefined }, env: NodeJS.ProcessEnv = process.env): string {
  if (config.zone !== undefined) return config.zone;
  const v = env[ZONE_ENV]?.trim() ?? '';
  return /^\S+$/.test(v) ? v : '';
}

/**
 * The balancer of a service: its policy, behind the zone-aware subset when
 * the proxy knows its zone and the service's `zoneAware.mode` is not off.
 */
export function serviceBalancer(spec: BalancerSpec, config: ServiceConfig, localZone: string, deps: BalancerDeps): LoadBalancer<Endpoint> {
  const policy = createBalancer<Endpoint>(spec, deps);
  const z = config.zoneAware;
  if (z.mode === 'off' || localZone === '') return policy;
  return new ZoneAwareBalancer<Endpoint>(policy, createBalancer<Endpoint>(spec, deps), deps.random, localZone, z);
}

/** Gives a balancer the pickable set; in panic mode a zone-aware one balances over every zone (as Envoy does). */
export function updateBalancer(balancer: LoadBalancer<Endpoint>, pickable: readonly Endpoint[], panic: boolean): void {
  if (balancer instanceof ZoneAwareBalancer) balancer.update(pickable, panic);
  else balancer.update(pickable);
}

/**
 * Picks of a service by destination zone, counted once per attempt sent
 * (switchyard_requests_in_zone_total / _cross_zone_total). Cross-zone picks
 * go to a map by zone name; in-zone ones, the common case, to a field.
 */
export class ZoneTraffic {
  inZone = 0;
  /** Picks of endpoints in other zones, by their zone ('' = the endpoint's zone is unknown). */
  readonly crossZone = new Map<string, number>();
  constructor(readonly localZone: string) {}

  record(zone: string): void {
    if (zone === this.localZone) this.inZone++;
    else this.crossZone.set(zone, (this.crossZone.get(zone) ?? 0) + 1);
  }
}

/** Counts only when the proxy knows its zone. */
export function zoneTrafficOf(localZone: string): ZoneTraffic | undefined {
  return localZone === '' ? undefined : new ZoneTraffic(localZone);
}
