/**
 * One HTTP/1.1 client connection (RFC 9112) over a connected socket (TCP or
 * TLS): one request at a time, no pipelining (as Envoy and HAProxy do: a
 * pipelined request behind a failed one cannot be known unprocessed). Plain
 * class, no streams of our own: the head and the body octets of a turn go to
 * the socket corked and leave in one write when the turn ends, as the HTTP/2
 * engine's flush scheduler does.
 */
import type net from 'node:net';
import { chunkHead, CRLF, LAST_CHUNK } from './chunked.js';
import { BodyFraming } from './client-request-head.js';
import { ResponseParser, type ResponseHandler } from './response-parser.js';

/** The request a connection carries: its response events, and its body's pace. */
export interface ClientExchange extends ResponseHandler {
  /** The socket took the body octets it had buffered: more may be written. */
  onRequestDrain(): void;
  /** The connection failed before the response ended (`err.code` says how; see Http1ProtocolError). */
  onConnectionError(err: Error): void;
}

/** Whoever keeps the connection (a pool). */
export interface ClientConnectionOwner {
  /** The exchange ended cleanly and the connection can carry another request. */
  onConnectionIdle(c: ClientConnection): void;
  /** The connection is closed (after an error, `Connection: close`, or by us). */
  onConnectionClose(c: ClientConnection, err: Error | undefined): void;
}

/** The endpoint broke HTTP/1.1 framing: the connection cannot be trusted with another byte. */
export class Http1ProtocolError extends Error {
  readonly code = 'SWY_HTTP1_PROTOCOL';
}

export class ClientConnection {
  /** The request in flight, null while idle. */
  exchange: ClientExchange | null = null;
  /** Requests carried so far (a reused connection has carried at least one). */
  requests = 0;
  /** Set by the owner: when the connection became idle (its clock). */
  idleSince = 0;
  closed = false;
  private readonly parser: ResponseParser;
  private framing: number = BodyFraming.NONE;
  /** The request's last body octet went to the socket. */
  private requestDone = true;
  private responseDone = false;
  private waitingDrain = false;
  private corked = false;
  /** Close once the current exchange ends (the owner is going away). */
  private closeWhenIdle = false;

  constructor(readonly socket: net.Socket, private readonly owner: ClientConnectionOwner, maxHeadBytes?: number) {
    this.parser = new ResponseParser(this, maxHeadBytes);
    socket.on('data', (b: Buffer) => this.onSocketData(b));
    socket.on('drain', () => this.onSocketDrain());
    socket.on('end', () => this.onSocketEnd());
    socket.on('error', (err: Error) => this.fail(err));
    socket.on('close', () => this.fail(undefined));
  }

  /**
   * Starts a request: `head` from encodeRequestHead (its framing given again
   * here), `headRequest` when the method is HEAD (the response has no body).
   * With BodyFraming.NONE the request is complete at once.
   */
  send(exchange: ClientExchange, head: string, framing: number, headRequest: boolean): void {
    this.exchange = exchange;
    this.requests++;
    this.framing = framing;
    this.requestDone = framing === BodyFraming.NONE;
    this.responseDone = false;
    this.waitingDrain = false;
    this.parser.expect(headRequest);
    if (this.requestDone) this.socket.write(head, 'latin1');
    else {
      this.cork();
      this.socket.write(head, 'latin1');
    }
  }

  /**
   * Writes request body octets; false when the socket now buffers more than
   * its high-water mark (the exchange hears onRequestDrain when it is taken).
   */
  writeBody(d: Buffer, end: boolean): boolean {
    if (this.requestDone || this.closed) return true;
    const s = this.socket;
    this.cork();
    let ok = true;
    if (d.length > 0) {
      if (this.framing === BodyFraming.CHUNKED) {
        s.write(chunkHead(d.length));
        s.write(d);
        ok = s.write(CRLF);
      } else ok = s.write(d);
    }
    if (end) {
      this.requestDone = true;
      if (this.framing === BodyFraming.CHUNKED) ok = s.write(LAST_CHUNK);
    }
    if (!ok) this.waitingDrain = true;
    return ok;
  }

  /** The endpoint's idle timeout from its last response's `Keep-Alive: timeout=N`, in ms (-1: not given). */
  get serverIdleTimeout(): number {
    const t = this.parser.keepAliveTimeout;
    return t < 0 ? -1 : t * 1000;
  }

  /** The request body was fully written. */
  get requestComplete(): boolean {
    return this.requestDone;
  }

  /** Stops reading the socket (the response's reader cannot take more now). */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** Closes at once; the exchange in flight (if any) is dropped without events. */
  destroy(): void {
    this.exchange = null;
    this.parser.stop();
    this.socket.destroy();
  }

  /** Closes now if idle, else once the exchange in flight ends. */
  close(): void {
    if (this.exchange === null) this.destroy();
    else this.closeWhenIdle = true;
  }

  private cork(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    process.nextTick(uncork, this);
  }

  /** @internal end of the turn: the corked writes leave as one. */
  flush(): void {
    this.corked = false;
    this.socket.uncork();
  }

  onResponseHead(status: number, fields: string[]): void {
    this.exchange?.onResponseHead(status, fields);
  }

  onResponseData(data: Buffer): void {
    this.exchange?.onResponseData(data);
  }

  onResponseEnd(trailers: string[]): void {
    this.responseDone = true;
    const ex = this.exchange;
    if (ex === null) return;
    this.exchange = null;
    ex.onResponseEnd(trailers);
  }

  private onSocketData(b: Buffer): void {
    if (this.closed) return;
    if (!this.parser.execute(b)) {
      this.fail(new Http1ProtocolError(this.parser.error ?? 'malformed response'));
      return;
    }
    if (this.responseDone && this.exchange === null && !this.parser.busy) this.afterExchange();
  }

  /**
   * The response ended: reuse the connection or close it (RFC 9112 §9.3).
   * After an early answer the request body is unsent (RFC 9112 §9.6): the
   * endpoint would read what follows as a new request, so the connection ends.
   */
  private afterExchange(): void {
    if (this.closed) return;
    if (!this.requestDone || !this.parser.keepAlive || this.closeWhenIdle) this.destroy();
    else this.owner.onConnectionIdle(this);
  }

  private onSocketDrain(): void {
    if (!this.waitingDrain) return;
    this.waitingDrain = false;
    this.exchange?.onRequestDrain();
  }

  private onSocketEnd(): void {
    if (this.closed) return;
    // A body delimited by the close ends here; anything else was cut short.
    const busy = this.parser.busy;
    if (busy && this.parser.finish() && this.responseDone) {
      this.destroy();
      return;
    }
    this.fail(busy || this.exchange !== null ? closedEarly() : undefined);
  }

  private fail(err: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    const ex = this.exchange;
    this.exchange = null;
    this.parser.stop();
    if (!this.socket.destroyed) this.socket.destroy();
    if (ex !== null) ex.onConnectionError(err ?? closedEarly());
    this.owner.onConnectionClose(this, err);
  }
}

function uncork(c: ClientConnection): void {
  c.flush();
}

function closedEarly(): Error {
  return new Error('the endpoint closed the connection before the response ended');
}
