import { ErrorCode, type Http2Stream, type StreamHandler } from '../../http2/index.js';
import { GrpcStatus, ProxyErrors, type ProxyErrorKind } from '../../errors.js';
import { PickDecision } from '../../balancing/decision.js';
import type { Endpoint } from '../endpoint.js';
import type { EndpointWaiter, ServiceRuntime } from '../service-runtime.js';
import { attemptDeadline, deadlines, type Deadlined } from '../deadlines.js';
import type { AuthzDenial } from '../policy-hooks.js';
import { formatGrpcTimeout } from '../headers.js';
import { errorResponse, type ErrorResponse } from '../error-responses.js';
import { IdleWatch } from '../idle-watch.js';
import type { CompiledRoute } from '../router.js';
import { beginAttempt, endAttempt, type AttemptLoad } from './attempt-load.js';
import { Hedges, type HedgeAttempt, type HedgeOwner } from './hedge.js';
import { RequestBody } from './request-body.js';
import { isIdempotentMethod, MAX_SAFE_ATTEMPTS, type HeldResponse, type RetryCandidate } from './retry.js';
import type { Upstream, UpstreamHandler, UpstreamRequest } from './upstream.js';
import type { ExchangeObserver, ObservedExchange } from './observed-exchange.js';

export type { ExchangeObserver } from './observed-exchange.js';

/**
 * One proxied request, its lifecycle and its request side: admission, the
 * pick of an endpoint, the request relayed upstream frame by frame (body kept
 * for a resend, request-body.ts), the balancer's load record (attempt-load.ts),
 * the proxy's own error answer, and the end, exactly once. What comes back
 * from the endpoint is handled in response-relay.ts.
 *
 * It holds the compiled route it was matched to and reads its settings from
 * there: a configuration reload swaps routers, and a request in flight
 * finishes on the route it started with.
 *
 * Subclasses supply the downstream side (an HTTP/2 stream or an HTTP/1.1
 * response). The object is the handler of its upstream request (either
 * protocol), so no closure is allocated per request.
 */
export abstract class Exchange implements StreamHandler, UpstreamHandler, EndpointWaiter, Deadlined, AttemptLoad, HedgeOwner, RetryCandidate, ObservedExchange {
  // ---- request
  readonly idempotent: boolean;
  hashKey: string | undefined = undefined;
  startedAt = 0;
  /** The client's verified identity (SPIFFE ID or DNS name of its certificate); '' without one. */
  clientIdentity = '';
  /** Set when authorization refused the request (see refuse). */
  refusal: AuthzDenial | null = null;
  readonly body = new RequestBody();
  /** Request body octets relayed from the client (each once, however many attempts resend them). */
  requestBytes = 0;
  /** Response body octets relayed to the client (the proxy's own error answers not counted). */
  responseBytes = 0;
  readonly upgrade = '';

  // ---- upstream: the current attempt's load record (AttemptLoad) and request
  endpoint: Endpoint | null = null;
  loadStart = 0;
  firstByteSeen = false;
  /** The endpoint of the last attempt (kept after release, for telemetry and for avoiding it on a retry). */
  lastEndpoint: Endpoint | null = null;
  /** Why the last attempt's endpoint was picked; made only while the service records decisions. */
  decision: PickDecision | null = null;
  up: UpstreamRequest | null = null;
  /**
   * The upstream request whose response octets are being relayed downstream.
   * Credit for them goes back through it as they leave (or are dropped), even
   * after the upstream ended: never through whichever request is current.
   */
  protected respSrc: UpstreamRequest | null = null;
  attempts = 0;

  // ---- response
  responded = false;
  responseEnded = false;
  status = 0;
  grpcStatus = -1;
  /** Stable code of the proxy error answered, or ''. */
  errorCode = '';
  deadline = 0;
  protected done = false;

  // ---- retries (rules compiled per route; absent = only resends of unprocessed requests)
  retries = 0;
  /** Absolute deadline of the whole exchange (0 = none); `deadline` may be an earlier per-try one. */
  routeDeadline = 0;
  protected held: HeldResponse | null = null;
  protected retryTimer: NodeJS.Timeout | undefined = undefined;
  /** Made only for routes that hedge. */
  protected hedging: Hedges | null = null;
  /** Made only for routes with an idleTimeout. */
  protected idle: IdleWatch | null = null;
  /** In the service's failfast queue, waiting for an endpoint to become pickable. */
  private waiting = false;

  constructor(
    readonly route: CompiledRoute<ServiceRuntime>,
    readonly service: ServiceRuntime,
    protected readonly observer: ExchangeObserver | undefined,
    readonly listenerName: string,
    readonly reqHeaders: string[],
    readonly method: string,
    readonly path: string,
    readonly isGrpc: boolean,
  ) {
    this.idempotent = route.idempotent || isIdempotentMethod(method);
  }

  get routeName(): string {
    return this.route.name;
  }

  /** Hedges sent so far. */
  get hedges(): number {
    return this.hedging === null ? 0 : this.hedging.sent;
  }

  /** True when no upstream connection is needed any more. */
  get abandoned(): boolean {
    return this.done || this.responseEnded;
  }

  get finished(): boolean {
    return this.done;
  }

  // ------------------------------------------------------------ downstream side (subclasses)
  protected abstract downHeaders(h: readonly string[], endStream: boolean): void;
  protected abstract downData(d: Buffer, endStream: boolean): void;
  protected abstract downTrailers(t: readonly string[]): void;
  protected abstract downReset(code: number): void;
  protected abstract downConsume(n: number): void;
  /** Answers with the proxy's own error; `r`: a response of that kind with its own message. */
  protected abstract downError(kind: ProxyErrorKind, r?: ErrorResponse): void;
  /** The response is complete while the client is still sending: let it stop (HTTP/2: RST_STREAM NO_ERROR once sent). */
  protected abstract requestCutShort(): void;
  /** The client's address (its socket's peer), for the access log. */
  abstract get clientAddress(): string | undefined;
  /** The downstream HTTP/2 stream, when there is one (events from it are request events). */
  protected downStream: Http2Stream | null = null;

  // ------------------------------------------------------------ start and dispatch

  /** Starts forwarding. `timeoutMs` > 0 sets the deadline for the whole exchange. */
  start(timeoutMs: number): void {
    this.startedAt = performance.now();
    this.observer?.onExchangeStart(this);
    const service = this.service;
    service.inflight++;
    if (service.inflight > service.config.circuitBreakers.maxRequests) {
      this.fail(ProxyErrors.OVERLOADED);
      return;
    }
    const route = this.route;
    if (route.retry !== undefined) {
      route.retry.onRequest();
      this.body.setLimit(route.retry.bufferSize);
    }
    if (timeoutMs > 0) this.routeDeadline = this.startedAt + timeoutMs;
    if (route.idleTimeout > 0) this.idle = new IdleWatch(this, route.idleTimeout);
    if (route.hedges) this.hedging = new Hedges(this);
    this.dispatch();
  }

  /**
   * Answers a request that authorization refused, in place of start(): no
   * endpoint is picked, nothing goes upstream, and request body octets that
   * still arrive are dropped (HTTP/1.1 clients waiting for `100 Continue`
   * never get it). Observed like any other request.
   */
  refuse(d: AuthzDenial): void {
    this.startedAt = performance.now();
    this.observer?.onExchangeStart(this);
    // finish() gives it back.
    this.service.inflight++;
    this.refusal = d;
    const kind = d.kind;
    this.errorCode = kind.code;
    this.responded = true;
    this.status = this.isGrpc ? 200 : kind.httpStatus;
    if (this.isGrpc) this.grpcStatus = kind.grpcStatus;
    this.downError(kind, d.response);
    this.finish();
  }

  /** Arms the deadline of the next attempt: the route's, or an earlier per-try one. */
  private armDeadline(): void {
    const d = attemptDeadline(this.routeDeadline, this.route.retry?.perTryTimeout ?? 0);
    if (d === 0) return;
    this.deadline = d;
    deadlines.add(this);
    if (this.isGrpc && this.routeDeadline > 0) this.setHeader('grpc-timeout', formatGrpcTimeout(this.routeDeadline - performance.now()));
  }

  protected setHeader(name: string, value: string): void {
    const h = this.reqHeaders;
    for (let i = 0; i < h.length; i += 2) {
      if (h[i] === name) {
        h[i + 1] = value;
        return;
      }
    }
    h.push(name, value);
  }

  private dispatch(): void {
    if (this.done) return;
    const service = this.service;
    const ep = service.pick(this.hashKey, this.lastEndpoint, service.recordDecisions ? (this.decision ??= new PickDecision()) : undefined);
    if (ep === undefined) {
      if (service.failfastMode) this.fail(ProxyErrors.NO_ENDPOINT);
      else if (!service.failfast.enqueue(this)) this.fail(ProxyErrors.QUEUE_FULL);
      else {
        this.waiting = true;
        // The route timeout (or grpc-timeout) bounds the wait too: answer at the deadline, not after failfast's.
        if (this.routeDeadline > 0 && this.deadline !== this.routeDeadline) {
          this.deadline = this.routeDeadline;
          deadlines.add(this);
        }
      }
      return;
    }
    this.lastEndpoint = ep;
    this.attempts++;
    this.armDeadline();
    beginAttempt(this, ep);
    ep.pool.dispatch(this);
  }

  /** Failfast queue: an endpoint is pickable again. */
  onReady(): void {
    this.waiting = false;
    this.dispatch();
  }

  /** Failfast queue: waited too long. From now on the service fails requests at once. */
  onTimeout(): void {
    this.waiting = false;
    if (this.done) return;
    this.service.failfastMode = true;
    this.fail(ProxyErrors.QUEUE_TIMEOUT);
  }

  /** The endpoint can take the request: send the head and whatever body arrived meanwhile. */
  onPoolConnection(upstream: Upstream): void {
    if (this.done) {
      endAttempt(this, false, false);
      return;
    }
    const body = this.body;
    const pending = body.takePending();
    const trailers = body.trailers;
    const up = upstream.request(this.reqHeaders, body.ended && pending === null && trailers === null, this);
    this.up = up;
    this.respSrc = up;
    if (pending !== null) {
      for (let i = 0; i < pending.length; i++) {
        body.keep(pending[i]!);
        up.sendData(pending[i]!, i === pending.length - 1 && body.ended && trailers === null);
      }
    }
    if (trailers !== null) up.sendTrailers(trailers);
    if (this.hedging !== null) this.hedging.arm();
  }

  onPoolConnectFailed(): void {
    // Nothing was sent: always safe to try another endpoint.
    endAttempt(this, true, true);
    if (this.done) return;
    if (this.attempts < MAX_SAFE_ATTEMPTS) this.dispatch();
    else this.fail(ProxyErrors.CONNECT_FAILED);
  }

  /** Resends a request the upstream did not process (§8.7), if its body is still at hand. */
  protected resend(): boolean {
    if (this.attempts >= MAX_SAFE_ATTEMPTS) return false;
    if (!this.body.rewind()) return false;
    this.dispatch();
    return true;
  }

  // ------------------------------------------------------------ request events (from the downstream)

  protected clientData(d: Buffer, endStream: boolean): void {
    if (this.idle !== null) this.idle.touch();
    const body = this.body;
    if (endStream) body.ended = true;
    const up = this.up;
    if (up !== null) {
      this.requestBytes += d.length;
      if (d.length > 0) body.keep(d);
      up.sendData(d, endStream);
      return;
    }
    if (this.done || this.responseEnded) {
      this.downConsume(d.length);
      return;
    }
    this.requestBytes += d.length;
    // An empty end needs no keeping: `ended` says it.
    if (d.length > 0) body.hold(d);
  }

  protected clientTrailers(t: string[]): void {
    this.body.ended = true;
    if (this.up !== null) this.up.sendTrailers(t);
    else this.body.trailers = t;
  }

  /** The client went away or cancelled: cancel upstream, release the endpoint. */
  protected clientReset(): void {
    if (this.done) return;
    this.cancelUpstream();
    if (this.status === 0) this.grpcStatus = GrpcStatus.CANCELLED;
    // The client gave up while no endpoint could take the request: that is an
    // outage the proxy could not serve, not a neutral cancel.
    if (this.waiting && this.status === 0) this.errorCode = ProxyErrors.NO_ENDPOINT.code;
    // A client cancel says nothing about the endpoint's health.
    endAttempt(this, false, false);
    this.finish();
  }

  // ------------------------------------------------------------ upstream events (response-relay.ts)

  abstract onHeaders(s: UpstreamRequest, h: string[], endStream: boolean): void;
  abstract onData(s: UpstreamRequest, d: Buffer, endStream: boolean): void;
  abstract onTrailers(s: UpstreamRequest, t: string[]): void;
  abstract onReset(s: UpstreamRequest, code: number, reason: number): void;
  abstract onDataSent(s: UpstreamRequest, n: number): void;
  abstract onDeadline(): void;
  abstract get hedgeAbandoned(): boolean;
  abstract adoptHedge(a: HedgeAttempt, headers: string[], endStream: boolean): void;
  abstract hedgeFailed(outstanding: number): void;

  /** Request body bytes left for the upstream: credit the client (skipping bytes it was already credited for before a resend). */
  protected requestBodyTaken(n: number): void {
    const c = this.body.credit(n);
    if (c > 0) this.downConsume(c);
  }

  /** Response bytes went to the client: take that much more from upstream (end-to-end back-pressure). */
  protected responseConsumed(n: number): void {
    const src = this.respSrc;
    if (src !== null) src.consume(n);
  }

  // ------------------------------------------------------------ ends

  /** Cancels the upstream request of the current attempt, if any (RST_STREAM CANCEL, or an aborted HTTP/1.1 request). */
  protected cancelUpstream(): void {
    const up = this.up;
    if (up !== null) {
      this.up = null;
      up.reset(ErrorCode.CANCEL);
    }
  }

  /** Answers with the proxy's own error (or resets, if the response already started). */
  fail(kind: ProxyErrorKind): void {
    if (this.done) return;
    this.cancelUpstream();
    endAttempt(this, kind === ProxyErrors.TIMEOUT, kind === ProxyErrors.TIMEOUT);
    this.errorCode = kind.code;
    if (this.responded) {
      // gRPC can still carry the status in trailers; plain HTTP can only be cut short.
      if (this.isGrpc && !this.responseEnded) {
        this.grpcStatus = kind.grpcStatus;
        this.downTrailers(errorResponse(kind).grpcTrailers);
      } else {
        this.downReset(ErrorCode.CANCEL);
      }
    } else {
      this.responded = true;
      this.status = this.isGrpc ? 200 : kind.httpStatus;
      if (this.isGrpc) this.grpcStatus = kind.grpcStatus;
      this.downError(kind);
    }
    this.finish();
  }

  protected finish(): void {
    if (this.done) return;
    this.done = true;
    this.deadline = 0;
    this.service.inflight--;
    if (this.waiting) {
      this.waiting = false;
      this.service.failfast.remove(this);
    }
    // Request octets that never went upstream: credit the client for them.
    const n = this.body.dropPending();
    if (n > 0) this.requestBodyTaken(n);
    if (this.hedging !== null) this.hedging.cancel();
    if (this.retryTimer !== undefined) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      this.service.retriesInFlight--;
    }
    this.observer?.onExchangeEnd(this);
  }
}
