/**
 * Worker mode: the topology of several worker processes as one answer. Each
 * worker runs its own health checks, outlier detection and balancer, so an
 * endpoint can be ready in one and ejected in another: the merged state is
 * the most severe one, and `workers` says what each worker sees.
 */

/** One worker's answer to a snapshot request. */
export interface WorkerPart<T> {
  worker: number;
  pid: number;
  body: T;
}

/** An endpoint as one worker sees it. */
export interface EndpointView {
  id: string;
  state: string;
  cause: string | null;
  [field: string]: unknown;
}

/** Most severe first: a state a request may fail in outranks one it is served in. */
const SEVERITY = ['ejected', 'unhealthy', 'reconnecting', 'connecting', 'removed', 'ready'];

/** The state shown for an endpoint seen by several workers, with each worker's view. */
export function combineEndpointStates(views: readonly { worker: number; state: string; cause: string | null }[]): {
  state: string;
  cause: string | null;
  workers: { worker: number; state: string; cause: string | null }[];
} {
  let worst = views[0];
  for (const v of views) if (worst === undefined || rank(v.state) < rank(worst.state)) worst = v;
  return {
    state: worst?.state ?? 'unknown',
    cause: worst?.cause ?? null,
    workers: views.map((v) => ({ worker: v.worker, state: v.state, cause: v.cause })),
  };
}

function rank(state: string): number {
  const i = SEVERITY.indexOf(state);
  return i < 0 ? SEVERITY.length : i;
}

/**
 * Items of several workers' lists grouped by key, in the order first seen
 * (worker 0's order first), each with the worker it came from.
 */
export function groupBy<T>(lists: readonly { worker: number; list: readonly T[] }[], key: (item: T) => string): { worker: number; item: T }[][] {
  const groups = new Map<string, { worker: number; item: T }[]>();
  for (const { worker, list } of lists) {
    for (const item of list) {
      const k = key(item);
      let g = groups.get(k);
      if (g === undefined) groups.set(k, (g = []));
      g.push({ worker, item });
    }
  }
  return [...groups.values()];
}

export interface DiscoveryView {
  kind: string;
  description: string;
  healthy: boolean;
  lastError: string | null;
  lastUpdate: string | null;
  updates: number;
  errors: number;
}

/** Every worker runs the service's discovery: healthy while all answer, counts summed, the stalest update. */
export function mergeDiscovery(views: readonly DiscoveryView[]): DiscoveryView | undefined {
  const first = views[0];
  if (first === undefined) return undefined;
  let lastUpdate = first.lastUpdate;
  for (const v of views) if (v.lastUpdate === null || (lastUpdate !== null && v.lastUpdate < lastUpdate)) lastUpdate = v.lastUpdate;
  return {
    kind: first.kind,
    description: first.description,
    healthy: views.every((v) => v.healthy),
    lastError: views.find((v) => v.lastError !== null)?.lastError ?? null,
    lastUpdate,
    updates: sum(views, (v) => v.updates),
    errors: sum(views, (v) => v.errors),
  };
}

export function sum<T>(list: readonly T[], f: (t: T) => number): number {
  let n = 0;
  for (const x of list) n += f(x);
  return n;
}

interface ServiceTopology {
  name: string;
  available: boolean;
  panicMode: boolean;
  discovery: DiscoveryView;
  endpoints: EndpointView[];
  [field: string]: unknown;
}

export interface TopologyExport {
  listeners: unknown[];
  services: ServiceTopology[];
}

/**
 * Listeners come from the first worker (every worker has the same
 * configuration); a service is available when it is in every worker and in
 * panic mode when it is in any; endpoints as combineEndpointStates says.
 */
export function mergeTopology(parts: readonly WorkerPart<TopologyExport>[]): Record<string, unknown> {
  const services = groupBy(parts.map((p) => ({ worker: p.worker, list: p.body.services })), (s) => s.name).map((group) => {
    const items = group.map((g) => g.item);
    const endpoints = groupBy(group.map((g) => ({ worker: g.worker, list: g.item.endpoints })), (e) => e.id).map((eg) => ({
      ...eg[0]!.item,
      ...combineEndpointStates(eg.map((x) => ({ worker: x.worker, state: x.item.state, cause: x.item.cause }))),
      terminating: eg.some((x) => x.item.terminating === true),
    }));
    return {
      ...items[0]!,
      available: items.every((s) => s.available),
      panicMode: items.some((s) => s.panicMode),
      discovery: mergeDiscovery(items.map((s) => s.discovery)),
      endpoints,
    };
  });
  return { listeners: parts[0]?.body.listeners ?? [], services };
}
