import type net from 'node:net';
import { HeadError } from './request-head.js';
import { H1ServerConnection } from './server-connection.js';
import type { H1ServerRequest } from './server-request.js';

/** Limits of an HTTP/1.1 server; they apply to new reads as soon as they are set. */
export interface H1Limits {
  /** Request line and fields together, bytes (431 / 414 beyond). */
  maxHeaderSize: number;
  /** Longest flat [name, value, …] field list: 2 × the field count (431 beyond). */
  maxHeaderFields: number;
  /** From the first byte of a head (or the connection's start) to its end, ms; 0: none (408 after it). */
  headersTimeout: number;
  /** A kept-alive connection without a request for this long is closed, ms; 0: never. */
  idleTimeout: number;
}

/** What the server's owner does with requests. */
export interface H1ServerHandler {
  /** A request head was read: set req.handler to receive its body and be told of its end. */
  onRequest(conn: H1ServerConnection, req: H1ServerRequest): void;
  /** `Connection: upgrade` (RFC 9110 §7.8): the socket (paused) and the bytes after the head are now the handler's. */
  onUpgrade(conn: H1ServerConnection, req: H1ServerRequest, socket: net.Socket, rest: Buffer): void;
  /** The answer to a refused head, or null to just close. */
  refused(conn: H1ServerConnection, error: HeadError): Buffer | null;
}

/**
 * The HTTP/1.1 server role: serves sockets handed to it (it does not
 * listen), and checks the head and idle deadlines of all its connections on
 * one coarse timer (as node:http's connectionsCheckingInterval does) instead
 * of a timer per connection or per request.
 */
export class H1Server {
  readonly connections = new Set<H1ServerConnection>();
  /** Sweeps so far: connections stamp their state changes with it. */
  tick = 0;
  /** Every response says `Connection: close` (the owner is shutting down). */
  draining = false;
  private timer: NodeJS.Timeout | undefined;
  private interval = 0;

  constructor(readonly handler: H1ServerHandler, public limits: H1Limits) {}

  /** Serves `socket`; `head`: bytes already read from it; `user`: the owner's label for the connection. */
  serve(socket: net.Socket, head?: Buffer, user?: unknown): H1ServerConnection {
    const c = new H1ServerConnection(socket, this);
    c.user = user;
    this.connections.add(c);
    this.startSweep();
    if (head !== undefined && head.length > 0) c.onData(head);
    return c;
  }

  setLimits(limits: H1Limits): void {
    this.limits = limits;
    if (this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    if (this.connections.size > 0) this.startSweep();
  }

  forget(c: H1ServerConnection): void {
    this.connections.delete(c);
    if (this.connections.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private startSweep(): void {
    if (this.timer !== undefined) return;
    const { headersTimeout, idleTimeout } = this.limits;
    const shortest = Math.min(headersTimeout || Infinity, idleTimeout || Infinity);
    if (shortest === Infinity) return;
    this.interval = Math.max(50, Math.min(1000, Math.floor(shortest / 4)));
    this.timer = setInterval(sweep, this.interval, this);
    this.timer.unref();
  }

  /** One pass over the connections: a head past headersTimeout gets its 408, an idle one past idleTimeout is closed. */
  sweep(): void {
    const t = ++this.tick;
    const { headersTimeout, idleTimeout } = this.limits;
    const interval = this.interval;
    for (const c of this.connections) {
      if (c.current !== null) continue;
      // Ticks since the stamp, minus one: the stamp may be up to one interval old.
      const elapsed = (t - c.sinceTick - 1) * interval;
      if (c.idle) {
        if (idleTimeout > 0 && elapsed >= idleTimeout) c.destroy();
      } else if (headersTimeout > 0 && elapsed >= headersTimeout) {
        c.refuse(HeadError.Timeout);
      }
    }
  }

  /** Closes connections between requests; busy ones close after their response (draining). */
  closeIdle(): void {
    for (const c of this.connections) if (c.isIdle) c.destroy();
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    for (const c of this.connections) c.destroy();
  }
}

function sweep(s: H1Server): void {
  s.sweep();
}
