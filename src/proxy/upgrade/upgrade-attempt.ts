import type net from 'node:net';
import { ErrorCode, ResetReason, type Http2Connection, type Http2Stream, type StreamHandler } from '../../http2/index.js';
import { GrpcStatus, ProxyErrors, type ProxyErrorKind } from '../../errors.js';
import type { Endpoint } from '../endpoint.js';
import type { ExchangeObserver, ObservedExchange } from '../exchange/observed-exchange.js';
import type { EndpointWaiter, ServiceRuntime } from '../service-runtime.js';
import { H1Handshake, type H1HandshakeSink } from './h1-handshake.js';
import type { ResponseHead } from './response-head.js';
import { Tunnel, type TunnelOwner } from './tunnel.js';
import { upgradeRecord } from './upgrade-counters.js';

/** Endpoints tried for one upgrade when connecting fails (nothing reached them, so another is always safe). */
const MAX_ATTEMPTS = 3;

/** The client's side of an upgrade: what to send upstream, and where the answer goes. */
export interface UpgradeClient {
  /** The request head (and any early bytes) for an HTTP/1.1 endpoint. */
  h1Request(): Buffer;
  /** The extended CONNECT's headers for an HTTP/2 endpoint (RFC 8441 §4), or null when this upgrade cannot go over HTTP/2. */
  h2Request(): string[] | null;
  /** An HTTP/1.1 endpoint answered (101 or another final status). */
  onH1Answer(a: UpgradeAttempt, socket: net.Socket, head: ResponseHead, rest: Buffer): void;
  /** An HTTP/2 endpoint answered the extended CONNECT (2xx opens the tunnel). */
  onH2Answer(a: UpgradeAttempt, stream: Http2Stream, headers: string[], endStream: boolean): void;
  /** No answer from an endpoint: the proxy's own error goes to the client. */
  onFailed(kind: ProxyErrorKind): void;
}

/** Where an upgrade was routed (names for the counters, the route's tunnel settings) and what telemetry reports of it. */
export interface UpgradeRoute {
  readonly listener: string;
  readonly route: string;
  /** The requested protocol, lower case (`websocket`). */
  readonly protocol: string;
  readonly idleTimeout: number;
  readonly hashKey: string | undefined;
  readonly observer: ExchangeObserver | undefined;
  /** `GET` (HTTP/1.1 Upgrade) or `CONNECT` (RFC 8441). */
  readonly method: string;
  readonly path: string;
  /** The request's fields, pseudo-fields first (telemetry may add x-request-id). */
  readonly headers: string[];
  readonly clientIdentity: string;
  readonly clientAddress: string | undefined;
}

/**
 * Finds the endpoint for one upgrade, like any request: the service's
 * balancer picks it (avoiding one that just failed), its load record begins
 * at dispatch, and connect failures move on to another endpoint. An
 * HTTP/1.1 service gets the upgrade request on a connection of its own
 * (H1Handshake); an HTTP/2 service an extended CONNECT on the endpoint's
 * pooled connection, if that connection's SETTINGS allowed it (RFC 8441 §3).
 * With no pickable endpoint it waits in the service's failfast queue like a
 * request (a WebSocket opened during a rollout must not fail while requests
 * succeed), up to `failfast.timeout`.
 *
 * The answer goes to the client side, which makes the Tunnel (handing it the
 * load record) or answers and ends the attempt. Telemetry observes it like a
 * request: at the start, and once at the end, which for a tunnel is when it
 * closes (its byte counts are read then, never per chunk).
 */
export class UpgradeAttempt implements EndpointWaiter, StreamHandler, H1HandshakeSink, TunnelOwner, ObservedExchange {
  private endpoint: Endpoint | null = null;
  lastEndpoint: Endpoint | null = null;
  private loadStart = 0;
  attempts = 0;
  private done = false;
  private handshake: H1Handshake | null = null;
  private up: Http2Stream | null = null;
  /** In the service's failfast queue, waiting for an endpoint to become pickable. */
  private waiting = false;

  // ---- ObservedExchange
  startedAt = 0;
  status = 0;
  grpcStatus = -1;
  errorCode = '';
  requestBytes = 0;
  responseBytes = 0;
  readonly refusal = null;
  readonly hedges = 0;
  readonly isGrpc = false;

  constructor(
    readonly service: ServiceRuntime,
    private readonly client: UpgradeClient,
    private readonly route: UpgradeRoute,
  ) {}

  get abandoned(): boolean {
    return this.done;
  }

  get listenerName(): string {
    return this.route.listener;
  }

  get routeName(): string {
    return this.route.route;
  }

  get method(): string {
    return this.route.method;
  }

  get path(): string {
    return this.route.path;
  }

  get reqHeaders(): string[] {
    return this.route.headers;
  }

  get clientIdentity(): string {
    return this.route.clientIdentity;
  }

  get clientAddress(): string | undefined {
    return this.route.clientAddress;
  }

  get upgrade(): string {
    return this.route.protocol;
  }

  start(): void {
    this.startedAt = performance.now();
    this.route.observer?.onExchangeStart(this);
    const service = this.service;
    service.inflight++;
    if (service.inflight > service.config.circuitBreakers.maxRequests) return this.fail(ProxyErrors.OVERLOADED);
    if (!service.isHttp1 && this.client.h2Request() === null) return this.fail(ProxyErrors.UPGRADE_UNSUPPORTED);
    this.dispatch();
  }

  private dispatch(): void {
    const service = this.service;
    const ep = service.pick(this.route.hashKey, this.lastEndpoint);
    if (ep === undefined) {
      if (service.failfastMode) this.fail(ProxyErrors.NO_ENDPOINT);
      else if (!service.failfast.enqueue(this)) this.fail(ProxyErrors.QUEUE_FULL);
      else this.waiting = true;
      return;
    }
    this.endpoint = ep;
    this.lastEndpoint = ep;
    this.attempts++;
    this.loadStart = ep.load.begin();
    ep.requestsTotal++;
    if (service.isHttp1) this.handshake = new H1Handshake(service, ep, this.client.h1Request(), this);
    else ep.pool.dispatch(this);
  }

  /** Failfast queue: an endpoint is pickable again. */
  onReady(): void {
    this.waiting = false;
    if (!this.done) this.dispatch();
  }

  /** Failfast queue: waited too long. From now on the service fails requests at once (as Exchange does). */
  onTimeout(): void {
    this.waiting = false;
    if (this.done) return;
    this.service.failfastMode = true;
    this.fail(ProxyErrors.QUEUE_TIMEOUT);
  }

  // ------------------------------------------------------------ HTTP/2 endpoints

  onPoolConnection(connection: unknown): void {
    if (this.done) {
      this.release(false);
      return;
    }
    const conn = connection as Http2Connection;
    // RFC 8441 §3: extended CONNECT only to a peer that said SETTINGS_ENABLE_CONNECT_PROTOCOL = 1.
    if (conn.peerSettings.enableConnectProtocol !== 1) return this.fail(ProxyErrors.UPGRADE_UNSUPPORTED);
    this.up = conn.request(this.client.h2Request()!, false, this);
  }

  onPoolConnectFailed(): void {
    this.release(true);
    if (this.done) return;
    if (this.attempts < MAX_ATTEMPTS) this.dispatch();
    else this.fail(ProxyErrors.CONNECT_FAILED);
  }

  onHeaders(s: Http2Stream, h: string[], endStream: boolean): void {
    if (s !== this.up || this.done) return;
    // Interim responses (RFC 9110 §15.2) are not the answer.
    if (h[0] === ':status' && h[1]!.charCodeAt(0) === 0x31) return;
    this.up = null;
    this.endpoint!.load.observeRtt(this.loadStart);
    this.client.onH2Answer(this, s, h, endStream);
  }

  onData(s: Http2Stream, d: Buffer): void {
    s.consume(d.length);
  }

  onTrailers(): void {}

  onDataSent(): void {}

  onReset(s: Http2Stream, _code: number, reason: number): void {
    if (s !== this.up) return;
    this.up = null;
    if (this.done) return;
    if (reason === ResetReason.UNPROCESSED && this.attempts < MAX_ATTEMPTS) {
      // RFC 9113 §8.7: the endpoint did not process it (GOAWAY, REFUSED_STREAM): another may.
      this.release(false);
      this.dispatch();
      return;
    }
    this.release(true);
    this.fail(
      reason === ResetReason.CONNECTION_LOST ? ProxyErrors.CONNECTION_LOST
        : reason === ResetReason.PROTOCOL_ERROR ? ProxyErrors.UPSTREAM_PROTOCOL
        : ProxyErrors.UPSTREAM_RESET,
    );
  }

  // ------------------------------------------------------------ HTTP/1.1 endpoints

  h1Answer(socket: net.Socket, head: ResponseHead, rest: Buffer): void {
    this.handshake = null;
    if (this.done) {
      socket.destroy();
      return;
    }
    this.endpoint!.load.observeRtt(this.loadStart);
    this.client.onH1Answer(this, socket, head, rest);
  }

  h1Failed(connectFailure: boolean, malformed: boolean): void {
    this.handshake = null;
    this.release(true);
    if (this.done) return;
    if (connectFailure && this.attempts < MAX_ATTEMPTS) return this.dispatch();
    this.fail(malformed ? ProxyErrors.UPSTREAM_PROTOCOL : connectFailure ? ProxyErrors.CONNECT_FAILED : ProxyErrors.CONNECTION_LOST);
  }

  // ------------------------------------------------------------ ends

  /**
   * The endpoint answered and the connection becomes a tunnel: the tunnel
   * takes over the load record and the in-flight count. `counted`: a
   * switch (101 / 2xx) rather than a refusal relayed on the same path.
   */
  tunnel(counted: boolean, status: number): Tunnel {
    const ep = this.endpoint!;
    this.endpoint = null;
    this.done = true;
    this.status = status;
    const r = this.route;
    const record = counted ? upgradeRecord(r.listener, r.route, this.service.name, r.protocol) : null;
    return new Tunnel(this, this.service, ep, this.loadStart, record, r.idleTimeout);
  }

  tunnelClosed(t: Tunnel): void {
    this.requestBytes = t.bytesUpstream;
    this.responseBytes = t.bytesDownstream;
    this.route.observer?.onExchangeEnd(this);
  }

  /** The client was answered `status` without a tunnel (the endpoint's refusal, or its answer was unusable: `failed`). */
  answered(failed: boolean, status: number): void {
    this.status = status;
    this.release(failed);
    this.finish();
  }

  /** The endpoint's answer cannot be used (`kind`): the proxy's error goes to the client instead. */
  answerUnusable(kind: ProxyErrorKind): void {
    this.release(true);
    this.fail(kind);
  }

  /** The client went away before the answer: cancel what is under way upstream. */
  cancel(): void {
    if (this.done) return;
    // As for a request: giving up while no endpoint could take it is an outage, not a neutral cancel.
    if (this.waiting) this.errorCode = ProxyErrors.NO_ENDPOINT.code;
    // The client cancelled (Exchange's convention for any request without a status).
    else this.grpcStatus = GrpcStatus.CANCELLED;
    this.handshake?.abort();
    this.handshake = null;
    if (this.up !== null) {
      this.up.reset(ErrorCode.CANCEL);
      this.up = null;
    }
    this.release(false);
    this.finish();
  }

  private fail(kind: ProxyErrorKind): void {
    if (this.done) return;
    this.errorCode = kind.code;
    this.status = kind.httpStatus;
    this.release(false);
    this.finish();
    this.client.onFailed(kind);
  }

  private release(failed: boolean): void {
    const ep = this.endpoint;
    if (ep === null) return;
    this.endpoint = null;
    ep.load.end(this.loadStart, failed);
    if (failed) ep.failuresTotal++;
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.service.inflight--;
    if (this.waiting) {
      this.waiting = false;
      this.service.failfast.remove(this);
    }
    this.route.observer?.onExchangeEnd(this);
  }
}
