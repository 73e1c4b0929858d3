import type { IncomingMessage, ServerResponse, OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { ProxyErrorKind } from '../../errors.js';
import { errorResponse, type ErrorResponse } from '../error-responses.js';
import type { ExchangeObserver } from './exchange.js';
import { RelayingExchange } from './response-relay.js';
import { connectionNominated, isHopByHop } from '../headers.js';
import type { CompiledRoute } from '../router.js';
import type { ServiceRuntime } from '../service-runtime.js';
import type { Upstream } from './upstream.js';

/** Request bytes buffered towards the upstream before the client's socket is paused. */
const PAUSE_REQUEST_AT = 1 << 20;

/**
 * How long a connection is still read (and what arrives dropped) after an
 * early answer before it is closed, if the client does not close it first
 * (nginx's lingering_timeout is 5 s too).
 */
const LINGER_MS = 5000;

/** What an HTTP/1.1 exchange needs to know about its listener. */
export interface H1ConnectionOwner {
  /** The listener is shutting down: every response closes its connection. */
  readonly draining: boolean;
  /** Responses in progress: their connections are busy, the others idle. */
  readonly h1Responses: Set<ServerResponse>;
}

/**
 * An exchange whose client speaks HTTP/1.1 (node:http's parser). Headers are
 * translated to the HTTP/2 form for the upstream (RFC 9113 §8.2.2, §8.3.1:
 * Host becomes :authority, connection-specific fields are dropped, `te`
 * survives only as "trailers") and back; trailers reach the client in the
 * chunked encoding.
 *
 * `Expect: 100-continue` (RFC 9110 §10.1.1) is answered by the proxy, as
 * Envoy does by default, and not forwarded: the upstream HTTP/1.1 client
 * (undici) cannot send it, and an HTTP/2 backend that ignores it would leave
 * the client waiting. Unlike Envoy, the `100 Continue` goes out only once the
 * request has an upstream (routed, admitted, an endpoint picked), so a client
 * answered with 404, 503 or another early status never uploads its body; node
 * then closes that connection, as the client may still send the body.
 *
 * Early answers, i.e. a final response while the request body is still
 * arriving (413, 401, a redirect…): the response carries `Connection: close`
 * (the client then stops sending; Envoy and nginx do the same), the rest of
 * the body is read and dropped, and the connection is closed when the client
 * closes it or after LINGER_MS — not at once, since closing a socket with
 * unread bytes makes the kernel send a reset that can destroy the response
 * before the client reads it (RFC 9112 §9.6).
 */
export class H1Exchange extends RelayingExchange {
  /** Request bytes passed on to the exchange and not yet credited back by it. */
  private unconsumed = 0;
  private paused = false;
  /** Response bytes node has buffered for a slow client: credited upstream on 'drain'. */
  private awaitingDrain = 0;
  /** The client sent `Expect: 100-continue` and has not had its `100 Continue` yet. */
  expectContinue = false;
  /** The response is over: the rest of the request body is dropped. */
  private discarding = false;
  /** The response says `Connection: close`. */
  private closing = false;

  constructor(
    route: CompiledRoute<ServiceRuntime>,
    service: ServiceRuntime,
    observer: ExchangeObserver | undefined,
    listenerName: string,
    headers: string[],
    isGrpc: boolean,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    private readonly owner: H1ConnectionOwner,
  ) {
    super(route, service, observer, listenerName, headers, req.method ?? 'GET', req.url ?? '/', isGrpc);
  }
  get clientAddress(): string | undefined {
    return this.req.socket.remoteAddress;
  }


  /** Wires the client's body, the response's drain and the end events into the exchange (listeners made once per exchange). */
  attachRequest(): void {
    const req = this.req;
    const res = this.res;
    req.on('data', (d: Buffer) => {
      if (this.discarding) return;
      this.unconsumed += d.length;
      if (this.unconsumed > PAUSE_REQUEST_AT && !this.paused) {
        this.paused = true;
        req.pause();
      }
      this.clientData(d, false);
    });
    req.on('end', () => {
      if (this.discarding) return;
      const raw = req.rawTrailers;
      if (raw.length > 0) {
        const t: string[] = [];
        for (let i = 0; i < raw.length; i += 2) {
          const name = raw[i]!.toLowerCase();
          if (!isHopByHop(name)) t.push(name, raw[i + 1]!);
        }
        this.clientTrailers(t);
      } else {
        this.clientData(EMPTY, true);
      }
    });
    this.owner.h1Responses.add(res);
    res.on('drain', () => this.creditResponse());
    res.on('close', () => {
      this.owner.h1Responses.delete(res);
      // Bytes node buffered for a client that is gone will never be delivered: credit them before the upstream is cancelled.
      this.creditResponse();
      if (res.writableFinished) this.responseFinished();
      else this.clientReset();
    });
  }

  /** Returns upstream credit for every response byte written but not yet credited (exactly once per byte). */
  private creditResponse(): void {
    const n = this.awaitingDrain;
    if (n === 0) return;
    this.awaitingDrain = 0;
    this.responseConsumed(n);
  }

  /** The response went out whole. */
  private responseFinished(): void {
    if (!this.req.readableEnded) {
      // Answered early: the rest of the body is read and dropped, never left paused.
      this.discarding = true;
      if (this.paused) {
        this.paused = false;
        this.req.resume();
      }
    }
    // A response whose head went out before the drain began could not say `Connection: close`: close after it.
    if (this.owner.draining && !this.closing) this.req.socket.end();
  }

  /** The request has an upstream: the client may send the body it announced. */
  override onPoolConnection(upstream: Upstream): void {
    super.onPoolConnection(upstream);
    if (this.expectContinue) this.sendContinue();
  }

  private sendContinue(): void {
    if (!this.expectContinue || this.finished || this.res.headersSent) return;
    this.expectContinue = false;
    this.res.writeContinue();
  }

  /**
   * Adds `Connection: close` when the connection must not carry another
   * request: the listener drains, or the client is still sending the body
   * of a request that has been answered.
   */
  private closeIfNeeded(headers: OutgoingHttpHeaders): void {
    if (!this.req.complete) {
      this.closing = true;
      headers.connection = 'close';
      // Node closes the socket with destroySoon() once the response is written; linger instead (see the class comment).
      this.req.socket.destroySoon = lingeringClose;
    } else if (this.owner.draining) {
      this.closing = true;
      headers.connection = 'close';
    }
  }

  protected downHeaders(h: readonly string[], endStream: boolean): void {
    const res = this.res;
    const status = Number(h[1]);
    if (status < 200) {
      this.informational(status, h);
      return;
    }
    const headers: OutgoingHttpHeaders = {};
    for (let i = 2; i < h.length; i += 2) {
      const name = h[i]!;
      if (name.charCodeAt(0) === 0x3a || isHopByHop(name)) continue;
      const prev = headers[name];
      if (prev === undefined) headers[name] = h[i + 1]!;
      else if (Array.isArray(prev)) prev.push(h[i + 1]!);
      else headers[name] = [String(prev), h[i + 1]!];
    }
    this.closeIfNeeded(headers);
    res.writeHead(status, headers);
    if (endStream) res.end();
  }

  /** 1xx responses (RFC 9110 §15.2) that HTTP/1.1 clients can be given; others are dropped. */
  private informational(status: number, h: readonly string[]): void {
    if (status === 100) {
      this.sendContinue();
    } else if (status === 102) {
      this.res.writeProcessing();
    } else if (status === 103) {
      const links: string[] = [];
      for (let i = 2; i < h.length; i += 2) if (h[i] === 'link') links.push(h[i + 1]!);
      if (links.length === 0) return;
      try {
        this.res.writeEarlyHints({ link: links });
      } catch {
        // A link node considers malformed: hints are optional, drop them.
      }
    }
  }

  protected downData(d: Buffer, endStream: boolean): void {
    const res = this.res;
    if (d.length > 0) {
      if (res.write(d)) this.responseConsumed(d.length);
      else this.awaitingDrain += d.length;
    }
    // Bytes still buffered for the client are credited on 'drain' or 'close', even
    // after the upstream ended (the exchange credits through the stream they came
    // from), so a slow client keeps holding back the upstream connection.
    if (endStream) res.end();
  }

  protected downTrailers(t: readonly string[]): void {
    const trailers: Record<string, string> = {};
    for (let i = 0; i < t.length; i += 2) trailers[t[i]!] = t[i + 1]!;
    this.res.addTrailers(trailers);
    this.res.end();
  }

  protected downReset(): void {
    // HTTP/1.1 can only say "cut short" by closing the connection before the
    // message ends. node corks the socket while it writes a response head and
    // its first chunks: destroying it now would discard what was already
    // relayed (the client would see a bare reset, no status). So flush, then
    // end our side (FIN after those bytes); a client that never reads is cut
    // off after a few seconds.
    const socket = this.res.socket;
    if (socket === null || socket.destroyed) {
      this.res.destroy();
      return;
    }
    // Node 24 also corks the response itself.
    const res = this.res;
    while (res.writableCorked > 0) res.uncork();
    while (socket.writableCorked > 0) socket.uncork();
    lingeringClose.call(socket);
  }

  protected downConsume(n: number): void {
    this.unconsumed -= n;
    if (this.paused && this.unconsumed < PAUSE_REQUEST_AT / 2) {
      this.paused = false;
      this.req.resume();
    }
  }

  /** node:http reads and discards the rest of the request body once the response is finished. */
  protected requestCutShort(): void {}

  protected downError(kind: ProxyErrorKind, r: ErrorResponse = errorResponse(kind)): void {
    const res = this.res;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const h = r.httpHeaders;
    const headers: OutgoingHttpHeaders = {};
    for (let i = 2; i < h.length; i += 2) headers[h[i]!] = h[i + 1]!;
    this.closeIfNeeded(headers);
    res.writeHead(kind.httpStatus, headers);
    res.end(r.httpBody);
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Half-close, keep reading, and close when the client does or after LINGER_MS:
 * the socket's destroySoon() after an early answer, and the end of a response cut short.
 */
function lingeringClose(this: Socket): void {
  this.end();
  setTimeout(destroySocket, LINGER_MS, this).unref();
}

function destroySocket(s: Socket): void {
  s.destroy();
}

/** The HTTP/2-style header list of an HTTP/1.1 request (RFC 9113 §8.3.1). */
export function h1RequestHeaders(req: IncomingMessage): string[] {
  const raw = req.rawHeaders;
  let authority = '';
  // RFC 9113 §8.3.1: the scheme of the target URI, https for a request that arrived over TLS.
  const h: string[] = [':method', req.method ?? 'GET', ':scheme', (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http', ':path', req.url ?? '/', ':authority', ''];
  const nominated = connectionNominated(raw);
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (nominated !== null && nominated.has(name)) continue;
    if (name === 'host') {
      if (authority === '') authority = value;
      continue;
    }
    if (name === 'te') {
      // RFC 9113 §8.2.2: te may only carry "trailers".
      if (value.toLowerCase().includes('trailers')) h.push('te', 'trailers');
      continue;
    }
    // Answered by the proxy (see H1Exchange).
    if (name === 'expect') continue;
    if (isHopByHop(name)) continue;
    h.push(name, value);
  }
  if (authority !== '') h[7] = authority;
  else h.splice(6, 2);
  return h;
}
