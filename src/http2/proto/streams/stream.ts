/**
 * One stream (RFC 9113 §5.1): `Http2Stream` with its flat per-stream fields —
 * state, windows and credit (§6.9), the send queue, the received message's
 * length (§8.1.1) — and the user's `StreamHandler`. The rules that change
 * these fields live beside it: state.ts, flow-control.ts, send.ts, recv.ts,
 * prioritize.ts.
 */
import type { Http2Connection } from '../connection.js';
import { consume } from './flow-control.js';
import { resetStream, resetWhenSent, sendData, sendHeaders, sendTrailers } from './send.js';
import { StreamState } from './state.js';
import { coarseNow } from '../../ticker.js';

/** Why a stream ended abnormally, passed to StreamHandler.onReset. */
export const ResetReason = {
  /** The peer sent RST_STREAM. */
  PEER_RESET: 0,
  /** The peer broke a protocol rule on this stream; we reset it. */
  PROTOCOL_ERROR: 1,
  /** The connection closed or failed before the stream ended. */
  CONNECTION_LOST: 2,
  /**
   * The peer did not process the stream: it was above the peer's GOAWAY
   * last-stream-id or refused with REFUSED_STREAM (§8.7). Safe to send again.
   */
  UNPROCESSED: 3,
  /** Nothing moved on the stream for the connection's streamIdleTimeout (and the handler has no onIdle, or did not end it). */
  IDLE_TIMEOUT: 4,
} as const;

/**
 * Per-stream callbacks. One object per request (the proxy's exchange), so no
 * closure is created per request. Headers and trailers are flat [name, value, …] arrays.
 */
export interface StreamHandler {
  /** Response headers (client role), including 1xx informational ones (check :status). */
  onHeaders(stream: Http2Stream, headers: string[], endStream: boolean): void;
  /** A DATA payload (a view; valid as long as it is referenced). Call stream.consume(n) once it is handled. */
  onData(stream: Http2Stream, data: Buffer, endStream: boolean): void;
  /** Trailers; the stream's receiving side has ended. */
  onTrailers(stream: Http2Stream, trailers: string[]): void;
  /** The stream ended abnormally. Not called for resets the user requested. */
  onReset(stream: Http2Stream, errorCode: number, reason: number): void;
  /** `bytes` of DATA queued by sendData left for the socket: the moment to take more from a relayed peer. */
  onDataSent(stream: Http2Stream, bytes: number): void;
  /**
   * `bytes` of DATA passed to sendData will never leave: the stream was reset
   * or closed with them queued. A relay credits their source as if they were sent.
   */
  onDataDropped?(stream: Http2Stream, bytes: number): void;
  /**
   * Nothing moved on the stream (no frame received, no DATA sent) for the
   * connection's streamIdleTimeout. The handler should end it; if it is still
   * open and idle a grace period later, the engine resets it (CANCEL) and
   * calls onReset with ResetReason.IDLE_TIMEOUT. Without onIdle that happens at once.
   */
  onIdle?(stream: Http2Stream): void;
}

/** A stream handler that ignores everything: the default until the user sets one. */
export const IGNORE_STREAM: StreamHandler = {
  onHeaders() {},
  onData(stream, data) {
    stream.consume(data.length);
  },
  onTrailers() {},
  onReset() {},
  onDataSent() {},
};

/** One HTTP/2 stream (§5.1). Created by the connection; user code calls its send methods. */
export class Http2Stream {
  state: number = StreamState.OPEN;
  handler: StreamHandler = IGNORE_STREAM;
  /** A slot for the user's per-stream object. */
  user: unknown = undefined;

  /** Send side: credit the peer granted us (may go negative after a SETTINGS change, §6.9.2). */
  sendWindow: number;
  /** Receive side: credit we granted and the peer has not used. */
  recvWindow: number;
  /** Bytes the user consumed that we have not yet returned with WINDOW_UPDATE. */
  recvUnacked = 0;
  /** Bytes delivered to the user and not yet consumed (or credited back by an abnormal end). */
  recvOutstanding = 0;
  /** Reset with this code once our side has been written in full (-1: no). */
  resetAfterEnd = -1;
  /** Last time a frame arrived on the stream or its DATA left (coarse clock), for the idle timeout. */
  lastActive = coarseNow;
  /** The handler was told the stream is idle (onIdle). */
  idleNotified = false;

  /** Queued DATA not yet sent (flow control or socket back-pressure). */
  queue: Buffer[] = [];
  queueHead = 0;
  queuedBytes = 0;
  /** END_STREAM to send once the queue drains. */
  endAfterQueue = false;
  /** Trailers to send once the queue drains. */
  trailersAfterQueue: string[] | null = null;
  /** The user has finished sending (END_STREAM queued or written). */
  localEnded = false;
  /** The peer has finished sending. */
  remoteEnded = false;
  /** In the connection's send list (prioritize.ts). */
  inSendList = false;

  /** Client role: the final (non-1xx) response headers arrived. Server role: always true. */
  headersDone: boolean;
  /** Expected content-length of the received message, or -1. */
  expectedLength = -1;
  receivedLength = 0;
  /** Client role: the request was HEAD (response bodies are empty whatever content-length says). */
  isHead = false;

  constructor(
    readonly id: number,
    readonly connection: Http2Connection,
    sendWindow: number,
    recvWindow: number,
    headersDone: boolean,
  ) {
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
    this.headersDone = headersDone;
  }

  /** Sends response headers (server) or additional headers. */
  respond(headers: readonly string[], endStream: boolean): void {
    sendHeaders(this.connection, this, headers, endStream);
  }

  /** Queues DATA; sent as flow control allows. `endStream` ends our side. */
  sendData(data: Buffer, endStream: boolean): void {
    sendData(this.connection, this, data, endStream);
  }

  /** Ends our side with trailers (after any queued DATA). */
  sendTrailers(trailers: readonly string[]): void {
    sendTrailers(this.connection, this, trailers);
  }

  /** Ends our side with an empty END_STREAM DATA frame. */
  end(): void {
    sendData(this.connection, this, EMPTY, true);
  }

  /** Resets the stream (RST_STREAM). Handlers are not called. */
  reset(errorCode: number): void {
    resetStream(this.connection, this, errorCode);
  }

  /**
   * Once our side is completely written, reset the stream with `code` if the
   * peer is still sending: RFC 9113 §8.1 lets a server that sent a complete
   * response ask the client to stop sending the request (NO_ERROR). Nothing
   * queued is lost; a stream already closed is left alone.
   */
  resetWhenSent(code: number): void {
    resetWhenSent(this.connection, this, code);
  }

  /** The user has handled `n` received bytes: the peer may send that much more (§6.9). */
  consume(n: number): void {
    consume(this.connection, this, n);
  }

  get closed(): boolean {
    return this.state === StreamState.CLOSED;
  }
}

const EMPTY = Buffer.alloc(0);
