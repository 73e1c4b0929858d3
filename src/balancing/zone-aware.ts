/**
 * Zone-aware subset selection in front of a balancing policy: keep requests
 * in the proxy's own zone while that zone has room, spill a growing share to
 * every zone as its load passes a threshold (Linkerd's HAZL keeps traffic
 * in-zone the same way; Envoy's zone-aware routing splits by endpoint counts
 * only and ignores load). Pure decisions over the endpoint set and the load
 * records; the proxy and the simulator wire it in the same way.
 */
import type { Balanceable, LoadBalancer, RandomSource } from './types.js';
import type { PickDecision } from './decision.js';

/** What the zone logic reads of an endpoint, besides what every policy reads. */
export interface Zoned extends Balanceable {
  /** Topology zone ('' when unknown). */
  readonly zone: string;
  /** Kubernetes topology hints (`hints.forZones`): zones this endpoint should serve; empty when none. */
  readonly forZones: readonly string[];
}

/**
 * off: no zone preference. auto: Kubernetes topology hints only (what
 * kube-proxy and Linkerd honour). on: hints when every endpoint has them,
 * otherwise the endpoints' own zones.
 */
export type ZoneMode = 'off' | 'auto' | 'on';

export interface ZoneAwareOptions {
  mode: ZoneMode;
  /** Local load (0–1 of capacity) above which requests start spilling to other zones. */
  spillThreshold: number;
  /** In-flight requests per endpoint that count as a full endpoint (load 1). */
  endpointCapacity: number;
  /** Fewer pickable endpoints than this in the local zone: balance over all zones. */
  minEndpoints: number;
}

export const DEFAULT_ZONE_AWARE: Readonly<ZoneAwareOptions> = { mode: 'auto', spillThreshold: 0.7, endpointCapacity: 10, minEndpoints: 1 };

/**
 * The part of an endpoint's load record the spill decision reads. `utilization`
 * is the backend's own report (ORCA), 0–1, when the load record carries one:
 * NaN or absent means not reported.
 */
export interface LoadReading {
  readonly pending: number;
  readonly utilization?: number | undefined;
}

/**
 * The endpoints that count as local, or undefined when there is no zone
 * preference (every endpoint is a candidate for every request).
 *
 * Hints are used only when every endpoint carries some (a Service with
 * topology-aware routing gets them on all its endpoints; a partial set means
 * the controller is mid-change), as kube-proxy and Linkerd do; then the local
 * endpoints are those whose hints name our zone. A local set smaller than
 * `minEndpoints`, or one holding every endpoint, is no preference.
 */
export function localEndpoints<E extends Zoned>(endpoints: readonly E[], localZone: string, options: ZoneAwareOptions): E[] | undefined {
  if (options.mode === 'off' || localZone === '' || endpoints.length === 0) return undefined;
  let hinted = true;
  for (const e of endpoints) {
    if (e.forZones.length === 0) {
      hinted = false;
      break;
    }
  }
  if (!hinted && options.mode !== 'on') return undefined;
  const local = hinted ? endpoints.filter((e) => e.forZones.includes(localZone)) : endpoints.filter((e) => e.zone === localZone);
  const min = options.minEndpoints > 1 ? options.minEndpoints : 1;
  if (local.length < min || local.length === endpoints.length) return undefined;
  return local;
}

/**
 * Load of a set of endpoints, 1 = at capacity: in-flight requests per
 * endpoint over `endpointCapacity`; when every endpoint reports a
 * utilization, the higher of that mean and the in-flight figure (the backend
 * sees the traffic of every client, the in-flight count only ours).
 */
export function zoneLoad(loads: readonly LoadReading[], endpointCapacity: number): number {
  const n = loads.length;
  if (n === 0) return 0;
  let pending = 0;
  let utilization = 0;
  let reported = 0;
  for (let i = 0; i < n; i++) {
    const l = loads[i]!;
    pending += l.pending;
    const u = l.utilization;
    if (u !== undefined && u >= 0) {
      utilization += u;
      reported++;
    }
  }
  const byPending = pending / (n * endpointCapacity);
  if (reported < n) return byPending;
  const byUtilization = utilization / n;
  return byUtilization > byPending ? byUtilization : byPending;
}

/**
 * Share of requests balanced over every zone instead of the local one: 0 up
 * to the threshold, then growing in proportion to the overload, 1 at
 * capacity (load 1; with a threshold of 1, at load 2). Proportional rather
 * than all-or-nothing so that the local zone settles just above the
 * threshold instead of flapping between "everything here" and "everything
 * everywhere".
 */
export function spillFraction(load: number, threshold: number): number {
  if (!(load > threshold)) return 0;
  const width = threshold < 1 ? 1 - threshold : 1;
  const s = (load - threshold) / width;
  return s >= 1 ? 1 : s;
}

/**
 * A policy over the local zone's endpoints and the same policy over all of
 * them, both rebuilt when the set changes (a new local zone or new options
 * make a new instance) (immutable snapshots, like
 * grpc-js pickers); per request, one load sum over the local endpoints and at
 * most one random draw decide which picks. Requests with a hash key go to
 * the all-zones policy: a key keeps its endpoint whatever the load.
 */
export class ZoneAwareBalancer<E extends Zoned> implements LoadBalancer<E> {
  readonly name: string;
  /** True while a local subset is in force (a local zone, endpoints in it, and others elsewhere). */
  active = false;
  /** Requests sent to the all-zones policy because the local zone was over the threshold. */
  spills = 0;
  private localLoads: LoadReading[] = [];

  constructor(
    private readonly all: LoadBalancer<E>,
    private readonly local: LoadBalancer<E>,
    private readonly random: RandomSource,
    private readonly localZone: string,
    private readonly options: ZoneAwareOptions,
  ) {
    this.name = all.name;
  }

  /** `allZones`: no preference for this set (the service balances over everything, e.g. in panic mode). */
  update(endpoints: readonly E[], allZones = false): void {
    this.all.update(endpoints);
    const subset = allZones ? undefined : localEndpoints(endpoints, this.localZone, this.options);
    this.active = subset !== undefined;
    this.local.update(subset ?? []);
    this.localLoads = subset === undefined ? [] : subset.map((e) => e.load);
  }

  /** The share of requests spilling now (0–1), for stats. */
  spillNow(): number {
    if (!this.active) return 0;
    return spillFraction(zoneLoad(this.localLoads, this.options.endpointCapacity), this.options.spillThreshold);
  }

  pick(hashKey?: string, explain?: PickDecision): E | undefined {
    if (!this.active || hashKey !== undefined) return this.all.pick(hashKey, explain);
    const o = this.options;
    const load = zoneLoad(this.localLoads, o.endpointCapacity);
    const s = spillFraction(load, o.spillThreshold);
    if (explain !== undefined) {
      explain.zoneLoad = load;
      explain.zoneThreshold = o.spillThreshold;
      explain.spill = s;
    }
    if (s > 0 && (s >= 1 || this.random.next() < s)) {
      this.spills++;
      if (explain !== undefined) explain.zone = 'spill';
      return this.all.pick(undefined, explain);
    }
    if (explain !== undefined) explain.zone = 'local';
    // The local policy finds nothing (every local endpoint at weight 0 under slow start): never strand the request.
    const e = this.local.pick(undefined, explain);
    if (e !== undefined) return e;
    if (explain !== undefined) {
      explain.zone = 'local-empty';
      explain.clearCandidates();
    }
    return this.all.pick(undefined, explain);
  }
}
