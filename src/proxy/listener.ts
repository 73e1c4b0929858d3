import net from 'node:net';
import type { TLSSocket } from 'node:tls';
import {
  acceptHttp2, ErrorCode, type ConnectionHandler, type Http2Connection, type Http2Options, type Http2Stream,
} from '../http2/index.js';
import type { RandomSource } from '../balancing/index.js';
import type { ListenerConfig } from '../config/index.js';
import { ProxyErrors } from '../errors.js';
import { errorResponse } from './error-responses.js';
import type { Exchange, ExchangeObserver } from './exchange/exchange.js';
import type { H1Exchange } from './exchange/h1-downstream.js';
import { H1Listener } from './h1-listener.js';
import { H2Exchange } from './exchange/h2-downstream.js';
import type { RelayingExchange } from './exchange/response-relay.js';
import { isGrpcContentType, parseGrpcTimeout } from './headers.js';
import { detectProtocol } from './protocol-detect.js';
import { hostOf, type CompiledRoute, type RequestHead, type Router } from './router.js';
import type { ServiceRuntime } from './service-runtime.js';
import { TcpRelay } from './tcp-relay.js';
import { H2IdleSweep } from './h2-idle-sweep.js';
import { H1_TLS_REQUIRED, H2_TLS_REQUIRED, refusePlaintext } from './tls-refusal.js';
import { Upgrades, isExtendedConnect } from './upgrade/upgrades.js';
import { BODY_LIMIT_REFUSAL, H1BodyLimit, H2BodyLimit } from './body-limit.js';
import { ConnectionLimits, REJECT_REASONS } from './connection-limits.js';
import { ForwardedHeaders } from './forwarded.js';
import { answerTooManyHeaders, HEAD_REJECT_REASONS, HeadReject } from './head-limits.js';
import type { IdentitySource } from '../security/identity-source.js';
import { ServerTls, type TlsEvents } from '../security/server-tls.js';

/** Counters of one listener, read by telemetry. */
export interface ListenerCounters {
  connectionsTotal: number;
  connectionsOpen: number;
  detectFailures: number;
  /** Open connections by the protocol they were found to speak (the others are still being detected). */
  openHttp1: number;
  openHttp2: number;
  openTcp: number;
  /** Connections served as http1, http2, tcp (in that order) since start. */
  servedTotal: number[];
  /** Refused connections by REJECT_REASONS index. */
  connectionsRejected: number[];
  /** Request heads refused by HEAD_REJECT_REASONS index. */
  requestsRejected: number[];
  /** Bytes read from and written to client connections that have closed (open ones: Listener.bytesTotals). */
  bytesReceived: number;
  bytesSent: number;
}

/** What a listener with `tls` needs from outside its configuration. */
export interface ListenerTlsSetup {
  /** Names the setting in errors: `listeners[0].tls`. */
  label: string;
  /** The proxy's own certificate, for `tls` without cert/key. */
  identity?: IdentitySource;
  events?: TlsEvents;
  /** Test hook: how often certificate files are read again besides file-system events. */
  pollInterval?: number;
}

/**
 * One listening port. Accepts HTTP/2 (prior knowledge) and HTTP/1.1 on the
 * same port when `protocol: auto` (decided from the first bytes), or exactly
 * one of http1 / http2 / tcp. HTTP requests are routed and forwarded per
 * request; `tcp` relays whole connections (per-connection balancing).
 *
 * With `tls`, a connection whose first byte starts a TLS record is
 * handshaken (ServerTls) and then served by what ALPN chose: `h2` by the
 * HTTP/2 engine, `http/1.1` by the HTTP/1.1 codec (H1Listener), neither by detection over the
 * decrypted bytes (`auto`) or by the listener's protocol. Plaintext is
 * still served on an `auto` port without `clientCa` (what Envoy and
 * Linkerd call permissive mode: clients can move to TLS one by one); on an
 * `http1`/`http2`/`tcp` port with `tls`, or with `clientCa`, it is refused.
 */
export class Listener implements ConnectionHandler {
  readonly name: string;
  /** The listening socket; a reload that changes protocol or tls on the same address hands it to the new listener. */
  server: net.Server;
  /** Swapped by a reload: new requests take the new routes, running exchanges keep what they hold. */
  router: Router<ServiceRuntime>;
  readonly counters: ListenerCounters = {
    connectionsTotal: 0, connectionsOpen: 0, detectFailures: 0, openHttp1: 0, openHttp2: 0, openTcp: 0, servedTotal: [0, 0, 0],
    connectionsRejected: REJECT_REASONS.map(() => 0), requestsRejected: HEAD_REJECT_REASONS.map(() => 0), bytesReceived: 0, bytesSent: 0,
  };
  /** Connection admission shared by the proxy's listeners. */
  readonly limits: ConnectionLimits;
  forwarded: ForwardedHeaders;
  /** 2 × limits.maxHeaderCount: the longest flat header list accepted. */
  private maxHeaderFields: number;
  /** GOAWAY to HTTP/2 connections idle for limits.idleTimeout. */
  private readonly h2IdleSweep: H2IdleSweep;
  /** HTTP/2 connections over TLS (X-Forwarded-Proto: https). */
  private readonly h2Secure = new Set<Http2Connection>();
  /** HTTP/1.1 connections: the codec and the requests it reads. */
  private readonly h1: H1Listener;
  private h2Options: Http2Options;
  /** Open HTTP/2 client connections → the client's identity ('' without a client certificate). */
  private readonly h2Connections = new Map<Http2Connection, string>();
  /** Accepted TCP connections (a TLS socket runs over one of these). */
  private readonly sockets = new Set<net.Socket>();
  /** TLS on this port (`tls` set). */
  readonly tls: ServerTls | undefined;
  private readonly head: RequestHead = { path: '', host: '', headers: [] };
  /** Shutting down: no new connections; HTTP/1.1 responses close their connections. */
  draining = false;
  /** WebSockets and other upgrades (HTTP/1.1 Upgrade, RFC 8441 extended CONNECT). */
  readonly upgrades: Upgrades;

  constructor(
    public config: ListenerConfig,
    router: Router<ServiceRuntime>,
    readonly random: RandomSource,
    readonly observer: ExchangeObserver | undefined,
    private tcpService: ServiceRuntime | undefined,
    tls?: ListenerTlsSetup,
    limits?: ConnectionLimits,
  ) {
    this.name = config.name;
    this.limits = limits ?? new ConnectionLimits(0);
    this.forwarded = new ForwardedHeaders(config.forwarded);
    this.maxHeaderFields = 2 * config.limits.maxHeaderCount;
    this.router = router;
    this.h2IdleSweep = new H2IdleSweep(this.h2Connections);
    this.h2Options = engineOptions(config);
    this.h1 = new H1Listener(this, config);
    this.upgrades = new Upgrades(this, random);
    // Reads the certificate files now: a PemError names the setting and the file.
    if (config.tls !== undefined) {
      this.tls = new ServerTls(config.tls, config.protocol, tls?.label ?? `listeners[${config.name}].tls`, config.name,
        (socket, identity) => this.onSecure(socket, identity), { identity: tls?.identity, events: tls?.events, pollInterval: tls?.pollInterval });
    }
    this.server = net.createServer({ noDelay: true }, (socket) => this.onConnection(socket));
  }

  listen(): Promise<net.AddressInfo> {
    const { host, port } = this.config.listen;
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.removeListener('error', reject);
        this.h2IdleSweep.start(this.config.limits.idleTimeout);
        resolve(this.server.address() as net.AddressInfo);
      });
    });
  }

  /**
   * A reload that keeps the address, protocol and tls: new requests take the
   * new routes (open connections included), new HTTP/2 connections the new
   * settings; open connections keep theirs.
   */
  reconfigure(config: ListenerConfig, router: Router<ServiceRuntime>, tcpService: ServiceRuntime | undefined): void {
    this.config = config;
    this.router = router;
    if (!this.draining && this.server.listening) this.h2IdleSweep.start(config.limits.idleTimeout);
    this.tcpService = tcpService;
    this.h2Options = engineOptions(config);
    this.forwarded = new ForwardedHeaders(config.forwarded);
    this.maxHeaderFields = 2 * config.limits.maxHeaderCount;
    this.h1.reconfigure(config);
  }

  /**
   * Takes over `from`'s listening socket (a reload changed protocol or tls
   * on the same address): the port never stops accepting, and `from` keeps
   * its open connections to drain them.
   */
  adoptSocket(from: Listener): void {
    const server = from.server;
    // Never listens: from's drain() and destroy() close nothing shared.
    from.server = net.createServer();
    server.removeAllListeners('connection');
    server.on('connection', (socket: net.Socket) => this.onConnection(socket));
    this.server = server;
    this.h2IdleSweep.start(this.config.limits.idleTimeout);
  }

  get address(): net.AddressInfo {
    return this.server.address() as net.AddressInfo;
  }

  private onConnection(socket: net.Socket): void {
    if (!this.admit(socket)) return;
    this.counters.connectionsTotal++;
    this.counters.connectionsOpen++;
    this.sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => {
      this.counters.connectionsOpen--;
      this.sockets.delete(socket);
      this.limits.release();
      this.counters.bytesReceived += socket.bytesRead;
      this.counters.bytesSent += socket.bytesWritten;
    });
    if (this.draining) {
      socket.destroy();
      return;
    }
    if (this.tls !== undefined) {
      this.detectTls(socket, this.tls);
      return;
    }
    switch (this.config.protocol) {
      case 'http2':
        this.serveHttp2(socket, undefined, '');
        return;
      case 'http1':
        this.serveHttp1(socket, '');
        return;
      case 'tcp':
        this.serveTcp(socket);
        return;
      default:
        this.detect(socket, this.config.detectTimeout, '');
    }
  }

  /** `auto`: HTTP/2 prior knowledge or HTTP/1.1, from the first bytes (plaintext, or decrypted over TLS). */
  private detect(socket: net.Socket, timeoutMs: number, identity: string): void {
    detectProtocol(socket, timeoutMs, (protocol, head) => {
      if (protocol === 'http2') this.serveHttp2(socket, head, identity);
      else if (protocol === 'http1') this.serveHttp1Detected(socket, head, identity);
      else {
        // Timeouts, and a ClientHello inside TLS or on a port without tls.
        this.counters.detectFailures++;
        socket.destroy();
      }
    });
  }

  /**
   * A connection to a port with `tls`: a TLS record (RFC 8446 §5.1) starts
   * the handshake; plaintext is served (permissive `auto` without clientCa)
   * or refused. Detection is bounded by `detectTimeout` on `auto` ports and
   * by `handshakeTimeout` on the others; the handshake then by
   * `handshakeTimeout` from its first byte.
   */
  private detectTls(socket: net.Socket, tls: ServerTls): void {
    const protocol = this.config.protocol;
    detectProtocol(socket, protocol === 'auto' ? this.config.detectTimeout : tls.handshakeTimeout, (p, head) => {
      if (p === 'tls') {
        tls.accept(socket, head);
        return;
      }
      if (p === null) {
        this.counters.detectFailures++;
        socket.destroy();
        return;
      }
      if (protocol === 'auto' && !tls.requireClientCert) {
        if (p === 'http2') this.serveHttp2(socket, head, '');
        else this.serveHttp1Detected(socket, head, '');
        return;
      }
      tls.handshakes.plaintext_refused++;
      // A tcp port does not know what its clients speak: it just closes.
      if (protocol === 'tcp') socket.destroy();
      else refusePlaintext(socket, p === 'http1' ? H1_TLS_REQUIRED : H2_TLS_REQUIRED);
    });
  }

  /** A finished handshake: the protocol ALPN chose, else the listener's, else (auto) detection over TLS. */
  private onSecure(socket: TLSSocket, identity: string): void {
    socket.on('error', () => {});
    if (this.draining) {
      socket.destroy();
      return;
    }
    const protocol = this.config.protocol;
    const alpn = socket.alpnProtocol;
    if (protocol === 'tcp') this.serveTcp(socket);
    else if (alpn === 'h2' || protocol === 'http2') this.serveHttp2(socket, undefined, identity);
    else if (alpn === 'http/1.1' || protocol === 'http1') this.serveHttp1(socket, identity);
    else this.detect(socket, this.config.detectTimeout, identity);
  }

  private serveHttp1Detected(socket: net.Socket, head: Buffer, identity: string): void {
    this.serveHttp1(socket, identity, head);
    socket.resume();
  }

  private serveHttp1(socket: net.Socket, identity: string, head?: Buffer): void {
    this.counters.openHttp1++;
    this.counters.servedTotal[0]!++;
    socket.once('close', () => this.counters.openHttp1--);
    this.h1.serve(socket, identity, head);
  }

  private serveHttp2(socket: net.Socket, head: Buffer | undefined, identity: string): void {
    // The detected bytes are read again once the connection knows its client's
    // address and identity: they may hold the first request, which authorization and source hashing need them for.
    if (head !== undefined) socket.unshift(head);
    const conn = acceptHttp2(socket, this, this.h2Options);
    conn.user = socket.remoteAddress;
    this.h2Connections.set(conn, identity);
    if ((socket as TLSSocket).encrypted === true) this.h2Secure.add(conn);
    this.counters.openHttp2++;
    this.counters.servedTotal[1]!++;
    socket.resume();
  }

  private serveTcp(socket: net.Socket): void {
    this.counters.openTcp++;
    this.counters.servedTotal[2]!++;
    socket.once('close', () => this.counters.openTcp--);
    new TcpRelay(socket, this.tcpService!).start();
  }

  // ------------------------------------------------------------ limits

  /**
   * Connection admission (ConnectionLimits): a connection over a limit, or
   * while memory is over its budget, is closed before anything is read.
   */
  private admit(socket: net.Socket): boolean {
    const reason = this.limits.admit(this.sockets.size, this.config.limits.maxConnections);
    if (reason < 0) return true;
    this.counters.connectionsRejected[reason]!++;
    socket.on('error', () => {});
    socket.destroy();
    return false;
  }

  /**
   * Before routing: more header fields than limits.maxHeaderCount are
   * answered 431 (Envoy's max_headers_count), then the forwarded headers
   * are applied. False when the request was answered here.
   */
  private acceptHead(headers: string[], peer: string | undefined, https: boolean, http2: boolean): boolean {
    if (headers.length > this.maxHeaderFields) {
      this.counters.requestsRejected[HeadReject.HEADER_COUNT]!++;
      return false;
    }
    if (this.forwarded.enabled) this.forwarded.apply(headers, peer, https, http2);
    return true;
  }

  /**
   * A body over the route's (or listener's) maxRequestBody: refused at once
   * when its content-length says so, else counted as it streams (H2BodyLimit,
   * H1BodyLimit). True when the exchange was refused here.
   */
  limitBody(ex: RelayingExchange, route: CompiledRoute<ServiceRuntime>, announced: number, ended: boolean, stream: Http2Stream | null, h1: H1Exchange | null): boolean {
    const limit = route.maxRequestBody >= 0 ? route.maxRequestBody : this.config.limits.maxRequestBody;
    if (limit === 0 || ended) return false;
    if (announced > limit) {
      ex.refuse(BODY_LIMIT_REFUSAL);
      return true;
    }
    if (announced >= 0) return false;
    if (stream !== null) stream.handler = new H2BodyLimit(ex, limit);
    else if (h1 !== null) h1.bodyLimit = new H1BodyLimit(ex, limit);
    return false;
  }

  // ------------------------------------------------------------ HTTP/2 requests

  onStream(conn: Http2Connection, stream: Http2Stream, headers: string[], endStream: boolean): void {
    if (!this.acceptHead(headers, conn.user as string | undefined, this.h2Secure.has(conn), true)) {
      answerTooManyHeaders(stream, headers, endStream);
      return;
    }
    // RFC 8441: an extended CONNECT opens a tunnel (a WebSocket), not a request.
    if (isExtendedConnect(headers)) return this.upgrades.onExtendedConnect(stream, headers, endStream, this.h2Connections.get(conn) ?? '', conn.user as string);
    const head = this.head;
    let authority: string | undefined;
    let contentType: string | undefined;
    let grpcTimeout: string | undefined;
    let path = '';
    let method = '';
    for (let i = 0; i < headers.length; i += 2) {
      const n = headers[i]!;
      switch (n) {
        case ':path': path = headers[i + 1]!; break;
        case ':authority': authority = headers[i + 1]; break;
        case ':method': method = headers[i + 1]!; break;
        case 'host': if (authority === undefined) authority = headers[i + 1]; break;
        case 'content-type': contentType = headers[i + 1]; break;
        case 'grpc-timeout': grpcTimeout = headers[i + 1]; break;
        default: break;
      }
    }
    head.path = path;
    head.host = hostOf(authority);
    head.headers = headers;
    const route = this.router.match(head);
    head.headers = EMPTY_LIST;
    const isGrpc = isGrpcContentType(contentType);
    if (route === undefined) {
      const r = errorResponse(ProxyErrors.NO_ROUTE);
      if (isGrpc) stream.respond(r.grpcHeaders, true);
      else {
        stream.respond(r.httpHeaders, false);
        stream.sendData(r.httpBody, true);
      }
      if (!endStream) stream.reset(ErrorCode.NO_ERROR);
      return;
    }
    const service = route.target(this.random);
    const ex = new H2Exchange(route, service, this.observer, this.name, headers, method, path, isGrpc, stream, endStream);
    if (this.tls !== undefined) ex.clientIdentity = this.h2Connections.get(conn) ?? '';
    if (service.hashHeader !== undefined || service.hashOnSource) ex.hashKey = service.hashKey(headers, conn.user as string);
    stream.handler = ex;
    let timeout = route.timeout;
    if (grpcTimeout !== undefined) {
      const g = parseGrpcTimeout(grpcTimeout);
      if (g > 0 && (timeout === 0 || g < timeout)) timeout = g;
    }
    if (this.refused(ex, route, conn.user as string)) return;
    if (this.limitBody(ex, route, stream.expectedLength, endStream, stream, null)) return;
    ex.start(timeout);
  }

  onClose(conn: Http2Connection): void {
    this.h2Connections.delete(conn);
    this.h2IdleSweep.forget(conn);
    this.h2Secure.delete(conn);
    this.counters.openHttp2--;
  }

  // ------------------------------------------------------------ shared by HTTP/1.1 and HTTP/2 requests

  /**
   * Authorization, after routing and before anything goes upstream: the
   * listener's rules, then the route's. A refused request is answered here.
   */
  refused(ex: Exchange, route: CompiledRoute<ServiceRuntime>, address: string | undefined): boolean {
    const d = this.router.authorize(route, ex.clientIdentity, address, ex.path);
    if (d === null) return false;
    ex.refuse(d);
    return true;
  }

  // ------------------------------------------------------------ shutdown

  /**
   * Stops accepting; HTTP/2 clients get a graceful GOAWAY; idle HTTP/1.1
   * connections close now, busy ones after their response, which says
   * `Connection: close` when its head has not gone out yet (H1Exchange).
   */
  drain(): void {
    this.draining = true;
    this.h2IdleSweep.stop();
    this.server.close();
    for (const c of this.h2Connections.keys()) c.shutdown();
    this.h1.drain();
  }

  /** Every open HTTP/2 client connection. */
  forEachHttp2Connection(fn: (c: Http2Connection) => void): void {
    for (const c of this.h2Connections.keys()) fn(c);
  }

  /** Bytes read from and written to client connections so far, open ones included. */
  bytesTotals(): { received: number; sent: number } {
    let received = this.counters.bytesReceived;
    let sent = this.counters.bytesSent;
    for (const s of this.sockets) {
      received += s.bytesRead;
      sent += s.bytesWritten;
    }
    return { received, sent };
  }

  /** Open client connections (all protocols). */
  get openConnections(): number {
    return this.sockets.size;
  }

  /** Closes whatever is still open. */
  destroy(): void {
    this.draining = true;
    this.h2IdleSweep.stop();
    this.server.close();
    this.tls?.close();
    for (const s of this.sockets) s.destroy();
  }
}

const EMPTY_LIST: string[] = [];

/** The engine options of a listener's client connections (listeners[].http2). */
function engineOptions(config: ListenerConfig): Http2Options {
  const h = config.http2;
  return {
    maxConcurrentStreams: h.maxConcurrentStreams,
    initialWindowSize: h.initialWindowSize,
    connectionWindowSize: h.connectionWindowSize,
    maxFrameSize: h.maxFrameSize,
    maxHeaderListSize: h.maxHeaderListSize,
    headerTableSize: h.headerTableSize,
    keepaliveInterval: h.keepaliveInterval,
    keepaliveTimeout: h.keepaliveTimeout,
    streamIdleTimeout: h.streamIdleTimeout,
    maxResetsPerWindow: h.maxResetsPerWindow,
    floodWindow: h.resetWindow,
    enableConnectProtocol: true,
  };
}

