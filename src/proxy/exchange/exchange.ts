import { ErrorCode, ResetReason, type Http2Connection, type Http2Stream, type StreamHandler } from '../../http2/index.js';
import { GrpcStatus, ProxyErrors, type ProxyErrorKind } from '../../errors.js';
import type { Endpoint } from '../endpoint.js';
import type { EndpointWaiter, ServiceRuntime } from '../service-runtime.js';
import { deadlines, type Deadlined } from '../deadlines.js';
import type { H1Upstream, H1UpstreamSink } from '../upstream-h1-pool.js';
import { RETRY_ON_GRPC_STATUS, RetryOn, type AuthzDenial, type RetryRules } from '../policy-hooks.js';
import { formatGrpcTimeout } from '../headers.js';
import { errorResponse, type ErrorResponse } from '../error-responses.js';
import { HedgeAttempt, type HedgeOwner } from './hedge.js';
import { IdleWatch } from '../idle-watch.js';
import { firstMessageEnd, grpcStatusOf, isFailureStatus, matchesRetryConditions, statusOf } from '../response-status.js';

/** Request body bytes kept to resend a request the upstream did not process (Linkerd keeps 64 KiB). */
const REPLAY_LIMIT = 64 * 1024;
/** Attempts for failures that are always safe to retry: connect failures and unprocessed streams (§8.7). */
const MAX_SAFE_ATTEMPTS = 5;

/** What the proxy reports about each finished request (telemetry plugs in here). */
export interface ExchangeObserver {
  /** The request was routed and is about to be dispatched. */
  onExchangeStart(ex: Exchange): void;
  /** The request finished (response ended, failed, reset or cancelled); called once. */
  onExchangeEnd(ex: Exchange): void;
}

/**
 * One proxied request: picks an endpoint, relays the request upstream and the
 * response downstream frame by frame, keeps the balancer's load record honest
 * (begin at dispatch, RTT at the first response byte, end exactly once after
 * the trailers or a reset), resends requests the upstream never processed,
 * and answers with the proxy's own error when nothing else can.
 *
 * Subclasses supply the downstream side (an HTTP/2 stream or an HTTP/1.1
 * response). The object is the stream handler of its upstream HTTP/2 stream,
 * so no closure is allocated per request.
 */
export abstract class Exchange implements StreamHandler, EndpointWaiter, Deadlined, H1UpstreamSink, HedgeOwner {
  // ---- request
  reqHeaders!: string[];
  isGrpc = false;
  hashKey: string | undefined = undefined;
  routeName = '';
  listenerName = '';
  path = '';
  method = '';
  startedAt = 0;
  /** The client's verified identity (SPIFFE ID or DNS name of its certificate); '' without one. */
  clientIdentity = '';
  /** Set when authorization refused the request (see refuse). */
  refusal: AuthzDenial | null = null;

  // ---- request body not yet sent upstream, and what was sent (for a resend)
  reqEnded = false;
  private reqTrailers: string[] | null = null;
  private pending: Buffer[] = [];
  private replay: Buffer[] | null = null;
  private replayBytes = 0;
  private replaySentBytes = 0;
  private consumeSkip = 0;

  // ---- upstream
  endpoint: Endpoint | null = null;
  /** The endpoint of the last attempt (kept after release, for telemetry and for avoiding it on a retry). */
  lastEndpoint: Endpoint | null = null;
  up: Http2Stream | null = null;
  /**
   * The upstream stream whose response octets are being relayed downstream.
   * Credit for them goes back through it as they leave (or are dropped), even
   * after the upstream ended: never through whichever stream is current.
   */
  private respSrc: Http2Stream | null = null;
  private h1: H1Upstream | null = null;
  private loadStart = 0;
  attempts = 0;
  private firstByteSeen = false;

  // ---- response
  responded = false;
  responseEnded = false;
  status = 0;
  grpcStatus = -1;
  /** Stable code of the proxy error answered, or ''. */
  errorCode = '';
  deadline = 0;
  private done = false;

  // ---- retries (rules compiled per route; absent = only resends of unprocessed requests)
  retry: RetryRules | undefined = undefined;
  /** The method may be sent again on failures other than never-processed ones. */
  idempotent = false;
  /** Retries (not counting never-processed resends) made so far. */
  retries = 0;
  /** Absolute deadline of the whole exchange (0 = none); `deadline` may be an earlier per-try one. */
  private routeDeadline = 0;
  /** A response held until its trailers so that a grpc-status in them can still be retried. */
  private heldHeaders: readonly string[] | null = null;
  private heldData: Buffer[] = [];
  private heldBytes = 0;
  private heldLimit = 0;
  private retryTimer: NodeJS.Timeout | undefined = undefined;
  private bufferLimit = REPLAY_LIMIT;

  // ---- hedging (idempotent routes with `hedge`)
  hedgeDelay = 0;
  hedgeMaxAttempts = 0;
  /** Hedges sent so far. */
  hedges = 0;
  private hedgeAttempts: HedgeAttempt[] | null = null;
  /** Route idleTimeout (ms; 0 = off) and its watch, made only for routes that set one. */
  idleTimeout = 0;
  private idle: IdleWatch | null = null;
  private hedgeTimer: NodeJS.Timeout | undefined = undefined;
  /** In the service's failfast queue, waiting for an endpoint to become pickable. */
  private waiting = false;

  constructor(
    readonly service: ServiceRuntime,
    protected readonly observer: ExchangeObserver | undefined,
  ) {}

  /** True when no upstream connection is needed any more. */
  get abandoned(): boolean {
    return this.done || this.responseEnded;
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
    if (this.retry !== undefined) {
      this.retry.onRequest();
      this.bufferLimit = this.retry.bufferSize;
    }
    if (timeoutMs > 0) this.routeDeadline = this.startedAt + timeoutMs;
    if (this.idleTimeout > 0) this.idle = new IdleWatch(this, this.idleTimeout);
    this.replay = [];
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
    let d = this.routeDeadline;
    const perTry = this.retry?.perTryTimeout ?? 0;
    if (perTry > 0) {
      const t = performance.now() + perTry;
      if (d === 0 || t < d) d = t;
    }
    if (d === 0) return;
    this.deadline = d;
    deadlines.add(this);
    if (this.isGrpc && this.routeDeadline > 0) this.setHeader('grpc-timeout', formatGrpcTimeout(this.routeDeadline - performance.now()));
  }

  private setHeader(name: string, value: string): void {
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
    const ep = service.pick(this.hashKey, this.lastEndpoint);
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
    this.endpoint = ep;
    this.lastEndpoint = ep;
    this.attempts++;
    this.armDeadline();
    this.firstByteSeen = false;
    this.loadStart = ep.load.begin();
    ep.requestsTotal++;
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

  onPoolConnection(connection: unknown): void {
    if (this.done) {
      this.release(false);
      return;
    }
    if (this.service.isHttp1) {
      this.h1 = (connection as { request(ex: Exchange): H1Upstream }).request(this);
      this.sendPendingH1();
      return;
    }
    const conn = connection as Http2Connection;
    const endNow = this.reqEnded && this.pending.length === 0 && this.reqTrailers === null;
    const up = conn.request(this.reqHeaders, endNow, this);
    this.up = up;
    this.respSrc = up;
    const pending = this.pending;
    if (pending.length > 0) {
      this.pending = [];
      for (let i = 0; i < pending.length; i++) {
        const last = i === pending.length - 1;
        this.keepForReplay(pending[i]!);
        up.sendData(pending[i]!, last && this.reqEnded && this.reqTrailers === null);
      }
    }
    if (this.reqTrailers !== null) up.sendTrailers(this.reqTrailers);
    if (this.hedgeDelay > 0 && this.hedgeTimer === undefined && this.hedges === 0) {
      this.hedgeTimer = setTimeout(hedgeAfterDelay, this.hedgeDelay, this);
    }
  }

  // ------------------------------------------------------------ hedging

  get replayBody(): readonly Buffer[] {
    return this.replay ?? EMPTY_LIST;
  }

  get hedgeAbandoned(): boolean {
    return this.done || this.responded || this.heldHeaders !== null;
  }

  /** The hedge delay passed without an answer: send another attempt to a different endpoint. */
  sendHedge(): void {
    this.hedgeTimer = undefined;
    if (this.done || this.responded || this.firstByteSeen || this.heldHeaders !== null) return;
    // Only a complete, replayable request can be sent twice.
    if (!this.reqEnded || this.reqTrailers !== null || this.replay === null || this.service.isHttp1) return;
    if (this.attempts + this.hedges >= this.hedgeMaxAttempts) return;
    const service = this.service;
    if (service.retriesInFlight >= service.config.circuitBreakers.maxRetries) return;
    if (this.retry !== undefined && !this.retry.tryRetry()) return;
    const ep = service.pick(this.hashKey, this.lastEndpoint);
    if (ep === undefined || ep === this.lastEndpoint) return;
    const a = new HedgeAttempt(this, ep);
    (this.hedgeAttempts ??= []).push(a);
    this.hedges++;
    service.retriesInFlight++;
    ep.pool.dispatch(a);
    if (this.attempts + this.hedges < this.hedgeMaxAttempts) this.hedgeTimer = setTimeout(hedgeAfterDelay, this.hedgeDelay, this);
  }

  adoptHedge(a: HedgeAttempt, headers: string[], endStream: boolean): void {
    this.removeHedge(a);
    this.cancelHedges();
    // The first attempt lost: cancel it; its endpoint did nothing wrong.
    if (this.up !== null) {
      this.up.reset(ErrorCode.CANCEL);
      this.up = null;
    }
    this.release(false);
    const s = a.stream!;
    s.handler = this;
    this.up = s;
    this.respSrc = s;
    // The hedge's copy of the body was credited to the client when first sent: skip what is still queued.
    this.consumeSkip += s.queuedBytes;
    this.endpoint = a.endpoint;
    this.lastEndpoint = a.endpoint;
    this.loadStart = a.loadStart;
    this.firstByteSeen = false;
    this.upstreamHeaders(headers, endStream);
  }

  hedgeFailed(a: HedgeAttempt): void {
    this.removeHedge(a);
    if (!this.done && this.up === null && this.endpoint === null && (this.hedgeAttempts === null || this.hedgeAttempts.length === 0)) {
      this.fail(ProxyErrors.UPSTREAM_RESET);
    }
  }

  private removeHedge(a: HedgeAttempt): void {
    const list = this.hedgeAttempts;
    if (list === null) return;
    const i = list.indexOf(a);
    if (i >= 0) {
      list.splice(i, 1);
      this.service.retriesInFlight--;
    }
  }

  private cancelHedges(): void {
    if (this.hedgeTimer !== undefined) {
      clearTimeout(this.hedgeTimer);
      this.hedgeTimer = undefined;
    }
    const list = this.hedgeAttempts;
    if (list === null || list.length === 0) return;
    this.hedgeAttempts = null;
    for (const a of list) {
      a.cancel();
      this.service.retriesInFlight--;
    }
  }

  onPoolConnectFailed(): void {
    // Nothing was sent: always safe to try another endpoint.
    this.release(true, true);
    if (this.done) return;
    if (this.attempts < MAX_SAFE_ATTEMPTS) this.dispatch();
    else this.fail(ProxyErrors.CONNECT_FAILED);
  }

  /**
   * Keeps request body octets for a resend. Over HTTP/2 the limit counts octets
   * that actually left for the endpoint (onDataSent), not those still queued
   * behind its window: a request refused after one window (REFUSED_STREAM, or
   * above a GOAWAY's last stream id) can then be resent whole, though the client
   * was faster than the endpoint. Queued octets are held anyway, and are bounded
   * by the client's own flow control. HTTP/1.1 upstreams take the body at once.
   */
  private keepForReplay(d: Buffer): void {
    if (this.replay === null) return;
    this.replayBytes += d.length;
    if (this.service.isHttp1 && this.replayBytes > this.bufferLimit) this.replay = null;
    else this.replay.push(d);
  }

  /** `n` request octets left for the endpoint over HTTP/2: past the replay limit, the body can no longer be resent. */
  private replaySent(n: number): void {
    if (this.replay === null) return;
    this.replaySentBytes += n;
    if (this.replaySentBytes > this.bufferLimit) this.replay = null;
  }

  /** Resends a request the upstream did not process (§8.7), if its body is still at hand. */
  private resend(): boolean {
    if (this.attempts >= MAX_SAFE_ATTEMPTS) return false;
    if (this.replay === null) return false;
    // Already consumed downstream once: do not return that credit twice.
    this.consumeSkip += this.replayBytes;
    this.pending = this.replay.concat(this.pending);
    this.replay = [];
    this.replayBytes = 0;
    this.replaySentBytes = 0;
    this.dispatch();
    return true;
  }

  // ------------------------------------------------------------ request events (from the downstream)

  protected clientData(d: Buffer, endStream: boolean): void {
    if (this.idle !== null) this.idle.touch();
    if (endStream) this.reqEnded = true;
    const up = this.up;
    if (up !== null) {
      this.keepForReplay(d);
      up.sendData(d, endStream);
      return;
    }
    if (this.h1 !== null) {
      this.keepForReplay(d);
      this.h1.write(d, endStream);
      return;
    }
    if (this.done || this.responseEnded) {
      this.downConsume(d.length);
      return;
    }
    this.pending.push(d);
  }

  protected clientTrailers(t: string[]): void {
    this.reqEnded = true;
    if (this.up !== null) this.up.sendTrailers(t);
    else if (this.h1 !== null) this.h1.write(EMPTY, true);
    else this.reqTrailers = t;
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
    this.release(false);
    this.finish();
  }

  // ------------------------------------------------------------ StreamHandler (upstream stream; downstream for H2)

  onHeaders(s: Http2Stream, h: string[], endStream: boolean): void {
    if (s !== this.up) return;
    this.upstreamHeaders(h, endStream);
  }

  onData(s: Http2Stream, d: Buffer, endStream: boolean): void {
    if (s === this.up) {
      this.upstreamData(d, endStream);
    } else if (s === this.downStream) {
      this.clientData(d, endStream);
    } else {
      s.consume(d.length);
    }
  }

  onTrailers(s: Http2Stream, t: string[]): void {
    if (s === this.up) this.upstreamTrailers(t);
    else if (s === this.downStream) this.clientTrailers(t);
  }

  onReset(s: Http2Stream, code: number, reason: number): void {
    if (s === this.up) this.upstreamReset(code, reason);
    else if (s === this.downStream) this.clientReset();
  }

  onDataSent(s: Http2Stream, n: number): void {
    if (s === this.downStream) {
      this.responseConsumed(n);
    } else {
      // Request bytes went upstream: the client may send that much more.
      this.replaySent(n);
      this.requestBodyTaken(n);
    }
  }

  /**
   * Nothing moved on one of its streams for the connection's streamIdleTimeout
   * (Envoy's stream idle timeout): answer 504 / DEADLINE_EXCEEDED, or cut the
   * response short if it started. The engine resets the stream if it is still idle after a grace period.
   */
  onIdle(): void {
    if (!this.done) this.fail(ProxyErrors.TIMEOUT);
  }

  /**
   * Queued octets that will never leave (the stream was reset or closed):
   * credited to their source exactly as if they had been sent.
   */
  onDataDropped(s: Http2Stream, n: number): void {
    if (s === this.downStream) this.responseConsumed(n);
    else this.requestBodyTaken(n);
  }

  /** Response bytes went to the client: take that much more from upstream (end-to-end back-pressure). */
  protected responseConsumed(n: number): void {
    const src = this.respSrc;
    if (src !== null) src.consume(n);
    else if (this.h1 !== null) this.h1.resume(n);
  }

  // ------------------------------------------------------------ response events (either upstream protocol)

  upstreamHeaders(h: readonly string[], endStream: boolean): void {
    if (this.idle !== null) this.idle.touch();
    if (!this.firstByteSeen && this.endpoint !== null) {
      this.firstByteSeen = true;
      this.endpoint.load.observeRtt(this.loadStart);
    }
    const status = h[0] === ':status' ? statusOf(h[1]!) : 0;
    if (status < 200 && status > 0) {
      this.downHeaders(h, false);
      return;
    }
    this.status = status;
    if (this.hedgeAttempts !== null || this.hedgeTimer !== undefined) this.cancelHedges();
    if (endStream && this.isGrpc) this.grpcStatus = grpcStatusOf(h);
    const retry = this.retry;
    if (retry !== undefined) {
      if (matchesRetryConditions(retry.on, status, endStream ? this.grpcStatus : -1) && this.retryAttempt()) return;
      if (!endStream && this.isGrpc && (retry.on & RETRY_ON_GRPC_STATUS) !== 0 && this.attempts < retry.attempts) {
        // Hold the response until its trailers (or until it is clearly a stream):
        // a grpc-status in trailers can then still be retried (Envoy only reads headers).
        this.heldHeaders = h;
        this.heldLimit = retry.bufferSize;
        return;
      }
    }
    this.responded = true;
    this.downHeaders(h, endStream);
    if (endStream) this.upstreamEnded();
  }

  upstreamData(d: Buffer, endStream: boolean): void {
    if (this.idle !== null) this.idle.touch();
    if (this.heldHeaders !== null) {
      this.heldData.push(d);
      this.heldBytes += d.length;
      // One gRPC message fits the hold; a second one means a stream: stop holding it back.
      if (this.heldBytes > this.heldLimit || endStream || this.heldBytes > firstMessageEnd(this.heldData)) this.releaseHeld();
      else return;
      if (endStream) this.upstreamEnded();
      return;
    }
    this.downData(d, endStream);
    if (endStream) this.upstreamEnded();
  }

  upstreamTrailers(t: readonly string[]): void {
    if (this.isGrpc) this.grpcStatus = grpcStatusOf(t);
    if (this.heldHeaders !== null) {
      if (matchesRetryConditions(this.retry!.on, this.status, this.grpcStatus)) {
        const h = this.heldHeaders;
        this.heldHeaders = null;
        if (this.retryAttempt()) return;
        this.heldHeaders = h;
      }
      this.releaseHeld();
    }
    this.downTrailers(t);
    this.upstreamEnded();
  }

  /** Sends a held response on to the client; no retry is possible from here on. */
  private releaseHeld(): void {
    const h = this.heldHeaders!;
    this.heldHeaders = null;
    this.responded = true;
    this.downHeaders(h, false);
    const data = this.heldData;
    this.heldData = [];
    this.heldBytes = 0;
    for (let i = 0; i < data.length; i++) this.downData(data[i]!, false);
  }

  /** Drops a held response that will never be sent; its octets are credited to the stream they came from. */
  private discardHeld(): void {
    const n = this.heldBytes;
    this.heldHeaders = null;
    this.heldData = [];
    this.heldBytes = 0;
    if (n > 0 && this.respSrc !== null) this.respSrc.consume(n);
  }

  /**
   * Abandons the current attempt and schedules another, if the route allows
   * one now: attempts left, the body still at hand, a method that may be
   * repeated, time left, the service's retry breaker and the retry budget.
   */
  private retryAttempt(): boolean {
    const retry = this.retry;
    if (retry === undefined || this.done || this.responded) return false;
    if (this.attempts >= retry.attempts || this.replay === null) return false;
    if (!this.isGrpc && !this.idempotent && !retry.nonIdempotent) return false;
    const now = performance.now();
    const delay = retry.backoff(this.retries + 1);
    if (this.routeDeadline > 0 && now + delay >= this.routeDeadline) return false;
    const service = this.service;
    if (service.retriesInFlight >= service.config.circuitBreakers.maxRetries) return false;
    if (!retry.tryRetry()) return false;
    this.discardHeld();
    this.cancelUpstream();
    this.release(true, true);
    // The next dispatch arms a fresh deadline; stale wheel entries must not fire meanwhile.
    this.deadline = 0;
    this.retries++;
    service.retriesInFlight++;
    this.status = 0;
    this.grpcStatus = -1;
    if (this.isGrpc) this.setHeader('grpc-previous-rpc-attempts', String(this.attempts));
    this.retryTimer = setTimeout(retryAfterBackoff, delay, this);
    return true;
  }

  /** Runs a scheduled retry (from a timer; a plain function so no closure is made). */
  runRetry(): void {
    this.retryTimer = undefined;
    this.service.retriesInFlight--;
    if (this.done) return;
    if (!this.resend()) this.fail(ProxyErrors.UPSTREAM_RESET);
  }

  private upstreamReset(code: number, reason: number): void {
    this.up = null;
    if (this.done) return;
    if (!this.responded && reason === ResetReason.UNPROCESSED) {
      // §8.7: the upstream did not process it (GOAWAY or REFUSED_STREAM): send it again.
      this.release(false);
      if (this.resend()) return;
      this.fail(ProxyErrors.UPSTREAM_RESET);
      return;
    }
    if (!this.responded && this.hedgeAttempts !== null && this.hedgeAttempts.length > 0) {
      // A hedge is still out: let it answer.
      this.release(true, true);
      return;
    }
    if (!this.responded && this.heldHeaders === null && this.retry !== undefined && (this.retry.on & (RetryOn.RESET | RetryOn.GRPC_UNAVAILABLE)) !== 0) {
      if (this.retryAttempt()) return;
    }
    if (this.heldHeaders !== null) this.releaseHeld();
    this.release(true, true);
    if (!this.responded) {
      this.fail(
        reason === ResetReason.CONNECTION_LOST ? ProxyErrors.CONNECTION_LOST
          : reason === ResetReason.PROTOCOL_ERROR ? ProxyErrors.UPSTREAM_PROTOCOL
          : ProxyErrors.UPSTREAM_RESET,
      );
      return;
    }
    // Mid-response: the client sees the stream end abnormally (gRPC clients map CANCEL to CANCELLED, others to INTERNAL).
    if (this.isGrpc && this.grpcStatus < 0) this.grpcStatus = code === ErrorCode.CANCEL ? GrpcStatus.CANCELLED : GrpcStatus.INTERNAL;
    this.downReset(code === ErrorCode.CANCEL || code === ErrorCode.REFUSED_STREAM ? ErrorCode.CANCEL : ErrorCode.INTERNAL_ERROR);
    this.finish();
  }

  /** Request body bytes left for the upstream: credit the client (skipping bytes it was already credited for before a resend). */
  requestBodyTaken(n: number): void {
    let skip = this.consumeSkip;
    if (skip > 0) {
      if (skip > n) skip = n;
      this.consumeSkip -= skip;
      n -= skip;
      if (n === 0) return;
    }
    this.downConsume(n);
  }

  /** HTTP/1.1 upstream failed before or during the response. */
  upstreamFailed(connectFailure: boolean): void {
    this.h1 = null;
    if (this.done) return;
    if (connectFailure && !this.responded) {
      this.onPoolConnectFailed();
      return;
    }
    // A lost connection before any response is a reset: retried where the route says so, as over HTTP/2.
    if (!this.responded && this.retry !== undefined && (this.retry.on & RetryOn.RESET) !== 0 && this.retryAttempt()) return;
    this.release(true, true);
    if (!this.responded) this.fail(ProxyErrors.CONNECTION_LOST);
    else {
      this.downReset(ErrorCode.INTERNAL_ERROR);
      this.finish();
    }
  }

  private upstreamEnded(): void {
    this.responseEnded = true;
    const up = this.up;
    this.up = null;
    // §8.1: the response is complete before the request was sent in full (an
    // early 413 or 401): stop sending upstream; the queued request octets are
    // credited back to the client (onDataDropped), so nothing stalls on them.
    if (up !== null && !up.closed) up.reset(ErrorCode.CANCEL);
    if (!this.reqEnded) this.requestCutShort();
    this.h1 = null;
    // Fast failures feed the latency estimate as a penalty, never as a fast sample.
    this.release(isFailureStatus(this.status, this.grpcStatus), true);
    this.finish();
  }


  private sendPendingH1(): void {
    const h1 = this.h1!;
    const pending = this.pending;
    this.pending = [];
    for (let i = 0; i < pending.length; i++) {
      this.keepForReplay(pending[i]!);
      h1.write(pending[i]!, i === pending.length - 1 && this.reqEnded);
    }
    if (pending.length === 0 && this.reqEnded) h1.write(EMPTY, true);
  }

  // ------------------------------------------------------------ ends

  /** Cancels the upstream request of the current attempt, if any (RST_STREAM CANCEL, or an aborted HTTP/1.1 request). */
  private cancelUpstream(): void {
    if (this.up !== null) {
      this.up.reset(ErrorCode.CANCEL);
      this.up = null;
    }
    if (this.h1 !== null) {
      this.h1.abort();
      this.h1 = null;
    }
  }

  /**
   * Releases the endpoint's load record (exactly once per dispatch). `outcome`
   * marks a real answer of the endpoint (success or failure) for outlier
   * detection; client cancels and never-processed requests are not outcomes.
   */
  private release(failed: boolean, outcome = false): void {
    const ep = this.endpoint;
    if (ep === null) return;
    this.endpoint = null;
    ep.load.end(this.loadStart, failed);
    if (failed) ep.failuresTotal++;
    if (outcome) ep.recordOutcome(failed);
  }

  /** Answers with the proxy's own error (or resets, if the response already started). */
  fail(kind: ProxyErrorKind): void {
    if (this.done) return;
    this.cancelUpstream();
    this.release(kind === ProxyErrors.TIMEOUT, kind === ProxyErrors.TIMEOUT);
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

  onDeadline(): void {
    if (this.done) return;
    const now = performance.now();
    if (this.routeDeadline === 0 || now < this.routeDeadline) {
      // A per-try timeout: abandon this attempt and try another endpoint if allowed.
      if (this.endpoint !== null && this.retryAttempt()) return;
      if (this.routeDeadline !== 0) {
        this.deadline = this.routeDeadline;
        deadlines.add(this);
        if (this.endpoint === null) return;
      }
    }
    // A held response never reached the client: answer DEADLINE_EXCEEDED / 504 instead.
    this.discardHeld();
    this.fail(ProxyErrors.TIMEOUT);
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.deadline = 0;
    this.service.inflight--;
    if (this.waiting) {
      this.waiting = false;
      this.service.failfast.remove(this);
    }
    if (this.pending.length > 0) {
      // Request octets that never went upstream: credit the client for them.
      const pending = this.pending;
      this.pending = [];
      let n = 0;
      for (let i = 0; i < pending.length; i++) n += pending[i]!.length;
      this.requestBodyTaken(n);
    }
    if (this.hedgeAttempts !== null || this.hedgeTimer !== undefined) this.cancelHedges();
    if (this.retryTimer !== undefined) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      this.service.retriesInFlight--;
    }
    this.observer?.onExchangeEnd(this);
  }

  get finished(): boolean {
    return this.done;
  }
}

const EMPTY = Buffer.alloc(0);

const EMPTY_LIST: readonly Buffer[] = [];


function hedgeAfterDelay(ex: Exchange): void {
  ex.sendHedge();
}

function retryAfterBackoff(ex: Exchange): void {
  ex.runRetry();
}
