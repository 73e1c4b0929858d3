/**
 * One request to an HTTP/1.1 endpoint, with the events of an HTTP/2 stream
 * (the Upstream interface): the proxy's HTTP/2-style header list becomes an
 * HTTP/1.1 head (RFC 9113 §8.2.2, §8.3.1), and the response comes back as
 * one. Request body octets are credited to the client as the socket takes
 * them (so the client's pace follows the endpoint's) and reported dropped
 * when the body will not be sent; the socket stops being read while the
 * client has not taken a megabyte of the response.
 */
import { ErrorCode } from '../http2/index.js';
import type { ClientConnection, ClientExchange } from '../http1/client-connection.js';
import { BodyFraming, encodeRequestHead } from '../http1/client-request-head.js';
import { UpstreamReset, type UpstreamHandler, type UpstreamRequest } from './exchange/upstream.js';
import { connectionNominated, isHopByHop } from './headers.js';

/** Response bytes relayed and not yet taken by the client before the socket is paused. */
const PAUSE_AT = 1 << 20;

/** What the pool does for its requests. */
export interface H1RequestOwner {
  /** `Host` when the request has no :authority (RFC 9112 §3.2: every HTTP/1.1 request has one). */
  readonly defaultHost: string;
  /** A cancelled request gives up its place: its connection (if any) is closed, never reused. */
  cancelled(r: H1Request): void;
}

const enum Phase {
  /** Waiting for a connection. */
  QUEUED,
  /** On a connection, the response not ended. */
  ACTIVE,
  /** The response ended, or the request failed or was cancelled. */
  OVER,
}

export class H1Request implements UpstreamRequest, ClientExchange {
  conn: ClientConnection | null = null;
  /** The request asked `Expect: 100-continue` (not forwarded; the proxy answers it). */
  readonly expectContinue: boolean;
  private phase = Phase.QUEUED;
  private readonly head: string;
  private readonly framing: number;
  private readonly headRequest: boolean;
  /** Body octets that arrived before a connection (sent when one is given). */
  private pending: Buffer[] | null = null;
  private pendingEnd = false;
  private headSent = false;
  /** Body octets accepted and not yet credited to the client. */
  private owed = 0;
  /** No more body will be written: octets from now on are reported dropped at once. */
  private settled = false;
  private responseStarted = false;
  /** Response octets relayed and not yet taken by the client. */
  private unconsumed = 0;
  private paused = false;

  constructor(private readonly owner: H1RequestOwner, h: readonly string[], endStream: boolean, public handler: UpstreamHandler) {
    let method = 'GET';
    let path = '/';
    let authority: string | undefined;
    let expectContinue = false;
    let hasLength = false;
    const fields: string[] = [];
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
        // The proxy answers 100-continue itself (continueRequest) and sends
        // the body as it comes; an endpoint that answers early still can.
        if (value.toLowerCase() === '100-continue') expectContinue = true;
        continue;
      }
      if (isHopByHop(name)) continue;
      if (name === 'content-length') hasLength = true;
      fields.push(name, value);
    }
    // RFC 9113 §8.3.1: :authority becomes Host on HTTP/1.1; Host comes first (RFC 9112 §3.2).
    fields.unshift('host', authority ?? owner.defaultHost);
    let framing: number = BodyFraming.NONE;
    if (!endStream) framing = hasLength ? BodyFraming.LENGTH : BodyFraming.CHUNKED;
    else if (!hasLength && (method === 'POST' || method === 'PUT' || method === 'PATCH')) {
      // RFC 9110 §8.6: a request with content semantics and no body says so.
      fields.push('content-length', '0');
    }
    this.framing = framing;
    this.headRequest = method === 'HEAD';
    this.head = encodeRequestHead(method, path, fields, framing);
    this.expectContinue = expectContinue && !endStream;
  }

  /**
   * The pool gives the request a connection. A request with a body leaves
   * with its first body octets (as undici does): a client whose body turns
   * out malformed before any of it arrived (a smuggling attempt its parser
   * refuses) never reaches the endpoint, and head and body share a write.
   */
  attach(conn: ClientConnection): void {
    this.phase = Phase.ACTIVE;
    this.conn = conn;
    if (this.framing === BodyFraming.NONE || this.pending !== null || this.pendingEnd) this.start(conn);
  }

  /** The head was written (the connection carries this request). */
  get started(): boolean {
    return this.headSent;
  }

  private start(conn: ClientConnection): void {
    this.headSent = true;
    conn.send(this, this.head, this.framing, this.headRequest);
    const p = this.pending;
    if (p === null && !this.pendingEnd) return;
    this.pending = null;
    let ok = true;
    if (p !== null) for (let i = 0; i < p.length; i++) ok = conn.writeBody(p[i]!, this.pendingEnd && i === p.length - 1);
    if (this.pendingEnd && (p === null || p.length === 0)) ok = conn.writeBody(EMPTY, true);
    if (ok) this.credit();
  }

  get queued(): boolean {
    return this.phase === Phase.QUEUED;
  }

  get queuedBytes(): number {
    return this.owed;
  }

  get closed(): boolean {
    return this.phase === Phase.OVER;
  }

  sendData(d: Buffer, end: boolean): void {
    if (this.framing === BodyFraming.NONE || this.settled) {
      if (d.length > 0) this.handler.onDataDropped?.(this, d.length);
      return;
    }
    this.owed += d.length;
    const conn = this.conn;
    if (conn === null || !this.headSent) {
      if (d.length > 0) (this.pending ??= []).push(d);
      if (end) this.pendingEnd = true;
      if (conn !== null) this.start(conn);
      return;
    }
    if (conn.writeBody(d, end)) this.credit();
  }

  /** HTTP/1.1 trailers in requests are rare and most servers ignore them: the request just ends. */
  sendTrailers(): void {
    this.sendData(EMPTY, true);
  }

  /** The connection took what it had buffered. */
  onRequestDrain(): void {
    this.credit();
  }

  private credit(): void {
    const n = this.owed;
    if (n === 0 || this.settled) return;
    this.owed = 0;
    this.handler.onDataSent(this, n);
  }

  /**
   * The body will not be written any more (the response ended, possibly
   * before the request did, or the request failed or was cancelled): the
   * client is credited for the octets still held, once. Without this a
   * client's flow-control window (HTTP/2) or paused socket (HTTP/1.1) would
   * keep them for good.
   */
  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    this.pending = null;
    const n = this.owed;
    this.owed = 0;
    if (n > 0) this.handler.onDataDropped?.(this, n);
  }

  /** Cancels the request (the code has no HTTP/1.1 form): its connection closes; handlers hear only of the dropped body. */
  reset(): void {
    if (this.phase === Phase.OVER) return;
    this.phase = Phase.OVER;
    this.settle();
    this.owner.cancelled(this);
  }

  consume(n: number): void {
    // Back-pressure counts what the client has not taken yet: pausing on bytes
    // read since the last resume would stall for good when every byte was
    // already taken by the time the pause came.
    this.unconsumed -= n;
    if (this.unconsumed < 0) this.unconsumed = 0;
    if (this.paused && this.unconsumed < PAUSE_AT / 2) {
      this.paused = false;
      if (this.phase === Phase.ACTIVE) this.conn?.resume();
    }
  }

  onResponseHead(status: number, fields: string[]): void {
    // Interim answers stay on this hop: 100 was given by the proxy, and others
    // (103) are optional hints (RFC 9110 §15.2).
    if (status < 200 || this.phase !== Phase.ACTIVE) return;
    const out: string[] = [':status', String(status)];
    // RFC 9110 §7.6.1: fields the endpoint's Connection field names stay on its hop.
    const nominated = connectionNominated(fields);
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i]!;
      if (isHopByHop(name) || (nominated !== null && nominated.has(name))) continue;
      out.push(name, fields[i + 1]!);
    }
    this.responseStarted = true;
    this.handler.onHeaders(this, out, false);
  }

  onResponseData(data: Buffer): void {
    if (this.phase !== Phase.ACTIVE || data.length === 0) return;
    // Counted before relaying: the client may take it at once (consume is called synchronously).
    this.unconsumed += data.length;
    this.handler.onData(this, data, false);
    if (this.unconsumed >= PAUSE_AT && !this.paused && this.phase === Phase.ACTIVE) {
      this.paused = true;
      this.conn?.pause();
    }
  }

  onResponseEnd(trailers: string[]): void {
    if (this.phase !== Phase.ACTIVE) return;
    this.phase = Phase.OVER;
    // An early answer ends the response while the body is still coming: the rest is dropped.
    this.settle();
    if (this.paused) this.conn?.resume();
    let t: string[] | null = null;
    for (let i = 0; i < trailers.length; i += 2) {
      const name = trailers[i]!;
      if (isHopByHop(name) || name === 'content-length') continue;
      (t ??= []).push(name, trailers[i + 1]!);
    }
    if (t !== null) this.handler.onTrailers(this, t);
    else this.handler.onData(this, EMPTY, true);
  }

  onConnectionError(err: Error): void {
    this.fail(!this.responseStarted && isTlsAlert(err) ? UpstreamReset.CONNECT_FAILED : UpstreamReset.CONNECTION_LOST);
  }

  /** The request ends without a response: CONNECT_FAILED when nothing reached the endpoint. */
  fail(reason: number): void {
    if (this.phase === Phase.OVER) return;
    this.phase = Phase.OVER;
    this.settle();
    this.handler.onReset(this, ErrorCode.INTERNAL_ERROR, reason);
  }
}

const EMPTY = Buffer.alloc(0);

const TLS_ALERT = /^ERR_SSL_(SSLV3|TLSV1|TLSV13)_ALERT_/;

/**
 * An alert from the endpoint's TLS stack (its refusal of our certificate,
 * RFC 8446 §6.2): the request never reached its application.
 */
export function isTlsAlert(err: unknown): boolean {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && TLS_ALERT.test(code);
}
