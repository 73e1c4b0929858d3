import type http from 'node:http';
import type { DecisionJson } from '../balancing/index.js';

/** The summary of one finished request, as the tap streams it. */
export interface TapEvent {
  time: string;
  listener: string;
  route: string;
  service: string;
  /** HTTP method (GET, POST…). */
  method: string;
  path: string;
  /** "pkg.Service/Method" for gRPC requests, '' otherwise. */
  grpcMethod: string;
  /** The endpoint of the last attempt, '' when none was picked. */
  endpoint: string;
  status: number;
  /** -1 when unknown (not gRPC, or no status was seen). */
  grpcStatus: number;
  latencyMs: number;
  /** Epoch ms (µs precision) when the request reached the proxy: arrival order and concurrency for `tap --record`. */
  startMs: number;
  attempts: number;
  /** SWY_ERR_* code of the proxy's own error answer, or ''. */
  errorCode: string;
  classification: string;
  /** Why it failed or was refused (`no-endpoint`, `timeout`, `upstream-5xx`, `permission-denied`…), '' unless the classification is failure or refused. */
  reason: string;
  /** The client's identity from its TLS certificate (SPIFFE ID or DNS name), '' without one. */
  clientIdentity: string;
  /** The upgraded protocol of a tunnel (`websocket`), reported when it closes; '' for a request. */
  upgrade?: string;
  /** With --workers: the worker process that served it. */
  worker?: number;
  /** Why the balancer picked the endpoint; only for subscribers that asked for decisions. */
  decision?: DecisionJson;
}

/** What a subscriber asked for (every field optional). */
export interface TapFilter {
  service?: string;
  route?: string;
  listener?: string;
  /** HTTP method, gRPC method ("pkg.Svc/Method", leading "/" optional) or its short name. */
  method?: string;
  /** Exact status ("503") or a class ("5xx"). */
  status?: string;
  grpcStatus?: number;
  endpoint?: string;
  /** Path prefix. */
  path?: string;
  /** success, failure, cancelled or refused. */
  classification?: string;
  /** Failure reason (`no-endpoint`, `timeout`…). */
  reason?: string;
  /** With --workers: the worker's index. */
  worker?: number;
  /** Also send each request's balancing decision (`decisions=1`). Not a filter: while any subscriber asks, the services record decisions. */
  decisions?: boolean;
}

export function filterFromQuery(q: URLSearchParams): TapFilter {
  const f: TapFilter = {};
  const s = (k: string): string | undefined => {
    const v = q.get(k);
    return v === null || v === '' ? undefined : v;
  };
  f.service = s('service');
  f.route = s('route');
  f.listener = s('listener');
  f.method = s('method');
  f.status = s('status');
  f.endpoint = s('endpoint');
  f.path = s('path');
  f.classification = s('classification');
  f.reason = s('reason');
  const g = s('grpcStatus') ?? s('grpc-status');
  if (g !== undefined) f.grpcStatus = Number(g);
  const w = s('worker');
  if (w !== undefined) f.worker = Number(w);
  const d = s('decisions');
  if (d === '1' || d === 'true') f.decisions = true;
  return f;
}

export function matches(f: TapFilter, e: TapEvent): boolean {
  if (f.service !== undefined && f.service !== e.service) return false;
  if (f.route !== undefined && f.route !== e.route) return false;
  if (f.listener !== undefined && f.listener !== e.listener) return false;
  if (f.endpoint !== undefined && f.endpoint !== e.endpoint) return false;
  if (f.path !== undefined && !e.path.startsWith(f.path)) return false;
  if (f.grpcStatus !== undefined && f.grpcStatus !== e.grpcStatus) return false;
  if (f.classification !== undefined && f.classification !== e.classification) return false;
  if (f.reason !== undefined && f.reason !== e.reason) return false;
  if (f.worker !== undefined && f.worker !== e.worker) return false;
  if (f.status !== undefined) {
    const st = f.status.toLowerCase();
    if (st.length === 3 && st.endsWith('xx')) {
      if (Math.floor(e.status / 100) !== Number(st[0])) return false;
    } else if (Number(st) !== e.status) return false;
  }
  if (f.method !== undefined) {
    const m = f.method;
    if (m.includes('/')) {
      if ((m.startsWith('/') ? m.slice(1) : m) !== e.grpcMethod) return false;
    } else if (m.toUpperCase() !== e.method.toUpperCase() && e.grpcMethod.slice(e.grpcMethod.indexOf('/') + 1) !== m) {
      return false;
    }
  }
  return true;
}

function withoutDecision(e: TapEvent): TapEvent {
  const { decision, ...rest } = e;
  void decision;
  return rest;
}

/** One Server-Sent Events subscriber with its filter and rate limit. */
class Subscriber {
  private windowStart = 0;
  private sentInWindow = 0;
  dropped = 0;
  private reportedDropped = 0;
  sent = 0;

  constructor(
    readonly res: http.ServerResponse,
    readonly filter: TapFilter,
    readonly maxPerSecond: number,
  ) {}

  offer(e: TapEvent, now: number): void {
    if (!matches(this.filter, e)) return;
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.sentInWindow = 0;
    }
    // A slow reader does not make the proxy buffer without bound.
    if (this.sentInWindow >= this.maxPerSecond || this.res.writableLength > 1 << 20) {
      this.dropped++;
      return;
    }
    this.sentInWindow++;
    this.sent++;
    this.res.write(`data: ${JSON.stringify(e.decision !== undefined && this.filter.decisions !== true ? withoutDecision(e) : e)}\n\n`);
  }

  /** Reports drops since the last report (and keeps idle connections alive). */
  tick(): void {
    if (this.dropped !== this.reportedDropped) {
      this.res.write(`event: dropped\ndata: ${JSON.stringify({ dropped: this.dropped - this.reportedDropped, totalDropped: this.dropped })}\n\n`);
      this.reportedDropped = this.dropped;
    } else {
      this.res.write(': keep-alive\n\n');
    }
  }
}

/** Events passed on to another process, filtered and rate-limited like a subscriber's. */
class Relay {
  private windowStart = 0;
  private sentInWindow = 0;

  constructor(
    private readonly filters: TapFilter[],
    private readonly maxPerSecond: number,
    private readonly send: (e: TapEvent) => void,
  ) {}

  offer(e: TapEvent, now: number): void {
    let wanted = false;
    for (const f of this.filters) if ((wanted = matches(f, e))) break;
    if (!wanted) return;
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.sentInWindow = 0;
    }
    // The receiving subscribers drop (and report) what exceeds their rates; this only bounds the traffic.
    if (this.sentInWindow >= this.maxPerSecond) return;
    this.sentInWindow++;
    this.send(e);
  }
}

/**
 * The live request stream (/api/v1/tap). `active` is the one boolean the data
 * path checks: with no subscriber no event is built.
 */
export class TapHub {
  private readonly subscribers = new Set<Subscriber>();
  private timer: NodeJS.Timeout | undefined;
  private relayed: Relay | undefined;
  active = false;
  /** Called when a subscriber comes or goes (worker mode: the primary tells the workers what to send). */
  onSubscribersChanged: (() => void) | undefined;
  /** True while a subscriber (here or, in worker mode, at the primary) asked for balancing decisions. */
  decisions = false;
  /** Called when `decisions` changes (telemetry switches the services' decision records on or off). */
  onDecisionsChanged: (() => void) | undefined;
  private relayedDecisions = false;

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** What the subscribers asked for: their filters and the sum of their rates. */
  subscriptions(): { filters: TapFilter[]; maxPerSecond: number } {
    let maxPerSecond = 0;
    const filters: TapFilter[] = [];
    for (const s of this.subscribers) {
      filters.push(s.filter);
      maxPerSecond += s.maxPerSecond;
    }
    return { filters, maxPerSecond };
  }

  /**
   * Sends events matching any of `filters` to `send`, at most `maxPerSecond`
   * (worker mode: to the primary, whose subscribers asked for them); an
   * empty list stops it.
   */
  relay(filters: TapFilter[], maxPerSecond: number, send: (e: TapEvent) => void): void {
    this.relayed = filters.length === 0 ? undefined : new Relay(filters, maxPerSecond, send);
    this.active = this.subscribers.size > 0 || this.relayed !== undefined;
    this.relayedDecisions = filters.some((f) => f.decisions === true);
    this.updateDecisions();
  }

  private updateDecisions(): void {
    let want = this.relayedDecisions;
    for (const s of this.subscribers) if (s.filter.decisions === true) want = true;
    if (want === this.decisions) return;
    this.decisions = want;
    this.onDecisionsChanged?.();
  }

  publish(e: TapEvent): void {
    const now = performance.now();
    for (const s of this.subscribers) s.offer(e, now);
    this.relayed?.offer(e, now);
  }

  /** GET /api/v1/tap?service=&route=&method=&status=&endpoint=&path=&grpcStatus=&classification=&reason=&rate= */
  handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): void {
    const rate = Number(url.searchParams.get('rate') ?? 100);
    const maxPerSecond = Number.isFinite(rate) && rate > 0 ? Math.min(rate, 10_000) : 100;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`: tap open, at most ${maxPerSecond} events/s\n\n`);
    const s = new Subscriber(res, filterFromQuery(url.searchParams), maxPerSecond);
    this.subscribers.add(s);
    this.active = true;
    this.onSubscribersChanged?.();
    this.updateDecisions();
    if (this.timer === undefined) {
      this.timer = setInterval(() => {
        for (const x of this.subscribers) x.tick();
      }, 1000);
      this.timer.unref();
    }
    const gone = (): void => {
      if (!this.subscribers.delete(s)) return;
      this.active = this.subscribers.size > 0 || this.relayed !== undefined;
      this.onSubscribersChanged?.();
      this.updateDecisions();
      if (!this.active && this.timer !== undefined) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
    req.once('close', gone);
    res.once('close', gone);
  }

  close(): void {
    for (const s of this.subscribers) s.res.end();
    this.subscribers.clear();
    this.relayed = undefined;
    this.active = false;
    this.relayedDecisions = false;
    this.updateDecisions();
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
