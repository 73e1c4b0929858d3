/**
 * Worker mode: the windowed statistics of several worker processes as one
 * answer, in the shape one process gives. Counts and rates are added;
 * percentiles come from the workers' latency histograms added bucket by
 * bucket (never from averaged percentiles); gauges that add up (in flight,
 * pending, connections) are summed; each endpoint also lists what each
 * worker sees, and `workers` what each worker served.
 */
import { combineEndpointStates, groupBy, mergeDiscovery, sum, type DiscoveryView, type WorkerPart } from './cluster-merge-topology.js';
import { mergedPercentiles, type HistogramExport, type WindowSnapshot } from './window-stats.js';

type Counts = Record<string, number>;

/** The fields of a stats entry (a listener, route, service, endpoint or path) that add up. */
export interface EntryFields extends WindowSnapshot {
  name: string;
  total: { requests: number; failures: number; cancelled: number; refused: number; failureReasons: Counts };
  statusCodes?: Counts;
  grpcStatuses?: Counts;
}

/** An entry of an exported stats answer (Telemetry.stats with exported = true). */
export interface EntryExport extends EntryFields {
  latencyHistogram: HistogramExport;
  [field: string]: unknown;
}

interface ListenerExport extends EntryExport {
  connections?: { open: number; total: number };
}

interface EndpointExport extends EntryExport {
  state: string;
  cause: string | null;
  connectFailures: number;
  latencyEstimateMs: number;
  pending: number;
  connections: number;
  terminating: boolean;
}

interface ServiceExport extends EntryExport {
  available: boolean;
  unavailable: string | null;
  inFlight: number;
  panicMode: boolean;
  noEndpoint: number;
  discovery: DiscoveryView;
  endpoints: EndpointExport[];
}

export interface StatsExport {
  window: string;
  windowSeconds: number;
  uptimeSeconds: number;
  listeners: ListenerExport[];
  routes: (EntryExport & { listener: string })[];
  services: ServiceExport[];
  paths: (EntryExport & { grpc: boolean })[];
}

/** Counts keyed by name added up; ordered most frequent first, as one process orders failure reasons. */
function addCounts(list: readonly (Counts | undefined)[], byFrequency: boolean): Counts {
  const out: Counts = {};
  for (const c of list) if (c !== undefined) for (const k in c) out[k] = (out[k] ?? 0) + c[k]!;
  if (!byFrequency) return out;
  const sorted: Counts = {};
  for (const k of Object.keys(out).sort((a, b) => out[b]! - out[a]!)) sorted[k] = out[k]!;
  return sorted;
}

/** One entry from the same entry of several workers (the latency histogram is consumed, not passed on). */
export function mergeEntries(items: readonly EntryExport[]): EntryFields & Record<string, unknown> {
  const successes = sum(items, (e) => e.successes);
  const failures = sum(items, (e) => e.failures);
  const { latencyHistogram: _, ...first } = items[0]!;
  const out: EntryFields & Record<string, unknown> = {
    ...first,
    requests: sum(items, (e) => e.requests),
    // Each worker divides by its own span (a replacement is younger): rates add.
    rps: sum(items, (e) => e.rps),
    successes,
    failures,
    cancelled: sum(items, (e) => e.cancelled),
    refused: sum(items, (e) => e.refused),
    successRate: successes + failures > 0 ? successes / (successes + failures) : null,
    failureReasons: addCounts(items.map((e) => e.failureReasons), true),
    latencyMs: mergedPercentiles(items.map((e) => e.latencyHistogram)),
    total: {
      requests: sum(items, (e) => e.total.requests),
      failures: sum(items, (e) => e.total.failures),
      cancelled: sum(items, (e) => e.total.cancelled),
      refused: sum(items, (e) => e.total.refused),
      failureReasons: addCounts(items.map((e) => e.total.failureReasons), true),
    },
  };
  if (first.statusCodes !== undefined) out.statusCodes = addCounts(items.map((e) => e.statusCodes), false);
  if (first.grpcStatuses !== undefined) out.grpcStatuses = addCounts(items.map((e) => e.grpcStatuses), false);
  return out;
}

function mergeEndpoint(group: readonly { worker: number; item: EndpointExport }[], serviceRequests: number): Record<string, unknown> {
  const items = group.map((g) => g.item);
  const merged = mergeEntries(items);
  const states = combineEndpointStates(group.map((g) => ({ worker: g.worker, state: g.item.state, cause: g.item.cause })));
  return {
    ...merged,
    state: states.state,
    cause: states.cause,
    connectFailures: sum(items, (e) => e.connectFailures),
    latencyEstimateMs: Math.max(...items.map((e) => e.latencyEstimateMs)),
    pending: sum(items, (e) => e.pending),
    connections: sum(items, (e) => e.connections),
    share: serviceRequests > 0 ? merged.requests / serviceRequests : null,
    terminating: items.some((e) => e.terminating),
    workers: group.map((g, i) => ({ ...states.workers[i]!, requests: g.item.requests, totalRequests: g.item.total.requests })),
  };
}

function mergeService(group: readonly { worker: number; item: ServiceExport }[]): Record<string, unknown> {
  const items = group.map((g) => g.item);
  const merged = mergeEntries(items);
  const unavailable = group.filter((g) => g.item.unavailable !== null).map((g) => `worker ${g.worker}: ${g.item.unavailable}`);
  return {
    ...merged,
    available: items.every((s) => s.available),
    unavailable: unavailable.length === 0 ? null : unavailable.join('; '),
    inFlight: sum(items, (s) => s.inFlight),
    panicMode: items.some((s) => s.panicMode),
    noEndpoint: sum(items, (s) => s.noEndpoint),
    discovery: mergeDiscovery(items.map((s) => s.discovery)),
    endpoints: groupBy(group.map((g) => ({ worker: g.worker, list: g.item.endpoints })), (e) => e.name).map((eg) => mergeEndpoint(eg, merged.requests)),
  };
}

/**
 * The stats answer of several workers. `workers` lists each worker that
 * answered with the requests it finished in the window and since it started
 * (the sum over its listeners).
 */
export function mergeStats(parts: readonly WorkerPart<StatsExport>[]): Record<string, unknown> {
  const lists = <T>(f: (s: StatsExport) => readonly T[]) => parts.map((p) => ({ worker: p.worker, list: f(p.body) }));
  const items = <T>(group: readonly { item: T }[]) => group.map((g) => g.item);
  const listeners = groupBy(lists((s) => s.listeners), (l) => l.name).map((g) => {
    const ls = items(g);
    const conns = ls.filter((l) => l.connections !== undefined).map((l) => l.connections!);
    return {
      ...mergeEntries(ls),
      connections: conns.length === 0 ? undefined : { open: sum(conns, (c) => c.open), total: sum(conns, (c) => c.total) },
    };
  });
  const routes = groupBy(lists((s) => s.routes), (r) => `${r.listener}\0${r.name}`).map((g) => mergeEntries(items(g)));
  const services = groupBy(lists((s) => s.services), (s) => s.name).map(mergeService);
  const paths = groupBy(lists((s) => s.paths), (p) => p.name).map((g) => mergeEntries(items(g)));
  const first = parts[0]?.body;
  return {
    window: first?.window,
    windowSeconds: first?.windowSeconds,
    uptimeSeconds: Math.max(0, ...parts.map((p) => p.body.uptimeSeconds)),
    listeners,
    routes,
    services,
    methods: paths.filter((p) => p.grpc === true),
    paths,
    workers: parts.map((p) => ({
      worker: p.worker,
      pid: p.pid,
      requests: sum(p.body.listeners, (l) => l.requests),
      totalRequests: sum(p.body.listeners, (l) => l.total.requests),
    })),
  };
}
