/**
 * HTTP/1.1 keep-alive connections to one endpoint (RFC 9112 §9), on the
 * project's own client codec (src/http1/): one request per connection at a
 * time, connections made on demand up to `connections`, requests queued
 * beyond that, idle connections reused most-recent first and closed after
 * KEEP_ALIVE_MS (or before the server's announced idle timeout), checked on
 * the process's coarse tick rather than by a timer per connection. Measured beside undici's Pool, which it replaces: see
 * bench/http1-client.ts.
 */
import net from 'node:net';
import tls from 'node:tls';
import { ClientConnection, type ClientConnectionOwner } from '../http1/client-connection.js';
import { addTickable, coarseNow, removeTickable, type Tickable } from '../http2/ticker.js';
import { alpnMismatch, type ClientTls, type TlsSessionSlot } from '../security/client-tls.js';
import { connectFailureCause, EndpointState, type Endpoint, type EndpointPool, type PoolWaiter } from './endpoint.js';
import { UpstreamReset, type Upstream, type UpstreamHandler, type UpstreamRequest } from './exchange/upstream.js';
import { H1Request, isTlsAlert, type H1RequestOwner } from './upstream-h1-request.js';

export interface H1PoolSettings {
  connectTimeout: number;
  connections: number;
  /** The service's reconnectBackoff: exponential from base, capped at max. */
  backoffBase: number;
  backoffMax: number;
  /** TLS to the endpoint (`services[].tls`), shared by the service's pools; plaintext without it. */
  tls?: ClientTls;
}

/** An idle connection is closed after this long (undici's default too; nginx keeps them 75 s). */
const KEEP_ALIVE_MS = 30_000;
/**
 * A server that announces its idle timeout (`Keep-Alive: timeout=N`, Node
 * sends 5 s) is left this much earlier, so a request is not written on a
 * connection the server is closing (undici's keepAliveTimeoutThreshold).
 */
const KEEP_ALIVE_MARGIN_MS = 2_000;

export class H1Pool implements EndpointPool, Upstream, ClientConnectionOwner, H1RequestOwner, Tickable {
  readonly defaultHost: string;
  /** Connected sockets (idle or busy). */
  private open = 0;
  private connecting = 0;
  private readonly conns = new Set<ClientConnection>();
  /** Idle connections, the most recently used last. */
  private readonly idle: ClientConnection[] = [];
  /** Requests waiting for a connection, oldest first from queueHead. */
  private queue: Array<H1Request | undefined> = [];
  private queueHead = 0;
  /** Registered with the process's coarse ticker while connections are idle. */
  private ticking = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private probing: net.Socket | null = null;
  private closed = false;
  /** The endpoint's last TLS session: new connections and the check resume it. */
  private readonly tlsSession: TlsSessionSlot = { session: undefined, generation: 0 };

  constructor(private readonly endpoint: Endpoint, private readonly settings: H1PoolSettings) {
    const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
    this.defaultHost = `${host}:${endpoint.port}`;
  }

  /**
   * Proves the endpoint reachable before any request needs it: at start and
   * at the end of every backoff. Connections are made on demand, so without this
   * an idle endpoint stays `connecting` (pickable, state unknown) whether it
   * is alive or not. The check is a TCP connect, closed as soon as it
   * succeeds (nothing is sent): success makes the endpoint READY, failure
   * RECONNECTING with the cause. HTTP/2 pools open their first connection
   * instead (as Linkerd does); an HTTP/1.1 connection opened ahead of traffic
   * would not be worth keeping, since servers close idle fresh connections on
   * their own timers. Not on every closed connection: a server that answers
   * `Connection: close` would get a check per request.
   *
   * With `tls` the check is a TLS handshake (and then closed): a TCP connect
   * would call an endpoint ready whose certificate fails verification, and
   * every request would then fail on it. Under TLS 1.3 the client's part of
   * the handshake ends before the server has checked the client
   * certificate, so the check also waits for the server's session ticket
   * (sent once it has accepted us) or its refusal, within connectTimeout;
   * a server that sends no ticket counts as accepted at that point.
   */
  start(): void {
    this.probe();
  }

  private probe(): void {
    if (this.closed || this.probing !== null) return;
    const secure = this.settings.tls;
    if (secure !== undefined) {
      this.probeTls(secure);
      return;
    }
    const socket = net.connect({ host: this.endpoint.host, port: this.endpoint.port });
    this.probing = socket;
    const timeout = this.settings.connectTimeout;
    const timer = setTimeout(probeTimedOut, timeout, socket, timeout);
    timer.unref();
    socket.once('connect', () => {
      clearTimeout(timer);
      this.probing = null;
      socket.destroy();
      if (this.closed) return;
      this.failures = 0;
      this.endpoint.setState(EndpointState.READY);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      this.probing = null;
      if (!this.closed && this.open === 0) this.backOff(connectFailureCause(err));
    });
  }

  private probeTls(secure: ClientTls): void {
    const socket = tls.connect(secure.connectOptions(this.endpoint.host, this.endpoint.port, 'http/1.1', this.tlsSession));
    secure.keepSessions(socket, this.tlsSession);
    this.probing = socket;
    let handshaken = false;
    let done = false;
    const finish = (err: Error | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      this.probing = null;
      socket.destroy();
      if (this.closed) return;
      if (err === undefined) {
        this.failures = 0;
        this.endpoint.setState(EndpointState.READY);
        return;
      }
      this.tlsSession.session = undefined;
      if (this.open === 0) this.backOff(connectFailureCause(err));
    };
    const timeout = this.settings.connectTimeout;
    const timer = setTimeout(() => finish(handshaken ? undefined : timeoutError(socket, timeout)), timeout);
    timer.unref();
    socket.once('secureConnect', () => {
      handshaken = true;
      if (socket.getProtocol() !== 'TLSv1.3' || socket.isSessionReused()) finish(undefined);
      else socket.once('session', () => finish(undefined));
    });
    socket.once('error', (err) => finish(err));
    socket.once('close', () => finish(handshaken ? undefined : new Error('closed by the endpoint during the TLS handshake')));
  }

  /**
   * Not pickable for a while after a failed connect (the first failure of an
   * outage is logged with its cause); then a connect check decides whether it
   * is back. Backoff doubles from the service's reconnectBackoff.base up to its max.
   */
  backOff(cause: string): void {
    this.endpoint.connectFailed(cause);
    if (this.retryTimer !== undefined || this.closed) return;
    this.failures++;
    const delay = Math.min(this.settings.backoffMax, this.settings.backoffBase * 2 ** Math.min(this.failures - 1, 30));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.endpoint.state === EndpointState.RECONNECTING) this.probe();
    }, delay);
    this.retryTimer.unref();
  }

  get connectionCount(): number {
    return this.open;
  }

  dispatch(w: PoolWaiter): void {
    // The endpoint left the service between the pick and now: nothing was sent, try another.
    if (this.closed) w.onPoolConnectFailed();
    else w.onPoolConnection(this);
  }

  /** Starts a request on an idle connection, or queues it (opening a connection if the pool may). */
  request(headers: readonly string[], endStream: boolean, handler: UpstreamHandler): UpstreamRequest {
    const r = new H1Request(this, headers, endStream, handler);
    const conn = this.takeIdle();
    if (conn !== undefined) r.attach(conn);
    else {
      this.queue.push(r);
      if (this.open + this.connecting < this.settings.connections && this.connecting < this.queue.length - this.queueHead) this.connect();
    }
    if (r.expectContinue && !r.closed) handler.continueRequest?.();
    return r;
  }

  cancelled(r: H1Request): void {
    const conn = r.conn;
    // A queued one is skipped when its turn comes; a connection that never
    // saw the request is as good as new; one with a request cut short would
    // answer it later, so it is not reused.
    if (conn === null) return;
    if (r.started) conn.destroy();
    else this.onConnectionIdle(conn);
  }

  /** A connection is free (new, or its exchange ended cleanly): the next queued request takes it. */
  onConnectionIdle(conn: ClientConnection): void {
    const next = this.dequeue();
    if (next !== undefined) {
      next.attach(conn);
      return;
    }
    if (this.closed) {
      conn.destroy();
      return;
    }
    if (!this.ticking) {
      this.ticking = true;
      addTickable(this);
    }
    conn.idleSince = coarseNow;
    this.idle.push(conn);
  }

  /** The most recently used idle connection still inside its keep-alive time. */
  private takeIdle(): ClientConnection | undefined {
    for (let c = this.idle.pop(); c !== undefined; c = this.idle.pop()) {
      if (coarseNow - c.idleSince < idleLimit(c)) return c;
      c.destroy();
    }
    return undefined;
  }

  onConnectionClose(conn: ClientConnection, err: Error | undefined): void {
    this.conns.delete(conn);
    this.open--;
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    // TLS 1.3: a refused client certificate is an alert after our handshake finished.
    if (this.open === 0 && err !== undefined && isTlsAlert(err)) {
      this.backOff(connectFailureCause(err));
      this.failQueued(UpstreamReset.CONNECT_FAILED);
      return;
    }
    if (!this.closed && this.queue.length > this.queueHead && this.open + this.connecting < this.settings.connections) this.connect();
  }

  private dequeue(): H1Request | undefined {
    while (this.queueHead < this.queue.length) {
      const q = this.queue;
      const r = q[this.queueHead]!;
      q[this.queueHead++] = undefined;
      if (this.queueHead === q.length) {
        this.queue = [];
        this.queueHead = 0;
      } else if (this.queueHead >= 1024 && this.queueHead * 2 >= q.length) {
        this.queue = q.slice(this.queueHead);
        this.queueHead = 0;
      }
      if (!r.closed) return r;
    }
    return undefined;
  }

  private failQueued(reason: number): void {
    for (let r = this.dequeue(); r !== undefined; r = this.dequeue()) r.fail(reason);
  }

  /** The coarse tick: idle connections past their keep-alive time close. */
  onTick(now: number): void {
    const idle = this.idle;
    for (let i = idle.length - 1; i >= 0; i--) {
      const c = idle[i]!;
      if (now - c.idleSince < idleLimit(c)) continue;
      idle.splice(i, 1);
      c.destroy();
    }
    if (idle.length === 0) this.stopTicking();
  }

  private stopTicking(): void {
    if (!this.ticking) return;
    this.ticking = false;
    removeTickable(this);
  }

  /** Opens a connection; once connected it takes the oldest queued request. */
  private connect(): void {
    this.connecting++;
    const secure = this.settings.tls;
    const { host, port } = this.endpoint;
    const socket = secure === undefined
      ? net.connect({ host, port })
      : tls.connect(secure.connectOptions(host, port, 'http/1.1', this.tlsSession));
    if (secure !== undefined) secure.keepSessions(socket as tls.TLSSocket, this.tlsSession);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    const timeout = this.settings.connectTimeout;
    let done = false;
    const fail = (err: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      this.onConnectFailed(err);
    };
    const timer = setTimeout(() => fail(timeoutError(socket, timeout)), timeout);
    socket.once('error', fail);
    socket.once(secure === undefined ? 'connect' : 'secureConnect', () => {
      if (done) return;
      if (secure !== undefined) {
        const refused = alpnMismatch(socket as tls.TLSSocket, 'http/1.1');
        if (refused !== undefined) return fail(refused);
      }
      done = true;
      clearTimeout(timer);
      socket.removeListener('error', fail);
      this.onConnected(socket);
    });
  }

  private onConnected(socket: net.Socket): void {
    this.connecting--;
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.open++;
    this.failures = 0;
    this.endpoint.setState(EndpointState.READY);
    const conn = new ClientConnection(socket, this);
    this.conns.add(conn);
    this.onConnectionIdle(conn);
  }

  /**
   * Connecting failed: nothing reached the endpoint. With no connection left
   * to serve them, the queued requests fail with CONNECT_FAILED (they may go
   * to another endpoint); otherwise the open connections take them.
   */
  private onConnectFailed(err: Error): void {
    this.connecting--;
    if (this.settings.tls !== undefined) this.tlsSession.session = undefined;
    if (this.closed) return;
    if (this.open === 0) this.backOff(connectFailureCause(err));
    if (this.open === 0 && this.connecting === 0) this.failQueued(UpstreamReset.CONNECT_FAILED);
  }

  close(graceful: boolean): void {
    this.closed = true;
    this.probing?.destroy();
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.stopTicking();
    for (const c of this.idle) c.destroy();
    this.idle.length = 0;
    if (!graceful || this.open === 0) this.failQueued(graceful ? UpstreamReset.CONNECT_FAILED : UpstreamReset.CONNECTION_LOST);
    // Graceful: requests in flight finish, then their connections close.
    for (const c of this.conns) {
      if (graceful) c.close();
      else c.socket.destroy();
    }
  }
}

function idleLimit(c: ClientConnection): number {
  const server = c.serverIdleTimeout;
  return server < 0 ? KEEP_ALIVE_MS : Math.min(KEEP_ALIVE_MS, server - Math.min(KEEP_ALIVE_MARGIN_MS, server / 2));
}

function probeTimedOut(socket: net.Socket, ms: number): void {
  socket.destroy(new Error(`connect timeout after ${ms} ms`));
}

function timeoutError(socket: net.Socket, ms: number): Error {
  return new Error(`${socket.connecting ? 'connect timeout' : 'TLS handshake not finished'} after ${ms} ms`);
}
