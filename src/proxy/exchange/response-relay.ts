import { ErrorCode, ResetReason } from '../../http2/index.js';
import { GrpcStatus, ProxyErrors } from '../../errors.js';
import { deadlines } from '../deadlines.js';
import { RETRY_ON_GRPC_STATUS, RetryOn } from '../policy-hooks.js';
import { grpcStatusOf, isFailureStatus, matchesRetryConditions, statusOf } from '../response-status.js';
import { attemptFirstByte, endAttempt, takeAttempt } from './attempt-load.js';
import { Exchange } from './exchange.js';
import type { HedgeAttempt } from './hedge.js';
import { HeldResponse, retryDelay } from './retry.js';
import { UpstreamReset, type UpstreamRequest } from './upstream.js';

/**
 * What comes back from the endpoint, and what the exchange does about it:
 * the response relayed downstream (1xx, headers, data, trailers), a gRPC
 * response held for a retry on its trailers, retries, resends of requests
 * the endpoint never processed (§8.7), resets, deadlines, and a winning
 * hedge taking over. Events of the upstream request arrive here, and those
 * of the downstream HTTP/2 stream too (the object is the handler of both).
 */
export abstract class RelayingExchange extends Exchange {
  // ------------------------------------------------------------ hedging (hedge.ts)

  override get hedgeAbandoned(): boolean {
    return this.done || this.responded || this.held !== null;
  }

  override adoptHedge(a: HedgeAttempt, headers: string[], endStream: boolean): void {
    this.hedging!.won(a);
    // The first attempt lost: cancel it; its endpoint did nothing wrong.
    if (this.up !== null) {
      this.up.reset(ErrorCode.CANCEL);
      this.up = null;
    }
    endAttempt(this, false, false);
    const r = a.req!;
    r.handler = this;
    this.up = r;
    this.respSrc = r;
    // The hedge's copy of the body was credited to the client when first sent: skip what is still queued.
    this.body.skipCredit(r.queuedBytes);
    this.lastEndpoint = a.endpoint;
    takeAttempt(this, a);
    this.upstreamHeaders(headers, endStream);
  }

  override hedgeFailed(outstanding: number): void {
    if (!this.done && this.up === null && this.endpoint === null && outstanding === 0) this.fail(ProxyErrors.UPSTREAM_RESET);
  }

  // ------------------------------------------------------------ UpstreamHandler (and StreamHandler of the downstream HTTP/2 stream)

  override onHeaders(s: UpstreamRequest, h: string[], endStream: boolean): void {
    if (s !== this.up) return;
    this.upstreamHeaders(h, endStream);
  }

  override onData(s: UpstreamRequest, d: Buffer, endStream: boolean): void {
    if (s === this.up) {
      this.upstreamData(d, endStream);
    } else if (s === this.downStream) {
      this.clientData(d, endStream);
    } else {
      s.consume(d.length);
    }
  }

  override onTrailers(s: UpstreamRequest, t: string[]): void {
    if (s === this.up) this.upstreamTrailers(t);
    else if (s === this.downStream) this.clientTrailers(t);
  }

  override onReset(s: UpstreamRequest, code: number, reason: number): void {
    if (s === this.up) this.upstreamReset(code, reason);
    else if (s === this.downStream) this.clientReset();
  }

  override onDataSent(s: UpstreamRequest, n: number): void {
    if (s === this.downStream) {
      this.responseConsumed(n);
    } else {
      // Request bytes went upstream: the client may send that much more.
      this.body.sent(n);
      this.requestBodyTaken(n);
    }
  }

  /**
   * Queued octets that will never leave (the request was reset or closed):
   * credited to their source exactly as if they had been sent.
   */
  onDataDropped(s: UpstreamRequest, n: number): void {
    if (s === this.downStream) this.responseConsumed(n);
    else this.requestBodyTaken(n);
  }

  /**
   * Nothing moved on one of its streams for the connection's streamIdleTimeout
   * (Envoy's stream idle timeout): answer 504 / DEADLINE_EXCEEDED, or cut the
   * response short if it started. The engine resets the stream if it is still idle after a grace period.
   */
  onIdle(): void {
    if (!this.done) this.fail(ProxyErrors.TIMEOUT);
  }

  // ------------------------------------------------------------ response events

  private upstreamHeaders(h: readonly string[], endStream: boolean): void {
    if (this.idle !== null) this.idle.touch();
    attemptFirstByte(this);
    if (this.service.orca !== null && this.service.orca.inband) this.service.orca.observe(this.endpoint, h);
    const status = h[0] === ':status' ? statusOf(h[1]!) : 0;
    if (status < 200 && status > 0) {
      this.downHeaders(h, false);
      return;
    }
    this.status = status;
    if (this.hedging !== null) this.hedging.cancel();
    if (endStream && this.isGrpc) this.grpcStatus = grpcStatusOf(h);
    const retry = this.route.retry;
    if (retry !== undefined) {
      if (matchesRetryConditions(retry.on, status, endStream ? this.grpcStatus : -1) && this.retryAttempt()) return;
      if (!endStream && this.isGrpc && (retry.on & RETRY_ON_GRPC_STATUS) !== 0 && this.attempts < retry.attempts) {
        this.held = new HeldResponse(h, retry.bufferSize);
        return;
      }
    }
    this.responded = true;
    this.downHeaders(h, endStream);
    if (endStream) this.upstreamEnded();
  }

  private upstreamData(d: Buffer, endStream: boolean): void {
    if (this.idle !== null) this.idle.touch();
    const held = this.held;
    if (held !== null) {
      if (!held.add(d, endStream)) return;
      this.releaseHeld(held);
    } else {
      this.responseBytes += d.length;
      this.downData(d, endStream);
    }
    if (endStream) this.upstreamEnded();
  }

  private upstreamTrailers(t: readonly string[]): void {
    if (this.isGrpc) this.grpcStatus = grpcStatusOf(t);
    if (this.service.orca !== null && this.service.orca.inband) this.service.orca.observe(this.endpoint, t);
    const held = this.held;
    if (held !== null) {
      // retryAttempt() drops the held response when it retries.
      if (matchesRetryConditions(this.route.retry!.on, this.status, this.grpcStatus) && this.retryAttempt()) return;
      this.releaseHeld(held);
    }
    this.downTrailers(t);
    this.upstreamEnded();
  }

  /** Sends a held response on to the client; no retry is possible from here on. */
  private releaseHeld(held: HeldResponse): void {
    this.held = null;
    this.responded = true;
    this.downHeaders(held.headers, false);
    const data = held.data;
    for (let i = 0; i < data.length; i++) {
      this.responseBytes += data[i]!.length;
      this.downData(data[i]!, false);
    }
  }

  /** Drops a held response that will never be sent; its octets are credited to the request they came from. */
  private discardHeld(): void {
    const held = this.held;
    if (held === null) return;
    this.held = null;
    if (held.bytes > 0 && this.respSrc !== null) this.respSrc.consume(held.bytes);
  }

  /** Abandons the current attempt and schedules another, if the route allows one now (retry.ts). */
  private retryAttempt(): boolean {
    const retry = this.route.retry;
    if (retry === undefined || this.done || this.responded) return false;
    const delay = retryDelay(retry, this, performance.now());
    if (delay < 0) return false;
    this.discardHeld();
    this.cancelUpstream();
    endAttempt(this, true, true);
    // The next dispatch arms a fresh deadline; stale wheel entries must not fire meanwhile.
    this.deadline = 0;
    this.retries++;
    this.service.retriesInFlight++;
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
    if (!this.responded && reason === UpstreamReset.CONNECT_FAILED) {
      // Nothing reached the endpoint (an HTTP/1.1 connect failure): another endpoint may take it.
      endAttempt(this, true, true);
      if (!this.resend()) this.fail(ProxyErrors.CONNECT_FAILED);
      return;
    }
    if (!this.responded && reason === ResetReason.UNPROCESSED) {
      // §8.7: the upstream did not process it (GOAWAY or REFUSED_STREAM): send it again.
      endAttempt(this, false, false);
      if (this.resend()) return;
      this.fail(ProxyErrors.UPSTREAM_RESET);
      return;
    }
    if (!this.responded && this.hedging !== null && this.hedging.outstanding > 0) {
      // A hedge is still out: let it answer.
      endAttempt(this, true, true);
      return;
    }
    const retry = this.route.retry;
    if (!this.responded && this.held === null && retry !== undefined && (retry.on & (RetryOn.RESET | RetryOn.GRPC_UNAVAILABLE)) !== 0) {
      if (this.retryAttempt()) return;
    }
    if (this.held !== null) this.releaseHeld(this.held);
    endAttempt(this, true, true);
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

  private upstreamEnded(): void {
    this.responseEnded = true;
    const up = this.up;
    this.up = null;
    // §8.1: the response is complete before the request was sent in full (an
    // early 413 or 401): stop sending upstream; the queued request octets are
    // credited back to the client (onDataDropped), so nothing stalls on them.
    if (up !== null && !up.closed) up.reset(ErrorCode.CANCEL);
    if (!this.body.ended) this.requestCutShort();
    // Fast failures feed the latency estimate as a penalty, never as a fast sample.
    endAttempt(this, isFailureStatus(this.status, this.grpcStatus), true);
    this.finish();
  }

  override onDeadline(): void {
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
}

function retryAfterBackoff(ex: RelayingExchange): void {
  ex.runRetry();
}
