import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type pino from 'pino';
import { engineCounters } from '../http2/options.js';
import { ENDPOINT_STATE_NAMES, type Endpoint } from '../proxy/endpoint.js';
import type { ExchangeObserver, ObservedExchange } from '../proxy/exchange/observed-exchange.js';
import type { Listener } from '../proxy/listener.js';
import type { Proxy } from '../proxy/proxy.js';
import type { ServiceRuntime } from '../proxy/service-runtime.js';
import type { DiscoveryStatus } from '../discovery/index.js';
import { HANDSHAKE_RESULTS } from '../security/server-tls.js';
import { ProxyErrors } from '../errors.js';
import { certificateRegistry, type CertificateRegistry } from '../security/certificate-expiry.js';
import type { AdminServer } from './admin-server.js';
import { dashboardHtml } from './dashboard.js';
import { registerFlowMetrics } from './flow-metrics.js';
import { registerUpgradeMetrics } from './upgrade-metrics.js';
import { registerOrcaMetrics } from './orca-metrics.js';
import { registerLimitMetrics } from './limit-metrics.js';
import { registerZoneMetrics } from './zone-metrics.js';
import { failureReason, NO_REASON, REASON_NAMES } from './failure-reason.js';
import { bucketIndex, histogramSamples, ScrapeMetric, type Sample } from './prom.js';
import { MetricRegistry } from './metric-registry.js';
import { TapHub, type TapEvent } from './tap.js';
import { decisionJson, type DecisionJson } from '../balancing/index.js';
import { Outcome, OUTCOME_NAMES } from './window-stats.js';
import { classify, countOutcome, EndpointRecord, PathRecord, RouteStats, Series, ServiceRecord } from './telemetry-records.js';
import { statsView } from './stats-view.js';
import { endpointStateName, topologyView } from './topology-view.js';

export { classify } from './telemetry-records.js';
export { endpointStateName } from './topology-view.js';
export type { StatsEntry } from './stats-view.js';

export interface TelemetryOptions {
  /** One JSON line per finished request (pino, asynchronous). A logger, or true for stdout. */
  accessLog?: boolean | pino.Logger;
  /** Add each request's balancing decision to its access log line (`log.accessLogDecisions`). */
  accessLogDecisions?: boolean;
  /** Add x-request-id to upstream requests without one (default: on). */
  requestIds?: boolean;
  /** gRPC methods ("pkg.Svc/Method") that always get their own label. */
  grpcMethods?: readonly string[];
  /** Distinct paths / gRPC methods tracked by name; later ones are counted as "other" (default 100). */
  maxPaths?: number;
  /** Node.js process metrics (prom-client collectDefaultMetrics); default true. */
  processMetrics?: boolean;
  /** Expiries of the certificates in use (default: the process's registry). */
  certificates?: CertificateRegistry;
}

/**
 * Telemetry of a running proxy: the ExchangeObserver the data path calls,
 * Prometheus metrics, windowed statistics, the tap and the access log, plus
 * the admin routes that expose them.
 */
export class Telemetry implements ExchangeObserver {
  readonly registry: MetricRegistry;
  readonly tap = new TapHub();
  private proxy: Proxy | undefined;
  private readonly services: ServiceRecord[] = [];
  /** Listener names → their route names (in configuration order). */
  private readonly listenerRoutes = new Map<string, Set<string>>();
  private readonly paths = new Map<string, PathRecord>();
  private readonly other: PathRecord = new PathRecord('other', false);
  private readonly maxPaths: number;
  private readonly accessLog: pino.Logger | undefined;
  private readonly destination: pino.DestinationStream | undefined;
  private readonly requestIds: boolean;
  private readonly logDecisions: boolean;
  private readonly idPrefix = randomBytes(6).toString('hex');
  private idCounter = 0;
  private readonly startedAt = performance.now();

  constructor(options: TelemetryOptions = {}) {
    this.maxPaths = options.maxPaths ?? 100;
    for (const m of options.grpcMethods ?? []) {
      const name = m.startsWith('/') ? m.slice(1) : m;
      this.paths.set(`/${name}`, new PathRecord(name, true));
    }
    if (options.accessLog === true) {
      // pino only with the access log: one line per request wants its buffered asynchronous writer.
      const pino = createRequire(import.meta.url)('pino') as typeof import('pino').default;
      const dest = pino.destination({ dest: 1, sync: false });
      this.destination = dest;
      this.accessLog = pino({ base: { name: 'switchyard', log: 'access' } }, dest);
    } else if (options.accessLog) {
      this.accessLog = options.accessLog;
    }
    this.requestIds = options.requestIds ?? true;
    this.logDecisions = options.accessLogDecisions === true && this.accessLog !== undefined;
    this.tap.onDecisionsChanged = () => this.recordDecisions();
    this.registry = new MetricRegistry(options.processMetrics ?? true);
    this.registerMetrics(options.certificates ?? certificateRegistry);
  }

  /** Attaches to the proxy built with this observer (topology, gauges, per-object records). */
  attach(proxy: Proxy): void {
    const first = this.proxy === undefined;
    this.proxy = proxy;
    for (const s of proxy.services.values()) this.serviceRecord(s);
    this.recordDecisions();
    for (const l of proxy.listeners) {
      this.listener(l.name);
      for (const r of l.router.routes) this.route(l.name, r.name);
      if (l.router.fallback !== undefined) this.route(l.name, l.router.fallback.name);
    }
    // Reloads: new listeners, routes and services are followed; closed services' records go.
    if (first) proxy.watchReconfigure({ applied: () => this.attach(proxy), serviceClosed: (s) => this.forgetService(s) });
  }

  /** A retired service closed: its record goes, unless a runtime of the same name took it over. */
  private forgetService(s: ServiceRuntime): void {
    const r = s.telemetry as ServiceRecord | undefined;
    if (r === undefined || r.service !== s) return;
    const i = this.services.indexOf(r);
    if (i >= 0) this.services.splice(i, 1);
  }

  /** Services record why they picked each endpoint only while a tap subscriber or the access log wants it. */
  private recordDecisions(): void {
    if (this.proxy === undefined) return;
    const on = this.logDecisions || this.tap.decisions;
    for (const s of this.proxy.services.values()) s.recordDecisions = on;
  }

  /** The decision behind the request's last attempt, if one was recorded for it. */
  private decisionOf(ex: ObservedExchange): DecisionJson | undefined {
    const d = ex.decision;
    if (d === undefined || d === null || ex.lastEndpoint === null || d.chosen < 0) return undefined;
    return d.candidates[d.chosen]!.id === ex.lastEndpoint.id ? decisionJson(d) : undefined;
  }

  // ------------------------------------------------------------ data path

  onExchangeStart(ex: ObservedExchange): void {
    const s = ex.service.telemetry as ServiceRecord | undefined;
    (s ?? this.serviceRecord(ex.service)).inFlight++;
    if (this.requestIds) {
      const h = ex.reqHeaders;
      for (let i = 0; i < h.length; i += 2) if (h[i] === 'x-request-id') return;
      h.push('x-request-id', `${this.idPrefix}-${(++this.idCounter).toString(36)}`);
    }
  }

  onExchangeEnd(ex: ObservedExchange): void {
    const now = performance.now();
    const latencyMs = now - ex.startedAt;
    const svc = ex.service;
    const sr = (svc.telemetry as ServiceRecord | undefined) ?? this.serviceRecord(svc);
    sr.inFlight--;
    const ep = ex.lastEndpoint;
    const er = ep === null ? sr.none : ((ep.telemetry as EndpointRecord | undefined) ?? this.endpointRecord(sr, ep));
    let series = er.last;
    if (series === undefined || series.listener !== ex.listenerName || series.route !== ex.routeName) series = this.seriesOf(sr, er, ex.listenerName, ex.routeName);
    const outcome = classify(ex);
    const reason = outcome === Outcome.FAILURE || outcome === Outcome.REFUSED ? failureReason(ex) : NO_REASON;
    const refusal = ex.refusal;
    if (refusal) {
      const d = (series.denials ??= new Map());
      d.set(refusal, (d.get(refusal) ?? 0) + 1);
    }
    const status = ex.status;
    const grpcStatus = ex.grpcStatus;
    countOutcome(series.outcomes, status, grpcStatus, outcome, reason);
    const seconds = latencyMs / 1000;
    series.buckets[bucketIndex(seconds)]!++;
    series.sum += seconds;
    series.count++;
    if (ex.attempts > 1) series.retries += ex.attempts - 1;
    if (ex.hedges > 0) series.hedges += ex.hedges;

    const sec = Math.floor(now / 1000);
    const us = Math.round(latencyMs * 1000);
    series.stats.record(sec, us, outcome, reason);
    series.routeStats.stats.record(sec, us, outcome, reason);
    const p = this.pathRecord(ex);
    p.stats.record(sec, us, outcome, reason);
    countOutcome(p.outcomes, status, grpcStatus, outcome, reason);

    if (this.tap.active) this.tap.publish(this.event(ex, er.id, latencyMs, outcome, reason));
    if (this.accessLog !== undefined) this.logAccess(ex, er.id, latencyMs, outcome, reason);
  }

  /** The series of an endpoint and route, made on the first request through them. */
  private seriesOf(sr: ServiceRecord, er: EndpointRecord, listener: string, route: string): Series {
    let byRoute = er.series.get(listener);
    if (byRoute === undefined) {
      byRoute = new Map();
      er.series.set(listener, byRoute);
    }
    let series = byRoute.get(route);
    if (series === undefined) {
      let rs = sr.routes.find((r) => r.listener === listener && r.route === route);
      if (rs === undefined) {
        rs = new RouteStats(listener, route, sr.name);
        sr.routes.push(rs);
      }
      series = new Series(listener, route, sr.name, er.id, rs);
      byRoute.set(route, series);
      this.route(listener, route);
    }
    er.last = series;
    return series;
  }

  private pathRecord(ex: ObservedExchange): PathRecord {
    let path = ex.path;
    const q = path.indexOf('?');
    if (q >= 0) path = path.slice(0, q);
    const p = this.paths.get(path);
    if (p !== undefined) return p;
    if (this.paths.size >= this.maxPaths) return this.other;
    const r = new PathRecord(ex.isGrpc ? path.slice(1) : path, ex.isGrpc);
    this.paths.set(path, r);
    return r;
  }

  private event(ex: ObservedExchange, endpoint: string, latencyMs: number, outcome: number, reason: number): TapEvent {
    return {
      time: new Date().toISOString(),
      listener: ex.listenerName,
      route: ex.routeName,
      service: ex.service.name,
      method: ex.method,
      path: ex.path,
      grpcMethod: ex.isGrpc ? ex.path.slice(1) : '',
      endpoint: endpoint === 'none' ? '' : endpoint,
      status: ex.status,
      grpcStatus: ex.grpcStatus,
      latencyMs: Math.round(latencyMs * 1000) / 1000,
      startMs: Math.round((performance.timeOrigin + ex.startedAt) * 1000) / 1000,
      attempts: ex.attempts,
      errorCode: ex.errorCode,
      classification: OUTCOME_NAMES[outcome]!,
      reason: REASON_NAMES[reason]!,
      clientIdentity: ex.clientIdentity,
      upgrade: ex.upgrade,
      decision: this.tap.decisions ? this.decisionOf(ex) : undefined,
    };
  }

  private logAccess(ex: ObservedExchange, endpoint: string, latencyMs: number, outcome: number, reason: number): void {
    let requestId: string | undefined;
    let traceparent: string | undefined;
    const h = ex.reqHeaders;
    for (let i = 0; i < h.length; i += 2) {
      const n = h[i];
      if (n === 'x-request-id') requestId = h[i + 1];
      else if (n === 'traceparent') traceparent = h[i + 1];
    }
    const line: Record<string, unknown> = {
      listener: ex.listenerName,
      route: ex.routeName,
      service: ex.service.name,
      method: ex.method,
      path: ex.path,
      endpoint: endpoint === 'none' ? '' : endpoint,
      status: ex.status,
      grpcStatus: ex.grpcStatus,
      latencyMs: Math.round(latencyMs * 1000) / 1000,
      attempts: ex.attempts,
      errorCode: ex.errorCode,
      classification: OUTCOME_NAMES[outcome],
      reason: REASON_NAMES[reason],
      requestId,
      traceparent,
      clientIdentity: ex.clientIdentity,
      clientAddress: ex.clientAddress,
      requestBytes: ex.requestBytes,
      responseBytes: ex.responseBytes,
      upgrade: ex.upgrade,
    };
    if (this.logDecisions) line.decision = this.decisionOf(ex);
    this.accessLog!.info(line, 'request');
  }

  // ------------------------------------------------------------ records

  private serviceRecord(s: ServiceRuntime): ServiceRecord {
    let r = s.telemetry as ServiceRecord | undefined;
    if (r !== undefined) return r;
    // A runtime that replaced one of the same name (a reload) continues its record and series.
    r = this.services.find((x) => x.name === s.name);
    if (r !== undefined) r.service = s;
    else {
      r = new ServiceRecord(s.name, s);
      this.services.push(r);
    }
    s.telemetry = r;
    const record = r;
    // Records follow the endpoint set: one per member, kept while it drains, then forgotten
    // (its series leave /metrics, so churn in discovery does not grow the label set).
    s.watchEndpoints({
      added: (ep) => void this.endpointRecord(record, ep),
      removed: (ep) => this.forgetEndpoint(record, ep),
    });
    return r;
  }

  private endpointRecord(sr: ServiceRecord, ep: Endpoint): EndpointRecord {
    let r = ep.telemetry as EndpointRecord | undefined;
    if (r !== undefined) return r;
    r = sr.endpoints.find((x) => x.id === ep.id);
    if (r !== undefined) r.endpoint = ep;
    else {
      r = new EndpointRecord(ep.id, ep);
      sr.endpoints.push(r);
    }
    ep.telemetry = r;
    return r;
  }

  private forgetEndpoint(sr: ServiceRecord, ep: Endpoint): void {
    const r = ep.telemetry as EndpointRecord | undefined;
    if (r === undefined || r.endpoint !== ep) return;
    const i = sr.endpoints.indexOf(r);
    if (i >= 0) sr.endpoints.splice(i, 1);
  }

  private listener(name: string): Set<string> {
    let routes = this.listenerRoutes.get(name);
    if (routes === undefined) {
      routes = new Set();
      this.listenerRoutes.set(name, routes);
    }
    return routes;
  }

  private route(listener: string, route: string): void {
    this.listener(listener).add(route);
  }

  private *allSeries(): Generator<Series> {
    for (const sr of this.services) {
      for (const er of [...sr.endpoints, sr.none]) for (const byRoute of er.series.values()) yield* byRoute.values();
    }
  }

  // ------------------------------------------------------------ metrics

  private registerMetrics(certificates: CertificateRegistry): void {
    const reg = this.registry;
    const grpcLabel = (g: number): string => (g < 0 ? '' : String(g));
    new ScrapeMetric('switchyard_requests_total', 'Finished requests by listener, route, service, endpoint, status, classification and failure reason.', 'counter', () => {
      const out: Sample[] = [];
      for (const s of this.allSeries()) {
        for (const o of s.outcomes.values()) {
          out.push({
            labels: {
              ...s.labels, status_code: String(o.status), grpc_status: grpcLabel(o.grpcStatus),
              classification: OUTCOME_NAMES[o.outcome]!, reason: REASON_NAMES[o.reason]!,
            },
            value: o.n,
          });
        }
      }
      return out;
    }).register(reg);
    new ScrapeMetric('switchyard_request_duration_seconds', 'Request duration from routing to the end of the response.', 'histogram', () => {
      const out: Sample[] = [];
      for (const s of this.allSeries()) histogramSamples('switchyard_request_duration_seconds', s.labels, s.buckets, s.sum, s.count, out);
      return out;
    }).register(reg);
    new ScrapeMetric('switchyard_request_retries_total', 'Extra attempts (resends to another or the same endpoint) of finished requests.', 'counter', () => {
      const out: Sample[] = [];
      for (const s of this.allSeries()) out.push({ labels: s.labels, value: s.retries });
      return out;
    }).register(reg);
    new ScrapeMetric('switchyard_request_hedges_total', 'Hedged attempts (sent in parallel after the hedge delay) of finished requests.', 'counter', () => {
      const out: Sample[] = [];
      for (const s of this.allSeries()) out.push({ labels: s.labels, value: s.hedges });
      return out;
    }).register(reg);
    new ScrapeMetric('switchyard_authz_denied_total', 'Requests refused by authorization, by listener, route, rule (a configured name, or default-deny) and error code.', 'counter', () => {
      const counts = new Map<string, Sample>();
      for (const s of this.allSeries()) {
        if (s.denials === undefined) continue;
        for (const [d, n] of s.denials) {
          // Refusals of the request limits (maxRequestBody) are not authorization's: they show in switchyard_requests_total.
          if (d.kind !== ProxyErrors.PERMISSION_DENIED && d.kind !== ProxyErrors.UNAUTHENTICATED) continue;
          // The same rule refuses for every service of a split: one sample per listener, route, rule and code.
          const key = `${s.labels.listener}\0${s.labels.route}\0${d.rule}\0${d.kind.code}`;
          const sample = counts.get(key);
          if (sample !== undefined) sample.value += n;
          else counts.set(key, { labels: { listener: s.labels.listener!, route: s.labels.route!, rule: d.rule, code: d.kind.code }, value: n });
        }
      }
      return [...counts.values()];
    }).register(reg);
    new ScrapeMetric('switchyard_requests_in_flight', 'Requests routed to a service and not finished yet.', 'gauge', () =>
      this.services.map((s) => ({ labels: { service: s.name }, value: s.inFlight })),
    ).register(reg);
    new ScrapeMetric('switchyard_grpc_requests_total', 'Finished gRPC requests by method (bounded: later methods are "other") and gRPC status.', 'counter', () => {
      const out: Sample[] = [];
      for (const p of [...this.paths.values(), this.other]) {
        for (const o of p.outcomes.values()) {
          if (o.grpcStatus < 0 && !p.grpc) continue;
          if (p === this.other && o.grpcStatus < 0) continue;
          out.push({ labels: { grpc_method: p.name, grpc_status: grpcLabel(o.grpcStatus), classification: OUTCOME_NAMES[o.outcome]! }, value: o.n });
        }
      }
      return out;
    }).register(reg);
    const STATES = [...ENDPOINT_STATE_NAMES, 'ejected', 'unhealthy'];
    new ScrapeMetric('switchyard_endpoint_state', 'Endpoint state: 1 for the current one (connecting, ready, reconnecting, removed, ejected, unhealthy).', 'gauge', () => {
      const out: Sample[] = [];
      for (const s of this.services) {
        for (const e of s.endpoints) {
          const cur = endpointStateName(e.endpoint!);
          for (const st of STATES) out.push({ labels: { service: s.name, endpoint: e.id, state: st }, value: st === cur ? 1 : 0 });
        }
      }
      return out;
    }).register(reg);
    const perEndpoint = (name: string, help: string, type: 'counter' | 'gauge', f: (e: Endpoint) => number): void => {
      new ScrapeMetric(name, help, type, () => {
        const out: Sample[] = [];
        for (const s of this.services) for (const e of s.endpoints) out.push({ labels: { service: s.name, endpoint: e.id }, value: f(e.endpoint!) });
        return out;
      }).register(reg);
    };
    perEndpoint('switchyard_endpoint_latency_estimate_seconds', "The balancer's latency estimate (peak EWMA of response times).", 'gauge', (e) => e.load.rttEstimate() / 1000);
    perEndpoint('switchyard_endpoint_pending_requests', 'Requests dispatched to the endpoint and not finished.', 'gauge', (e) => e.load.pending);
    perEndpoint('switchyard_upstream_connections', 'Open connections to the endpoint.', 'gauge', (e) => e.pool.connectionCount);
    perEndpoint('switchyard_endpoint_dispatches_total', 'Attempts dispatched to the endpoint (connections for tcp listeners).', 'counter', (e) => e.requestsTotal);
    perEndpoint('switchyard_endpoint_failures_total', 'Attempts to the endpoint that failed.', 'counter', (e) => e.failuresTotal);
    perEndpoint('switchyard_endpoint_connect_failures_total', 'Connect attempts to the endpoint that failed (refused, name not found, timeout).', 'counter', (e) => e.connectFailuresTotal);
    perEndpoint('switchyard_endpoint_ejections_total', 'Times outlier detection ejected the endpoint.', 'counter', (e) => e.ejectionsTotal);
    perEndpoint('switchyard_endpoint_health_changes_total', 'Times active health checking changed the endpoint between healthy and unhealthy.', 'counter', (e) => e.healthChangesTotal);
    new ScrapeMetric('switchyard_service_endpoints', 'Endpoints of the service now (members; draining ones not counted).', 'gauge', () =>
      this.services.map((s) => ({ labels: { service: s.name }, value: s.service.endpoints.length })),
    ).register(reg);
    const perSource = (name: string, help: string, type: 'counter' | 'gauge', f: (d: DiscoveryStatus) => number): void => {
      new ScrapeMetric(name, help, type, () => {
        const out: Sample[] = [];
        for (const s of this.services) {
          const d = s.service.discovery;
          if (d !== undefined) out.push({ labels: { service: s.name, source: d.kind }, value: f(d) });
        }
        return out;
      }).register(reg);
    };
    perSource('switchyard_discovery_healthy', "1 while the service's discovery source answers; 0 while it fails (the last good set stays in use).", 'gauge', (d) => (d.healthy ? 1 : 0));
    perSource('switchyard_discovery_updates_total', 'Endpoint sets received from the discovery source.', 'counter', (d) => d.updates);
    perSource('switchyard_discovery_errors_total', 'Failed refreshes of the discovery source (resolution, read, parse, API errors).', 'counter', (d) => d.errors);
    perSource('switchyard_discovery_last_update_timestamp_seconds', 'When the discovery source last delivered an endpoint set (Unix time; 0: never).', 'gauge', (d) => d.lastUpdate / 1000);
    new ScrapeMetric('switchyard_service_panic_mode', '1 while too few endpoints are healthy and the service balances over all of them.', 'gauge', () =>
      this.services.map((s) => ({ labels: { service: s.name }, value: s.service.panicMode ? 1 : 0 })),
    ).register(reg);
    const perListener = (name: string, help: string, type: 'counter' | 'gauge', f: (l: Listener) => number): void => {
      new ScrapeMetric(name, help, type, () =>
        (this.proxy?.listeners ?? []).map((l) => ({ labels: { listener: l.name, protocol: l.config.protocol }, value: f(l) })),
      ).register(reg);
    };
    perListener('switchyard_protocol_detect_failures_total', 'Connections closed because the protocol could not be detected.', 'counter', (l) => l.counters.detectFailures);
    new ScrapeMetric('switchyard_tls_handshakes_total', 'TLS connection attempts on listeners with tls, by result: ok, timeout, client_cert_refused, identity_refused, plaintext_refused, failed.', 'counter', () =>
      (this.proxy?.listeners ?? []).flatMap((l) => {
        const h = l.tls?.handshakes;
        return h === undefined ? [] : HANDSHAKE_RESULTS.map((result) => ({ labels: { listener: l.name, result }, value: h[result] }));
      }),
    ).register(reg);
    new ScrapeMetric('switchyard_http2_engine_events_total', 'HTTP/2 engine events: connection and stream errors, floods, refused streams, keepalive timeouts.', 'counter', () =>
      Object.entries(engineCounters).map(([event, value]) => ({ labels: { event: snake(event) }, value: value as number })),
    ).register(reg);
    registerFlowMetrics(reg, () => this.proxy);
    registerUpgradeMetrics(reg);
    registerOrcaMetrics(reg, () => this.proxy);
    registerLimitMetrics(reg, () => this.proxy);
    registerZoneMetrics(reg, () => this.proxy);
    // Recorded when certificates are loaded or renewed; only the subtraction happens here.
    new ScrapeMetric('switchyard_certificate_expiry_seconds', 'Seconds until each certificate in use expires (negative once expired), by kind (listener, listener-sni, client-ca, service, service-ca, identity, issuer, trust-anchor) and name.', 'gauge', () =>
      certificates.secondsLeft().map((c) => ({ labels: { kind: c.kind, name: c.name }, value: Math.round(c.seconds) })),
    ).register(reg);
    perEndpoint('switchyard_upstream_stalls_total', 'Upstream connections replaced because their flow control made no progress for stallTimeout.', 'counter', (e) => e.stallsTotal);
  }

  /** The Prometheus text exposition. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  // ------------------------------------------------------------ stats and topology

  /**
   * Windowed statistics (window 10 or 60 s) per listener, route, service,
   * endpoint and path / gRPC method. `exported`: each entry also carries its
   * latency histogram, for merging with other processes' (cluster-merge-stats.ts).
   */
  stats(windowSec: number, exported = false): Record<string, unknown> {
    return statsView({
      series: [...this.allSeries()],
      routeStats: this.services.flatMap((s) => s.routes),
      listenerRoutes: this.listenerRoutes,
      services: this.services,
      paths: [...this.paths.values(), this.other],
      proxy: this.proxy,
      startedAt: this.startedAt,
      tapSubscribers: this.tap.subscriberCount,
    }, windowSec, exported);
  }

  /** Listeners → routes → services → endpoints, with states. */
  topology(): Record<string, unknown> {
    return this.proxy === undefined ? { listeners: [], services: [] } : topologyView(this.proxy);
  }

  // ------------------------------------------------------------ admin routes

  /** /metrics, /api/v1/stats, /api/v1/topology, /api/v1/tap, /dashboard (and / redirecting to it). */
  routes(admin: AdminServer): void {
    admin.route('/metrics', (_req, res) => {
      Promise.all([this.metrics(), this.registry.contentType()]).then(
        ([text, type]) => {
          res.writeHead(200, { 'content-type': type });
          res.end(text);
        },
        (err: Error) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`error: ${err.message}\n`);
        },
      );
    });
    admin.route('/api/v1/stats', (_req, res, url) => {
      const w = parseWindow(url.searchParams.get('window'));
      if (w === undefined) {
        json(res, 400, { error: 'window must be 10s or 1m' });
        return;
      }
      json(res, 200, this.stats(w));
    });
    admin.route('/api/v1/topology', (_req, res) => json(res, 200, this.topology()));
    admin.route('/api/v1/tap', (req, res, url) => this.tap.handle(req, res, url));
    const html = dashboardHtml();
    admin.route('/dashboard', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
      res.end(html);
    });
    admin.route('/', (_req, res) => {
      res.writeHead(302, { location: '/dashboard' });
      res.end();
    });
  }

  /** Ends tap streams and flushes the access log. */
  close(): void {
    this.tap.close();
    const d = this.destination as (pino.DestinationStream & { flushSync?: () => void }) | undefined;
    try {
      d?.flushSync?.();
    } catch {
      // not ready yet (nothing written): nothing to flush
    }
  }
}

export function parseWindow(v: string | null): number | undefined {
  if (v === null || v === '' || v === '10s') return 10;
  if (v === '1m' || v === '60s') return 60;
  return undefined;
}

function json(res: import('node:http').ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-cache' });
  res.end(JSON.stringify(body));
}

function snake(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

