import net from 'node:net';
import tls from 'node:tls';
import { connectHttp2, type ConnectionHandler, type Http2Connection, type Http2Options } from '../http2/index.js';
import type { RandomSource } from '../balancing/index.js';
import { alpnMismatch, type ClientTls, type TlsSessionSlot } from '../security/client-tls.js';
import { connectFailureCause, EndpointState, type Endpoint, type EndpointPool, type PoolWaiter } from './endpoint.js';

export interface H2PoolSettings {
  connectTimeout: number;
  maxConnections: number;
  keepaliveInterval: number;
  keepaliveTimeout: number;
  /** Replace a connection whose flow control made no progress this long (0 = never). */
  stallTimeout: number;
  /** Fail a request whose upstream stream saw nothing move this long (0 = never). */
  streamIdleTimeout: number;
  backoffBase: number;
  backoffMax: number;
  http2?: Http2Options;
  /** TLS to the endpoint (`services[].tls`), shared by the service's pools; plaintext (h2c) without it. */
  tls?: ClientTls;
}

/**
 * HTTP/2 connections to one endpoint. Requests share one connection; another
 * is opened only when the open ones are at the peer's
 * SETTINGS_MAX_CONCURRENT_STREAMS (up to maxConnections). A failed connect
 * puts the endpoint in exponential backoff with jitter (not pickable); a
 * connection that receives GOAWAY takes no new streams and is replaced.
 */
export class H2Pool implements EndpointPool, ConnectionHandler {
  private readonly conns: Http2Connection[] = [];
  private connecting = 0;
  private waiters: PoolWaiter[] = [];
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Connections that got GOAWAY and are finishing their streams. */
  private readonly draining = new Set<Http2Connection>();
  /** The endpoint's last TLS session, offered on reconnects (resumption: one round trip and no certificate checks less). */
  private readonly tlsSession: TlsSessionSlot = { session: undefined, generation: 0 };

  constructor(
    private readonly endpoint: Endpoint,
    private readonly settings: H2PoolSettings,
    private readonly random: RandomSource,
  ) {}

  get connectionCount(): number {
    return this.conns.length + this.draining.size;
  }

  /** Every open connection, draining ones included (for flow-control gauges). */
  forEachConnection(fn: (c: Http2Connection) => void): void {
    for (const c of this.conns) fn(c);
    for (const c of this.draining) fn(c);
  }

  /** Opens the first connection ahead of traffic (endpoints are connected eagerly, as Linkerd does). */
  start(): void {
    if (this.conns.length === 0 && this.connecting === 0) this.connect();
  }

  dispatch(w: PoolWaiter): void {
    if (this.closed) {
      // The endpoint left the service between the pick and now: nothing was sent, try another.
      w.onPoolConnectFailed();
      return;
    }
    const c = this.usable();
    if (c !== undefined && this.waiters.length === 0) {
      w.onPoolConnection(c);
      return;
    }
    this.waiters.push(w);
    this.drainWaiters();
  }

  private usable(): Http2Connection | undefined {
    const conns = this.conns;
    // A connection takes streams once the peer's SETTINGS told us its stream limit.
    for (let i = 0; i < conns.length; i++) if (conns[i]!.peerSettingsReceived && conns[i]!.canRequest) return conns[i];
    return undefined;
  }

  private drainWaiters(): void {
    while (this.waiters.length > 0) {
      const w = this.waiters[0]!;
      if (w.abandoned) {
        this.waiters.shift();
        continue;
      }
      const c = this.usable();
      if (c === undefined) break;
      this.waiters.shift();
      w.onPoolConnection(c);
    }
    if (
      this.waiters.length > 0 &&
      this.connecting === 0 &&
      this.retryTimer === undefined &&
      this.conns.length < this.settings.maxConnections &&
      !this.closed
    ) {
      this.connect();
    }
  }

  private connect(): void {
    this.connecting++;
    const secure = this.settings.tls;
    let socket: net.Socket;
    if (secure === undefined) {
      socket = net.connect({ host: this.endpoint.host, port: this.endpoint.port });
    } else {
      const s = tls.connect(secure.connectOptions(this.endpoint.host, this.endpoint.port, 'h2', this.tlsSession));
      secure.keepSessions(s, this.tlsSession);
      socket = s;
    }
    socket.setNoDelay(true);
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      // The timeout covers the TLS handshake too: say which part did not finish.
      const what = secure !== undefined && !socket.connecting ? 'TLS handshake not finished' : 'connect timeout';
      socket.destroy(new Error(`${what} after ${this.settings.connectTimeout} ms`));
    }, this.settings.connectTimeout);
    // Over TLS, HTTP/2 starts only once the handshake is done and ALPN chose h2 (RFC 9113 §3.2).
    socket.once(secure === undefined ? 'connect' : 'secureConnect', () => {
      settled = true;
      clearTimeout(timer);
      this.connecting--;
      if (this.closed) {
        socket.destroy();
        return;
      }
      const refused = secure === undefined ? undefined : alpnMismatch(socket as tls.TLSSocket, 'h2');
      if (refused !== undefined) {
        socket.destroy();
        this.onConnectFailed(refused);
        return;
      }
      const conn = connectHttp2(socket, this, {
        ...this.settings.http2,
        keepaliveInterval: this.settings.keepaliveInterval,
        keepaliveTimeout: this.settings.keepaliveTimeout,
        stallTimeout: this.settings.stallTimeout,
        streamIdleTimeout: this.settings.streamIdleTimeout,
      });
      this.conns.push(conn);
    });
    socket.once('error', (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.connecting--;
      this.onConnectFailed(err);
    });
  }

  private onConnectFailed(err: Error): void {
    this.failures++;
    this.tlsSession.session = undefined;
    // Unreachable (logged once per outage by the service, with the cause) unless another connection is up.
    if (this.conns.length === 0) this.endpoint.connectFailed(connectFailureCause(err));
    // Nothing was sent: every waiter may go elsewhere.
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) if (!w.abandoned) w.onPoolConnectFailed();
    this.scheduleReconnect();
  }

  /** Exponential backoff with full jitter between base and the capped delay (Linkerd: 100 ms → 60 s). */
  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer !== undefined) return;
    const { backoffBase, backoffMax } = this.settings;
    const cap = Math.min(backoffMax, backoffBase * 2 ** Math.min(this.failures - 1, 30));
    const delay = backoffBase + this.random.next() * (cap - backoffBase);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.closed && this.conns.length === 0 && this.connecting === 0) this.connect();
    }, delay);
    this.retryTimer.unref();
  }

  onSettings(): void {
    this.failures = 0;
    this.endpoint.setState(EndpointState.READY);
    if (this.waiters.length > 0) this.drainWaiters();
  }

  onStreamClosed(): void {
    if (this.waiters.length > 0) this.drainWaiters();
  }

  onGoaway(conn: Http2Connection): void {
    const i = this.conns.indexOf(conn);
    if (i >= 0) {
      this.conns.splice(i, 1);
      this.draining.add(conn);
    }
    if (this.conns.length === 0 && !this.closed) {
      // The peer is restarting or shedding load: replace the connection now.
      this.endpoint.setState(EndpointState.RECONNECTING);
      if (this.connecting === 0 && this.retryTimer === undefined) this.connect();
    }
    this.drainWaiters();
  }

  /**
   * Flow control on the connection stopped moving (a peer that never returns
   * credit, or our receive window held by slow clients): it takes no new
   * streams, a replacement is opened for them, and it gets GOAWAY so it closes
   * once its own streams end (they are not cut short).
   */
  onStall(conn: Http2Connection, direction: 'send' | 'receive'): void {
    const i = this.conns.indexOf(conn);
    if (i < 0) return;
    this.conns.splice(i, 1);
    this.draining.add(conn);
    this.endpoint.stalled(direction);
    conn.shutdown();
    if (!this.closed && this.conns.length === 0 && this.connecting === 0 && this.retryTimer === undefined) this.connect();
    this.drainWaiters();
  }

  onClose(conn: Http2Connection, error: Error | undefined): void {
    this.draining.delete(conn);
    const i = this.conns.indexOf(conn);
    if (i < 0) return;
    this.conns.splice(i, 1);
    if (!conn.peerSettingsReceived && !this.closed) {
      // TCP connected but HTTP/2 never started (an HTTP/1.1-only or TLS-only
      // server, or a wrong port): a failed connect, with backoff — never a
      // tight reconnect loop — and a cause the operator can act on.
      if (this.settings.tls !== undefined) {
        // TLS 1.3 clients finish their handshake first; an endpoint that then
        // refuses the client certificate says so with an alert (RFC 8446 §4.4.2.4).
        const code = (error as { code?: unknown } | undefined)?.code;
        if (typeof code === 'string' && code.startsWith('ERR_SSL_')) this.onConnectFailed(error!);
        else this.onConnectFailed(new Error(`no HTTP/2 from the endpoint: closed after the TLS handshake, before its SETTINGS (${error?.message ?? 'connection closed'})`));
        return;
      }
      const detail = error?.message ?? 'connection closed';
      this.onConnectFailed(new Error(`no HTTP/2 from the endpoint: closed before its SETTINGS (${detail}); is it an HTTP/2 (h2c prior knowledge) server?`));
      return;
    }
    if (this.conns.length === 0 && !this.closed) {
      this.endpoint.setState(EndpointState.RECONNECTING);
      if (this.connecting === 0 && this.retryTimer === undefined) this.connect();
    }
  }

  close(graceful: boolean): void {
    this.closed = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) if (!w.abandoned) w.onPoolConnectFailed();
    for (const c of [...this.conns, ...this.draining]) {
      if (graceful) c.shutdown();
      else c.destroy();
    }
  }
}
