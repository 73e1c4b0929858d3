import type net from 'node:net';
import { ErrorCode, ResetReason, type Http2Connection, type Http2Stream, type StreamHandler } from '../../http2/index.js';
import { ProxyErrors, type ProxyErrorKind } from '../../errors.js';
import type { Endpoint, PoolWaiter } from '../endpoint.js';
import type { ServiceRuntime } from '../service-runtime.js';
import { H1Handshake, type H1HandshakeSink } from './h1-handshake.js';
import type { ResponseHead } from './response-head.js';
import { Tunnel } from './tunnel.js';
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

/** Where an upgrade was routed: names for the counters and the route's tunnel settings. */
export interface UpgradeRoute {
  readonly listener: string;
  readonly route: string;
  /** The requested protocol, lower case (`websocket`). */
  readonly protocol: string;
  readonly idleTimeout: number;
  readonly hashKey: string | undefined;
}

/**
 * Finds the endpoint for one upgrade, like any request: the service's
 * balancer picks it (avoiding one that just failed), its load record begins
 * at dispatch, and connect failures move on to another endpoint. An
 * HTTP/1.1 service gets the upgrade request on a connection of its own
 * (H1Handshake); an HTTP/2 service an extended CONNECT on the endpoint's
 * pooled connection, if that connection's SETTINGS allowed it (RFC 8441 §3).
 * The answer goes to the client side, which makes the Tunnel (handing it the
 * load record) or answers and ends the attempt.
 */
export class UpgradeAttempt implements PoolWaiter, StreamHandler, H1HandshakeSink {
  private endpoint: Endpoint | null = null;
  private lastEndpoint: Endpoint | null = null;
  private loadStart = 0;
  private attempts = 0;
  private done = false;
  private handshake: H1Handshake | null = null;
  private up: Http2Stream | null = null;

  constructor(
    readonly service: ServiceRuntime,
    private readonly client: UpgradeClient,
    private readonly route: UpgradeRoute,
  ) {}

  get abandoned(): boolean {
    return this.done;
  }

  start(): void {
    const service = this.service;
    service.inflight++;
    if (service.inflight > service.config.circuitBreakers.maxRequests) return this.fail(ProxyErrors.OVERLOADED);
    if (!service.isHttp1 && this.client.h2Request() === null) return this.fail(ProxyErrors.UPGRADE_UNSUPPORTED);
    this.dispatch();
  }

  private dispatch(): void {
    const service = this.service;
    const ep = service.pick(this.route.hashKey, this.lastEndpoint);
    // Tunnels do not wait in the failfast queue: a client's handshake has its own timeout.
    if (ep === undefined) return this.fail(ProxyErrors.NO_ENDPOINT);
    this.endpoint = ep;
    this.lastEndpoint = ep;
    this.attempts++;
    this.loadStart = ep.load.begin();
    ep.requestsTotal++;
    if (service.isHttp1) this.handshake = new H1Handshake(service, ep, this.client.h1Request(), this);
    else ep.pool.dispatch(this);
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
  tunnel(counted: boolean): Tunnel {
    const ep = this.endpoint!;
    this.endpoint = null;
    this.done = true;
    const r = this.route;
    const record = counted ? upgradeRecord(r.listener, r.route, this.service.name, r.protocol) : null;
    return new Tunnel(this.service, ep, this.loadStart, record, r.idleTimeout);
  }

  /** The client was answered without a tunnel (the endpoint's refusal, or its answer was unusable: `failed`). */
  answered(failed: boolean): void {
    this.release(failed);
    this.finish();
  }

  /** The client went away before the answer: cancel what is under way upstream. */
  cancel(): void {
    if (this.done) return;
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
  }
}
