import type net from 'node:net';
import { scheduleFlush, type Flushable } from '../http2/codec/flush-scheduler.js';
import { ChunkedDecoder, CRLF, LAST_CHUNK, type BodySink } from './chunked.js';
import { BodyKind, findHeadEnd, HeadError, lastLineStart, parseHead } from './request-head.js';
import { hasNoContent, informationalHead, lastChunkWithTrailers, statusLine } from './response-head.js';
import { writeParts } from './write-parts.js';
import { H1ServerRequest } from './server-request.js';
import type { H1Server } from './server.js';

/** What a connection is doing with the bytes it reads. */
export const enum ReadState {
  /** Waiting for (the rest of) a request head. */
  Head,
  /** Reading the current request's body. */
  Body,
  /** The current request has been read whole; later bytes wait for its response to finish (pipelining, RFC 9112 §9.3.2). */
  Wait,
  /** Closing: what arrives is dropped. */
  Discard,
  /** Handed over (upgrade) or closed. */
  Gone,
}

/** Response bytes buffered (ours and the socket's) before write() asks the writer to wait. */
const HIGH_WATER = 64 * 1024;
/** How long a closing connection is still read before it is destroyed (RFC 9112 §9.6: a close with unread bytes may reset the answer away). */
const LINGER_MS = 5000;

/**
 * One HTTP/1.1 server connection over a TCP or TLS socket. Reads request
 * heads and bodies, hands requests to the server's handler one at a time in
 * arrival order (pipelined requests wait for the response before them),
 * frames responses (content-length, chunked, or until close) and writes
 * everything produced in one event-loop turn with one socket write (the
 * flush scheduler shared with the HTTP/2 engine).
 */
export class H1ServerConnection implements Flushable, BodySink {
  flushScheduled = false;
  flushPass = 0;
  state = ReadState.Head;
  /** The request being read or answered. */
  current: H1ServerRequest | null = null;
  /** Bytes read and not yet processed (a partial head, or bytes behind the current request). */
  private pending: Buffer | null = null;
  /** Where the search for the head's end resumes in `pending`. */
  private scanFrom = 0;
  private bodyRemaining = 0;
  private readonly decoder: ChunkedDecoder;
  /** The body of an answered request still arriving: read and dropped. */
  private discardBody = false;
  private out: Array<Buffer | string> = [];
  private outBytes = 0;
  /** Close once what is queued has been written. */
  private closing = false;
  private readPaused = false;
  /** Requests whose write() returned false: told when the socket drains, even once their responses are over (pipelining can make two). */
  private drainWaiters: H1ServerRequest[] = [];
  /** Sweep tick of the last state change, for the head and idle deadlines. */
  sinceTick: number;
  /** Between requests on a kept-alive connection (idleTimeout applies, not headersTimeout). */
  idle = false;
  readonly encrypted: boolean;
  private readonly onDataBound = (d: Buffer): void => this.onData(d);
  private readonly onCloseBound = (): void => this.onClose();
  private readonly onDrainBound = (): void => this.onSocketDrain();
  /** The owner's label (the client's identity on a TLS listener). */
  user: unknown = undefined;

  constructor(readonly socket: net.Socket, readonly server: H1Server) {
    this.decoder = new ChunkedDecoder();
    this.sinceTick = server.tick;
    this.encrypted = (socket as { encrypted?: boolean }).encrypted === true;
    socket.on('data', this.onDataBound);
    socket.on('close', this.onCloseBound);
    socket.on('drain', this.onDrainBound);
  }

  // ------------------------------------------------------------ reading

  onData(d: Buffer): void {
    const p = this.pending;
    if (p === null) this.process(d, 0);
    else {
      this.pending = null;
      this.process(Buffer.concat([p, d]), 0);
    }
  }

  /** Reads buf[start..] as far as the state allows; what must wait is kept in `pending`. */
  private process(buf: Buffer, start: number): void {
    while (start >= 0 && start < buf.length) {
      switch (this.state) {
        case ReadState.Head:
          start = this.readHead(buf, start);
          break;
        case ReadState.Body:
          start = this.readBody(buf, start);
          break;
        case ReadState.Wait:
          this.pending = start === 0 ? buf : buf.subarray(start);
          this.updateReading();
          return;
        default:
          return;
      }
    }
  }

  /** One request head from buf[start..]: where its body starts, or -1 (more bytes needed, refused, or upgraded). */
  private readHead(buf: Buffer, start: number): number {
    if (this.idle) {
      // The next request has begun: headersTimeout from now.
      this.idle = false;
      this.sinceTick = this.server.tick;
    }
    const limits = this.server.limits;
    const end = findHeadEnd(buf, start + this.scanFrom, buf.length);
    if (end < 0) {
      this.refuse(HeadError.BadRequest);
      return -1;
    }
    if (end === 0) {
      if (buf.length - start > limits.maxHeaderSize) {
        this.refuse(requestLineOver(buf, start, limits.maxHeaderSize) ? HeadError.UriTooLong : HeadError.TooLarge);
        return -1;
      }
      this.pending = start === 0 ? buf : buf.subarray(start);
      this.scanFrom = lastLineStart(this.pending, 0, this.pending.length);
      return -1;
    }
    this.scanFrom = 0;
    if (end - start > limits.maxHeaderSize) {
      this.refuse(requestLineOver(buf, start, limits.maxHeaderSize) ? HeadError.UriTooLong : HeadError.TooLarge);
      return -1;
    }
    // Empty lines before a request line are ignored (RFC 9112 §2.2).
    if (end - start === 2) return end;
    const req = new H1ServerRequest(this);
    const err = parseHead(buf, start, end, limits.maxHeaderFields, req);
    if (err !== 0) {
      this.refuse(err);
      return -1;
    }
    return this.startRequest(req, buf, end) ? end : -1;
  }

  /** A parsed head becomes the current request. False when the connection left HTTP/1.1 (upgrade). */
  private startRequest(req: H1ServerRequest, buf: Buffer, start: number): boolean {
    this.current = req;
    this.discardBody = false;
    this.sinceTick = this.server.tick;
    // `Upgrade: h2c` is served as the plain request it also is (RFC 9113 §3.1 removed h2c upgrades).
    if (req.upgrade !== '' && req.upgrade.toLowerCase() !== 'h2c') {
      this.detach();
      this.server.handler.onUpgrade(this, req, this.socket, buf.subarray(start));
      return false;
    }
    if (req.bodyKind === BodyKind.None) {
      req.complete = true;
      this.state = ReadState.Wait;
    } else {
      this.state = ReadState.Body;
      this.bodyRemaining = req.contentLength;
      if (req.bodyKind === BodyKind.Chunked) this.decoder.reset();
    }
    this.server.handler.onRequest(this, req);
    if (req.complete && this.current === req && !req.finished) req.handler?.onBodyEnd(req);
    return true;
  }

  /** Body bytes of the current request from buf[start..]: where the bytes after it start, or -1. */
  private readBody(buf: Buffer, start: number): number {
    const req = this.current!;
    let next: number;
    if (req.bodyKind === BodyKind.Length) {
      const n = Math.min(buf.length - start, this.bodyRemaining);
      this.bodyRemaining -= n;
      next = start + n;
      if (n > 0) this.onBodyData(n === buf.length ? buf : buf.subarray(start, next));
      if (this.bodyRemaining > 0) return next;
    } else {
      next = this.decoder.decode(buf, start, this);
      if (next < 0) {
        this.refuse(HeadError.BadRequest);
        return -1;
      }
      if (!this.decoder.done) return next;
    }
    req.complete = true;
    this.state = ReadState.Wait;
    if (!this.discardBody) req.handler?.onBodyEnd(req);
    else if (req.finished) {
      // Answered before its body ended: the next request may follow.
      if (req.closeAfter) {
        this.state = ReadState.Discard;
        return -1;
      }
      this.nextRequest();
    }
    return next;
  }

  /** BodySink: chunk data of the current request. */
  onBodyData(data: Buffer): void {
    if (this.discardBody) return;
    const req = this.current!;
    req.handler?.onBodyData(req, data);
  }

  /** Pauses the socket while the request body is held back or a response is awaited with bytes pending. */
  updateReading(): void {
    const req = this.current;
    const pause = this.state === ReadState.Wait ? this.pending !== null : this.state === ReadState.Body && req !== null && req.paused && !this.discardBody;
    if (pause === this.readPaused || this.state === ReadState.Gone) return;
    this.readPaused = pause;
    if (pause) this.socket.pause();
    else this.socket.resume();
  }

  /** The response of the current request is complete and its body read: the connection waits for the next head. */
  private nextRequest(): void {
    this.current = null;
    this.state = ReadState.Head;
    this.idle = true;
    this.sinceTick = this.server.tick;
    const p = this.pending;
    if (p !== null) {
      this.pending = null;
      // Pipelined bytes are parsed on the next tick: not inside the writer's call stack.
      process.nextTick(readPending, this, p);
    }
    this.updateReading();
  }

  /** A head the connection will not serve: the server's answer, then close. */
  refuse(err: HeadError): void {
    const answer = this.server.handler.refused(this, err);
    this.state = ReadState.Discard;
    this.pending = null;
    const cur = this.current;
    if (cur !== null && !cur.finished) {
      if (cur.headersSent) {
        // A response is under way: another cannot follow it.
        this.socket.destroy();
        return;
      }
      // A bad chunk in a body being relayed: the answer is ours, the request's own response will not come.
      cur.headersSent = true;
      cur.finished = true;
      cur.handler?.onAborted(cur);
    }
    if (answer !== null) this.queue(answer, answer.length);
    this.closeAfterFlush();
  }

  // ------------------------------------------------------------ writing

  respond(req: H1ServerRequest, status: number, fields: readonly string[], endStream: boolean, close: boolean): void {
    if (req.headersSent || this.state === ReadState.Gone) return;
    req.headersSent = true;
    const noContent = hasNoContent(status, req.method === 'HEAD');
    req.noContent = noContent;
    let head = statusLine(status);
    let length = false;
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i]!;
      if (name.length === 14 && name === 'content-length') {
        if (status === 204 || status === 304) continue;
        length = true;
      }
      head += name + ': ' + fields[i + 1]! + '\r\n';
    }
    let closeAfter = close || !req.keepAlive || this.server.draining;
    if (!noContent && !length) {
      if (endStream) head += 'content-length: 0\r\n';
      else if (req.minor === 1) {
        head += 'transfer-encoding: chunked\r\n';
        req.chunkedOut = true;
      } else {
        // RFC 9112 §6.3: an HTTP/1.0 client reads the body until the connection closes.
        closeAfter = true;
      }
    }
    if (closeAfter) head += 'connection: close\r\n\r\n';
    else head += req.minor === 0 ? 'connection: keep-alive\r\n\r\n' : '\r\n';
    req.closeAfter = closeAfter;
    this.queue(head, head.length);
    if (endStream) this.endResponse(req, undefined);
  }

  writeBody(req: H1ServerRequest, data: Buffer): boolean {
    if (req.finished || req.noContent || data.length === 0 || this.state === ReadState.Gone) return true;
    if (req.chunkedOut) {
      this.queue(data.length.toString(16) + '\r\n', 0);
      this.queue(data, data.length);
      this.queue(CRLF, 2);
    } else {
      this.queue(data, data.length);
    }
    if (this.outBytes + this.socket.writableLength < HIGH_WATER) return true;
    const w = this.drainWaiters;
    if (w.length === 0 || w[w.length - 1] !== req) w.push(req);
    return false;
  }

  endResponse(req: H1ServerRequest, trailers: readonly string[] | undefined): void {
    if (req.finished) return;
    if (!req.headersSent) this.respond(req, 200, EMPTY_FIELDS, false, false);
    req.finished = true;
    if (req.chunkedOut) {
      if (trailers !== undefined && trailers.length > 0) {
        const t = lastChunkWithTrailers(trailers);
        this.queue(t, t.length);
      } else {
        this.queue(LAST_CHUNK, LAST_CHUNK.length);
      }
    }
    if (this.current !== req) return;
    // A response whose head went out before the owner began draining could not say `Connection: close`: close after it.
    if (req.closeAfter || this.server.draining) {
      this.closeAfterFlush();
      return;
    }
    if (req.complete) this.nextRequest();
    else {
      // Answered early: the rest of the body is read and dropped, then the next request.
      this.discardBody = true;
      if (req.paused) {
        req.paused = false;
      }
      this.updateReading();
    }
  }

  informational(req: H1ServerRequest, status: number, fields: readonly string[] | undefined): void {
    if (req.headersSent || req.minor === 0 || this.state === ReadState.Gone) return;
    const head = informationalHead(status, fields);
    this.queue(head, head.length);
  }

  private queue(part: Buffer | string, length: number): void {
    this.out.push(part);
    this.outBytes += length;
    if (!this.flushScheduled) scheduleFlush(this);
  }

  /** Flushable: everything queued in this turn, as one write. */
  flush(): void {
    const out = this.out;
    const n = out.length;
    if (n === 0 || this.state === ReadState.Gone && this.socket.destroyed) {
      this.out.length = 0;
      this.outBytes = 0;
      return;
    }
    writeParts(this.socket, out);
    this.out = [];
    this.outBytes = 0;
    // writeBody refused on what was queued plus what the socket held; the
    // socket itself only promises a 'drain' when its own write() refused
    // (its high-water mark: 16 KiB on Node 20, 64 KiB from Node 22). When it
    // took everything, the waiters are told now, or they would wait for good.
    if (this.drainWaiters.length > 0 && !this.socket.writableNeedDrain) this.onSocketDrain();
    if (this.closing) this.lingeringClose();
  }

  private onSocketDrain(): void {
    const w = this.drainWaiters;
    if (w.length === 0) return;
    this.drainWaiters = [];
    for (const req of w) req.handler?.onDrain(req);
  }

  /** What is queued goes out, then our side closes; the client's bytes are read and dropped until it closes or LINGER_MS. */
  closeAfterFlush(): void {
    if (this.state === ReadState.Gone) return;
    this.closing = true;
    this.state = ReadState.Discard;
    this.pending = null;
    if (this.out.length === 0) this.lingeringClose();
    else if (!this.flushScheduled) scheduleFlush(this);
  }

  private lingeringClose(): void {
    if (this.state === ReadState.Gone) return;
    this.state = ReadState.Gone;
    const s = this.socket;
    s.end();
    s.resume();
    setTimeout(destroySocket, LINGER_MS, s).unref();
  }

  /** The connection stops reading HTTP/1.1: listeners off, the socket is its new owner's (an upgrade). */
  private detach(): void {
    this.state = ReadState.Gone;
    const s = this.socket;
    s.pause();
    s.removeListener('data', this.onDataBound);
    s.removeListener('close', this.onCloseBound);
    s.removeListener('drain', this.onDrainBound);
    this.server.forget(this);
  }

  private onClose(): void {
    this.state = ReadState.Gone;
    this.pending = null;
    this.server.forget(this);
    const req = this.current;
    this.current = null;
    const aborted = req !== null && !req.finished ? req : null;
    if (aborted !== null) aborted.handler?.onAborted(aborted);
    // Bytes of a finished response that left, or never will (no 'drain' comes after end()): its writer is told as if they had.
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const r of w) if (r !== aborted) r.handler?.onDrain(r);
  }

  /** The connection is between requests: closing it loses nothing. */
  get isIdle(): boolean {
    return this.current === null && this.state === ReadState.Head;
  }

  /** Closes the connection now (idle, or the server is going away). */
  destroy(): void {
    this.socket.destroy();
  }
}

const EMPTY_FIELDS: string[] = [];

function readPending(c: H1ServerConnection, p: Buffer): void {
  if (c.state === ReadState.Head) c.onData(p);
}

function destroySocket(s: net.Socket): void {
  s.destroy();
}

/**
 * Whether the request line alone is over the limit (414, RFC 9112 §3)
 * rather than the head as a whole (431, RFC 6585 §5).
 */
function requestLineOver(buf: Buffer, start: number, max: number): boolean {
  const lf = buf.indexOf(0x0a, start);
  return lf < 0 ? buf.length - start > max : lf - start >= max;
}
