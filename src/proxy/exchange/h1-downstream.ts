import type { H1RequestHandler, H1ServerRequest } from '../../http1/index.js';
import type { ProxyErrorKind } from '../../errors.js';
import type { H1BodyLimit } from '../body-limit.js';
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
 * An exchange whose client speaks HTTP/1.1 (the proxy's own codec,
 * src/http1/). Headers are translated to the HTTP/2 form for the upstream
 * (RFC 9113 §8.2.2, §8.3.1: Host becomes :authority, connection-specific
 * fields are dropped, `te` survives only as "trailers") and back; trailers
 * reach the client in the chunked encoding. Trailers a client sends are
 * read and discarded (RFC 9112 §7.1.2 allows it).
 *
 * `Expect: 100-continue` (RFC 9110 §10.1.1) is answered by the proxy, as
 * Envoy does by default, and not forwarded: the upstream HTTP/1.1 client
 * cannot send it, and an HTTP/2 backend that ignores it would leave the
 * client waiting. Unlike Envoy, the `100 Continue` goes out only once the
 * request has an upstream (routed, admitted, an endpoint picked), so a client
 * answered with 404, 503 or another early status never uploads its body.
 *
 * Early answers, i.e. a final response while the request body is still
 * arriving (413, 401, a redirect…): the response carries `Connection: close`
 * (the client then stops sending; Envoy and nginx do the same), and the
 * codec reads and drops the rest of the body until the client closes or a
 * few seconds pass — not a close at once, since closing a socket with unread
 * bytes makes the kernel send a reset that can destroy the response before
 * the client reads it (RFC 9112 §9.6).
 */
export class H1Exchange extends RelayingExchange implements H1RequestHandler {
  /** Request bytes passed on to the exchange and not yet credited back by it. */
  private unconsumed = 0;
  /** Response bytes the codec buffers for a slow client: credited upstream once they leave (onDrain). */
  private awaitingDrain = 0;
  /** The client sent `Expect: 100-continue` and has not had its `100 Continue` yet. */
  expectContinue = false;
  /** Counts a body without an announced length against maxRequestBody. */
  bodyLimit: H1BodyLimit | null = null;

  constructor(
    route: CompiledRoute<ServiceRuntime>,
    service: ServiceRuntime,
    observer: ExchangeObserver | undefined,
    listenerName: string,
    headers: string[],
    isGrpc: boolean,
    readonly req: H1ServerRequest,
  ) {
    super(route, service, observer, listenerName, headers, req.method, req.target, isGrpc);
    this.expectContinue = req.expectContinue;
    // A request without a body is whole from its head: the upstream request
    // ends with its head (HEADERS with END_STREAM; no chunked framing on HTTP/1.1).
    this.body.ended = req.complete;
  }

  get clientAddress(): string | undefined {
    return this.req.remoteAddress;
  }

  // ------------------------------------------------------------ H1RequestHandler (the client's side)

  onBodyData(_r: H1ServerRequest, d: Buffer): void {
    if (this.bodyLimit !== null) this.bodyLimit.onData(d);
    if (this.req.finished) return;
    this.unconsumed += d.length;
    if (this.unconsumed > PAUSE_REQUEST_AT && !this.req.paused) this.req.pause();
    this.clientData(d, false);
  }

  onBodyEnd(): void {
    if (this.req.finished || this.body.ended) return;
    this.clientData(EMPTY, true);
  }

  onAborted(): void {
    // Bytes buffered for a client that is gone will never be delivered: credit them before the upstream is cancelled.
    this.onDrain();
    this.clientReset();
  }

  /** Returns upstream credit for every response byte written but not yet credited (exactly once per byte). */
  onDrain(): void {
    const n = this.awaitingDrain;
    if (n === 0) return;
    this.awaitingDrain = 0;
    this.responseConsumed(n);
  }

  /** The request has an upstream: the client may send the body it announced. */
  override onPoolConnection(upstream: Upstream): void {
    super.onPoolConnection(upstream);
    if (this.expectContinue) this.sendContinue();
  }

  private sendContinue(): void {
    if (!this.expectContinue || this.finished || this.req.headersSent) return;
    this.expectContinue = false;
    this.req.informational(100);
  }

  // ------------------------------------------------------------ the response

  protected downHeaders(h: readonly string[], endStream: boolean): void {
    const status = Number(h[1]);
    if (status < 200) {
      this.informational(status, h);
      return;
    }
    const fields: string[] = [];
    for (let i = 2; i < h.length; i += 2) {
      const name = h[i]!;
      if (name.charCodeAt(0) === 0x3a || isHopByHop(name)) continue;
      fields.push(name, h[i + 1]!);
    }
    // A client still sending the body of an answered request: the connection cannot carry another.
    this.req.respond(status, fields, endStream, !this.req.complete);
  }

  /** 1xx responses (RFC 9110 §15.2) that HTTP/1.1 clients can be given; others are dropped. */
  private informational(status: number, h: readonly string[]): void {
    if (status === 100) {
      this.sendContinue();
    } else if (status === 102) {
      this.req.informational(102);
    } else if (status === 103) {
      const links: string[] = [];
      for (let i = 2; i < h.length; i += 2) if (h[i] === 'link') links.push('link', h[i + 1]!);
      if (links.length > 0) this.req.informational(103, links);
    }
  }

  protected downData(d: Buffer, endStream: boolean): void {
    const req = this.req;
    if (d.length > 0) {
      if (req.write(d)) this.responseConsumed(d.length);
      else this.awaitingDrain += d.length;
    }
    // Bytes still buffered for the client are credited on drain or close, even
    // after the upstream ended, so a slow client keeps holding back the upstream connection.
    if (endStream) req.end();
  }

  protected downTrailers(t: readonly string[]): void {
    this.req.end(t);
  }

  protected downReset(): void {
    // HTTP/1.1 can only say "cut short" by closing the connection before the
    // message ends: what was relayed goes out, then our side closes.
    this.req.abort();
  }

  protected downConsume(n: number): void {
    this.unconsumed -= n;
    if (this.req.paused && this.unconsumed < PAUSE_REQUEST_AT / 2) this.req.resume();
  }

  /** The codec reads and discards the rest of the request body once the response is finished. */
  protected requestCutShort(): void {}

  protected downError(kind: ProxyErrorKind, r: ErrorResponse = errorResponse(kind)): void {
    const req = this.req;
    if (req.headersSent) {
      req.abort();
      return;
    }
    const h = r.httpHeaders;
    const fields: string[] = [];
    for (let i = 2; i < h.length; i += 2) fields.push(h[i]!, h[i + 1]!);
    req.respond(kind.httpStatus, fields, false, !req.complete);
    req.write(r.httpBody);
    req.end();
  }
}

const EMPTY = Buffer.alloc(0);

/** The HTTP/2-style header list of an HTTP/1.1 request (RFC 9113 §8.3.1). */
export function h1RequestHeaders(req: H1ServerRequest): string[] {
  const raw = req.fields;
  // RFC 9113 §8.3.1: the scheme of the target URI, https for a request that arrived over TLS.
  const h: string[] = [':method', req.method, ':scheme', req.encrypted ? 'https' : 'http', ':path', req.target, ':authority', req.host];
  const nominated = connectionNominated(raw);
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (nominated !== null && nominated.has(name)) continue;
    switch (name) {
      case 'host':
      // Answered by the proxy (see H1Exchange).
      case 'expect':
        continue;
      case 'te':
        // RFC 9113 §8.2.2: te may only carry "trailers".
        if (raw[i + 1]!.toLowerCase().includes('trailers')) h.push('te', 'trailers');
        continue;
      default:
        if (isHopByHop(name)) continue;
        h.push(name, raw[i + 1]!);
    }
  }
  if (req.host === '') h.splice(6, 2);
  return h;
}
