import { createRequire } from 'node:module';
import net from 'node:net';
import { Readable } from 'node:stream';
import tls from 'node:tls';
import type { Pool, Dispatcher, buildConnector } from 'undici';
import { alpnMismatch, type ClientTls, type TlsSessionSlot } from '../security/client-tls.js';
import { connectFailureCause, EndpointState, type Endpoint, type EndpointPool, type PoolWaiter } from './endpoint.js';
import { connectionNominated, isHopByHop } from './headers.js';
import { UpstreamReset, type Upstream, type UpstreamHandler, type UpstreamRequest } from './exchange/upstream.js';
import { ErrorCode } from '../http2/index.js';

export interface H1PoolSettings {
  connectTimeout: number;
  connections: number;
  /** The service's reconnectBackoff: exponential from base, capped at max. */
  backoffBase: number;
  backoffMax: number;
  /** TLS to the endpoint (`services[].tls`), shared by the service's pools; plaintext without it. */
  tls?: ClientTls;
}

/** Errors of our TLS connector: nothing reached the endpoint's application, any request may go elsewhere. */
const connectErrors = new WeakSet<Error>();

/**
 * undici is loaded on first use: a proxy with only HTTP/2 services never pays
 * for it (about 15 MB of resident memory).
 */
let PoolClass: typeof Pool | undefined;
function undiciPool(): typeof Pool {
  PoolClass ??= (createRequire(import.meta.url)('undici') as { Pool: typeof Pool }).Pool;
  return PoolClass;
}

/** Response bytes buffered downstream before the upstream read is paused. */
const PAUSE_AT = 1 << 20;

/**
 * HTTP/1.1 keep-alive connections to one endpoint, on undici's Pool (the
 * well-kept client for this job); the proxy's request and response are
 * translated to and from HTTP/2-style header lists (RFC 9113 §8.2.2).
 */
export class H1Pool implements EndpointPool, Upstream {
  private readonly pool: Pool;
  private connected = 0;

  constructor(private readonly endpoint: Endpoint, private readonly settings: H1PoolSettings) {
    const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
    const PoolCtor = undiciPool();
    const secure = settings.tls;
    this.pool = new PoolCtor(`${secure === undefined ? 'http' : 'https'}://${host}:${endpoint.port}`, {
      // undici's own connector fixes its TLS options when the pool is made; ours
      // takes the service's current SecureContext at every connect, so a rotated
      // client certificate is used by the next connection.
      ...(secure === undefined ? {} : { connect: (_o: buildConnector.Options, cb: buildConnector.Callback) => this.connectTls(secure, cb) }),
      connections: settings.connections,
      connectTimeout: settings.connectTimeout,
      keepAliveTimeout: 30_000,
      pipelining: 1,
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    this.pool.on('connect', () => {
      this.connected++;
      this.failures = 0;
      endpoint.setState(EndpointState.READY);
    });
    this.pool.on('disconnect', (_origin, _targets, err) => {
      if (this.connected > 0) this.connected--;
      // TLS 1.3: a refused client certificate is an alert after our handshake finished.
      if (this.connected === 0 && isTlsAlert(err)) this.backOff(connectFailureCause(err));
    });
    this.pool.on('connectionError', (_origin, _targets, err) => {
      if (this.connected === 0) this.backOff(connectFailureCause(err));
    });
  }

  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private probing: net.Socket | null = null;
  private closed = false;
  /** The endpoint's last TLS session: undici's connections and the check resume it. */
  private readonly tlsSession: TlsSessionSlot = { session: undefined, generation: 0 };

  /** A TLS connection for undici (its connector contract: callback once, with the socket or the error). */
  private connectTls(secure: ClientTls, callback: buildConnector.Callback): void {
    const socket = tls.connect(secure.connectOptions(this.endpoint.host, this.endpoint.port, 'http/1.1', this.tlsSession));
    secure.keepSessions(socket, this.tlsSession);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    let done = false;
    const fail = (err: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      this.tlsSession.session = undefined;
      connectErrors.add(err);
      socket.destroy();
      callback(err, null);
    };
    const timeout = this.settings.connectTimeout;
    const timer = setTimeout(() => fail(timeoutError(socket, timeout)), timeout);
    socket.once('secureConnect', () => {
      const refused = alpnMismatch(socket, 'http/1.1');
      if (refused !== undefined) return fail(refused);
      if (done) return;
      done = true;
      clearTimeout(timer);
      callback(null, socket);
    });
    socket.once('error', fail);
  }

  /**
   * Proves the endpoint reachable before any request needs it: at start and
   * at the end of every backoff. undici connects on demand, so without this
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
      if (!this.closed && this.connected === 0) this.backOff(connectFailureCause(err));
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
      if (this.connected === 0) this.backOff(connectFailureCause(err));
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
    return this.connected;
  }

  dispatch(w: PoolWaiter): void {
    // The endpoint left the service between the pick and now: nothing was sent, try another.
    if (this.closed) w.onPoolConnectFailed();
    else w.onPoolConnection(this);
  }

  /** Starts an upstream request; undici gives it a connection when one is free. */
  request(headers: readonly string[], endStream: boolean, handler: UpstreamHandler): UpstreamRequest {
    return new H1Request(this.pool, headers, endStream, handler);
  }

  close(graceful: boolean): void {
    this.closed = true;
    this.probing?.destroy();
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    if (graceful) void this.pool.close().catch(() => {});
    else void this.pool.destroy().catch(() => {});
  }
}

/**
 * One request over undici, with the events of an HTTP/2 stream: request body
 * octets are reported sent as undici reads them (so the client's credit
 * follows the endpoint's pace) and dropped when the body will not be read.
 */
class H1Request implements UpstreamRequest, Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;
  private body: Readable | null = null;
  private responseStarted = false;
  private aborted = false;
  /** Response bytes relayed to the client and not yet taken by it. */
  private unconsumed = 0;
  /** Body bytes pushed but not yet read by undici (credited to the client once read). */
  private owed = 0;
  /** No more body will be read: bytes written from now on are reported dropped at once. */
  private settled = false;
  /** The response ended or failed. */
  private over = false;

  constructor(pool: Pool, h: readonly string[], endStream: boolean, public handler: UpstreamHandler) {
    let method = 'GET';
    let path = '/';
    let authority: string | undefined;
    let expectContinue = false;
    const headers: string[] = [];
    for (let i = 0; i < h.length; i += 2) {
      const name = h[i]!;
      const value = h[i + 1]!;
      if (name.charCodeAt(0) === 0x3a) {
        if (name === ':method') method = value;
        else if (name === ':path') path = value;
        else if (name === ':authority') authority = value;
        continue;
      }
      if (name === 'expect') {
        // undici refuses the field and writes the request head only with the first
        // body byte: a client waiting for 100 Continue would wait for ever.
        if (value.toLowerCase() === '100-continue') expectContinue = true;
        continue;
      }
      if (isHopByHop(name)) continue;
      headers.push(name, value);
    }
    // RFC 9113 §8.3.1: :authority becomes Host on HTTP/1.1.
    if (authority !== undefined) headers.push('host', authority);
    if (!endStream) {
      // Back-pressure for request bodies: the client gets flow-control credit only
      // as undici reads from this stream, not as bytes arrive.
      this.body = new Readable({ read: () => this.onBodyRead(), highWaterMark: 64 * 1024 });
    }
    pool.dispatch({ method, path, headers, body: this.body, idempotent: false, blocking: true }, this);
    if (expectContinue && this.body !== null && !this.aborted) handler.continueRequest?.();
  }

  get queuedBytes(): number {
    return this.owed;
  }

  get closed(): boolean {
    return this.over || this.aborted;
  }

  sendData(d: Buffer, end: boolean): void {
    const body = this.body;
    if (body === null || this.settled) {
      if (d.length > 0) this.handler.onDataDropped?.(this, d.length);
      return;
    }
    if (d.length > 0) {
      this.owed += d.length;
      if (body.push(d)) this.onBodyRead();
    }
    if (end) body.push(null);
  }

  private onBodyRead(): void {
    const n = this.owed;
    if (n === 0 || this.settled) return;
    this.owed = 0;
    this.handler.onDataSent(this, n);
  }

  /** HTTP/1.1 trailers in requests are rare and undici cannot send them: the request just ends. */
  sendTrailers(): void {
    this.sendData(EMPTY, true);
  }

  /**
   * The body will not be read any more (the response ended, possibly before
   * the request did, or the request failed or was cancelled): credit the
   * client for the bytes still waiting in the stream, once. Without this a
   * client's flow-control window (HTTP/2) or paused socket (HTTP/1.1) would
   * keep those bytes for good.
   */
  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    const n = this.owed;
    this.owed = 0;
    if (n > 0) this.handler.onDataDropped?.(this, n);
  }

  /** Cancels the request (the code has no HTTP/1.1 form); handlers hear only of the dropped body. */
  reset(): void {
    this.aborted = true;
    this.settle();
    this.controller?.abort(new Error('request cancelled'));
    this.body?.destroy();
  }

  consume(n: number): void {
    if (this.closed) return;
    // Back-pressure counts what the client has not taken yet: pausing on bytes
    // read since the last resume would stall for good when every byte was
    // already taken by the time the pause came.
    this.unconsumed -= n;
    if (this.unconsumed < 0) this.unconsumed = 0;
    const c = this.controller;
    if (c !== null && c.paused && this.unconsumed < PAUSE_AT / 2) c.resume();
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.aborted) controller.abort(new Error('request cancelled'));
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[]>): void {
    if (this.aborted) return;
    const out: string[] = [':status', String(statusCode)];
    // RFC 9110 §7.6.1: fields the endpoint's Connection field names stay on its hop.
    let nominated: Set<string> | null = null;
    for (const name in headers) {
      if (name.length === 10 && name.toLowerCase() === 'connection') {
        const v = headers[name]!;
        nominated = connectionNominated(['connection', Array.isArray(v) ? v.join(',') : v]);
      }
    }
    for (const name in headers) {
      const lower = name.toLowerCase();
      if (isHopByHop(lower) || (nominated !== null && nominated.has(lower))) continue;
      const v = headers[name]!;
      if (Array.isArray(v)) for (const x of v) out.push(lower, x);
      else out.push(lower, v);
    }
    if (statusCode >= 200) this.responseStarted = true;
    this.handler.onHeaders(this, out, false);
  }

  onResponseData(c: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.aborted) return;
    // Counted before relaying: the client may take it at once (resume is called synchronously).
    this.unconsumed += chunk.length;
    this.handler.onData(this, chunk, false);
    if (this.unconsumed >= PAUSE_AT && !c.paused) c.pause();
  }

  onResponseEnd(_c: Dispatcher.DispatchController, trailers: Record<string, string | string[]>): void {
    if (this.aborted) return;
    this.over = true;
    // An early answer ends the response while undici still writes the body; it then drops the rest.
    this.settle();
    const t: string[] = [];
    for (const name in trailers) {
      const v = trailers[name]!;
      if (Array.isArray(v)) for (const x of v) t.push(name.toLowerCase(), x);
      else t.push(name.toLowerCase(), v);
    }
    if (t.length > 0) this.handler.onTrailers(this, t);
    else this.handler.onData(this, EMPTY, true);
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    if (this.aborted) return;
    this.over = true;
    this.settle();
    const code = (err as { code?: string }).code;
    const connectFailure =
      !this.responseStarted &&
      (code === 'ECONNREFUSED' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' ||
        connectErrors.has(err) || isTlsAlert(err));
    this.handler.onReset(this, ErrorCode.INTERNAL_ERROR, connectFailure ? UpstreamReset.CONNECT_FAILED : UpstreamReset.CONNECTION_LOST);
  }
}

const EMPTY = Buffer.alloc(0);

function probeTimedOut(socket: net.Socket, ms: number): void {
  socket.destroy(new Error(`connect timeout after ${ms} ms`));
}

function timeoutError(socket: net.Socket, ms: number): Error {
  return new Error(`${socket.connecting ? 'connect timeout' : 'TLS handshake not finished'} after ${ms} ms`);
}

const TLS_ALERT = /^ERR_SSL_(SSLV3|TLSV1|TLSV13)_ALERT_/;

/**
 * An alert from the endpoint's TLS stack (its refusal of our certificate,
 * RFC 8446 §6.2): the request never reached its application.
 */
function isTlsAlert(err: unknown): boolean {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && TLS_ALERT.test(code);
}
