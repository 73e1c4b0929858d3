import type { Proxy } from '../proxy/proxy.js';
import type { PathRecord, RouteStats, Series, ServiceRecord } from './telemetry-records.js';
import { discoveryView, endpointStateName, round3 } from './topology-view.js';
import { reasonRecord, WindowStats, type WindowSnapshot } from './window-stats.js';

export interface StatsEntry extends WindowSnapshot {
  name: string;
  total: { requests: number; failures: number; cancelled: number; refused: number; failureReasons: Record<string, number> };
}

/** What the stats view reads of telemetry's records. */
export interface StatsInput {
  /** Every listener × route × service × endpoint series. */
  series: readonly Series[];
  /** Every listener × route × service's windows (exact latencies; they outlive removed endpoints' series). */
  routeStats: readonly RouteStats[];
  /** Listener names → their route names (in configuration order). */
  listenerRoutes: ReadonlyMap<string, ReadonlySet<string>>;
  services: readonly ServiceRecord[];
  /** Per path / gRPC method, "other" last. */
  paths: readonly PathRecord[];
  proxy: Proxy | undefined;
  /** performance.now() when telemetry started (uptime, rates over less than a window). */
  startedAt: number;
  tapSubscribers: number;
}

/**
 * Windowed statistics (window 10 or 60 s) per listener, route, service,
 * endpoint and path / gRPC method (`/api/v1/stats`). `exported`: each entry
 * also carries its latency histogram, for merging with other processes'
 * (cluster-merge-stats.ts).
 */
export function statsView(t: StatsInput, windowSec: number, exported = false): Record<string, unknown> {
  const now = performance.now();
  const elapsed = (now - t.startedAt) / 1000;
  const all = t.series;
  const entryOf = (name: string, list: readonly WindowStats[]): StatsEntry => {
    let requests = 0;
    let failures = 0;
    let cancelled = 0;
    let refused = 0;
    let reasons: Uint32Array | undefined;
    for (const w of list) {
      requests += w.total;
      failures += w.totalFailures;
      cancelled += w.totalCancelled;
      refused += w.totalRefused;
      const tr = w.totalReasons;
      if (tr !== undefined) {
        reasons ??= new Uint32Array(tr.length);
        for (let r = 0; r < tr.length; r++) reasons[r]! += tr[r]!;
      }
    }
    const total = { requests, failures, cancelled, refused, failureReasons: reasonRecord(reasons) };
    const window = exported ? WindowStats.exported(list, now, windowSec, elapsed) : WindowStats.combined(list, now, windowSec, elapsed);
    return { name, ...window, total };
  };
  /**
   * Stats and status counts of the series `pred` selects; the windows of
   * `windows` when given (listener × route × service records), else of the series.
   */
  const view = (name: string, pred: (s: Series) => boolean, windows?: (r: RouteStats) => boolean) => {
    const list = all.filter(pred);
    const statusCodes: Record<string, number> = {};
    const grpcStatuses: Record<string, number> = {};
    for (const s of list) {
      for (const o of s.outcomes.values()) {
        statusCodes[o.status] = (statusCodes[o.status] ?? 0) + o.n;
        if (o.grpcStatus >= 0) grpcStatuses[o.grpcStatus] = (grpcStatuses[o.grpcStatus] ?? 0) + o.n;
      }
    }
    const stats = windows === undefined ? list.map((s) => s.stats) : t.routeStats.filter(windows).map((r) => r.stats);
    return { ...entryOf(name, stats), statusCodes, grpcStatuses };
  };
  const listeners = [...t.listenerRoutes.keys()].map((name) => {
    const l = t.proxy?.listeners.find((x) => x.name === name);
    return {
      ...view(name, (s) => s.labels.listener === name, (r) => r.listener === name),
      protocol: l?.config.protocol,
      connections: l === undefined ? undefined : { open: l.counters.connectionsOpen, total: l.counters.connectionsTotal },
    };
  });
  const routes = [...t.listenerRoutes].flatMap(([listener, names]) =>
    [...names].map((name) => ({ listener, ...view(name, (s) => s.labels.listener === listener && s.labels.route === name, (r) => r.listener === listener && r.route === name) })),
  );
  const services = t.services.map((sr) => {
    const svc = view(sr.name, (s) => s.labels.service === sr.name, (r) => r.service === sr.name);
    const endpoints = sr.endpoints.map((er) => {
      const e = er.endpoint!;
      const st = view(er.id, (s) => s.labels.service === sr.name && s.labels.endpoint === er.id);
      return {
        ...st,
        state: endpointStateName(e),
        cause: e.cause === '' ? null : e.cause,
        connectFailures: e.connectFailuresTotal,
        latencyEstimateMs: round3(e.load.rttEstimate()),
        pending: e.load.pending,
        connections: e.pool.connectionCount,
        share: svc.requests > 0 ? st.requests / svc.requests : null,
        weight: e.weight,
        zone: e.zone === '' ? null : e.zone,
        source: e.sourceName === '' ? null : e.sourceName,
        terminating: e.terminating,
        orca: e.load.orca === null ? null : { utilization: e.load.orca.utilization, weight: e.load.orca.weightNow(e.readySince) },
      };
    });
    let noEndpoint = 0;
    // Refused requests never wanted an endpoint.
    for (const byRoute of sr.none.series.values()) for (const s of byRoute.values()) noEndpoint += s.count - s.stats.totalRefused;
    const unavailable = sr.service.unavailableReason();
    return {
      ...svc,
      available: unavailable === '',
      unavailable: unavailable === '' ? null : unavailable,
      inFlight: sr.inFlight,
      panicMode: sr.service.panicMode,
      noEndpoint,
      discovery: discoveryView(sr.service),
      endpoints,
    };
  });
  const paths = t.paths
    .filter((p) => p.stats.total > 0)
    .map((p) => {
      const statusCodes: Record<string, number> = {};
      const grpcStatuses: Record<string, number> = {};
      for (const o of p.outcomes.values()) {
        statusCodes[o.status] = (statusCodes[o.status] ?? 0) + o.n;
        if (o.grpcStatus >= 0) grpcStatuses[o.grpcStatus] = (grpcStatuses[o.grpcStatus] ?? 0) + o.n;
      }
      return { ...entryOf(p.name, [p.stats]), grpc: p.grpc, statusCodes, grpcStatuses };
    });
  return {
    window: windowSec === 60 ? '1m' : `${windowSec}s`,
    windowSeconds: windowSec,
    uptimeSeconds: Math.round(elapsed * 1000) / 1000,
    tapSubscribers: t.tapSubscribers,
    listeners,
    routes,
    services,
    methods: paths.filter((p) => p.grpc),
    paths,
  };
}
