/**
 * One HTTP/2 connection in either role over any duplex socket (RFC 9113):
 * the public API, the wiring of the per-connection parts, frame dispatch by
 * type (§5.5: unknown types are ignored; §8.4: PUSH_PROMISE is never
 * enabled), error handling (§5.4: a stream error resets the stream, a
 * connection error sends GOAWAY and closes), closing, the flush that moves
 * queued DATA and hands the batch to the socket, and the coarse tick.
 *
 * The parts, created once per connection; the rules that use them are plain
 * functions over (connection, stream) in the files named after them:
 *   reader  codec/framed-read.ts    preface, frames, header blocks
 *   writer  codec/framed-write.ts   slab, batch, socket
 *   settings, pingPong, goAway, flood   proto/settings.ts, ping-pong.ts, go-away.ts, flood-guard.ts
 *   streams, counts, recentlyClosed, flow, sendList   proto/streams/
 */
import type { Duplex } from 'node:stream';
import { CLIENT_PREFACE, ErrorCode, FrameType, MAX_STREAM_ID } from '../constants.js';
import { Http2ConnectionClosedError, Http2Error, connectionError } from '../errors.js';
import { FramedRead, type FrameSink } from '../codec/framed-read.js';
import { FramedWrite } from '../codec/framed-write.js';
import { scheduleFlush, type Flushable } from '../codec/flush-scheduler.js';
import { writeGoAway } from '../frame/go-away.js';
import { checkPriority } from '../frame/priority.js';
import { writeRstStream } from '../frame/rst-stream.js';
import type { PeerSettings } from '../frame/settings.js';
import { HpackError } from '../hpack/index.js';
import { resolveOptions, type Http2Options, type ResolvedOptions } from '../options.js';
import { addTickable, removeTickable, type Tickable } from '../ticker.js';
import { FloodGuard } from './flood-guard.js';
import { GOAWAY_DRAINING, GOAWAY_NONE, GoAway, drainTimeout, finishGracefulGoAway, recvGoAway, shutdown } from './go-away.js';
import { ASSUMED_PEER_STREAMS, unprocessedOnClose } from './peer.js';
import { PingPong, keepalive, recvPing, sendPing } from './ping-pong.js';
import { Settings, recvSettings, settingsAckOverdue, writeLocalSettings } from './settings.js';
import { Counts } from './streams/counts.js';
import { FlowControl, advertiseConnectionWindow, checkStall, consume, recvWindowUpdate } from './streams/flow-control.js';
import { SendList, writeQueued } from './streams/prioritize.js';
import { recvData, recvHeaders, recvRstStream } from './streams/recv.js';
import {
  openStream, resetStream, resetWhenSent, sendData, sendHeaders, sendTrailers,
} from './streams/send.js';
import { CLOSED_LOCAL_RESET, ClosedStreams, closeStream } from './streams/state.js';
import { StreamTable } from './streams/store.js';
import { IDLE_SWEEP_MS, sweepIdleStreams } from './streams/idle.js';
import { ResetReason, type Http2Stream, type StreamHandler } from './streams/stream.js';

/** Connection-level callbacks. */
export interface ConnectionHandler {
  /** Server role: a new request stream. Set `stream.handler` before returning. */
  onStream?(connection: Http2Connection, stream: Http2Stream, headers: string[], endStream: boolean): void;
  /** The peer's SETTINGS were applied (the first time and on every change). */
  onSettings?(connection: Http2Connection): void;
  /** The peer sent GOAWAY: no new streams on this connection. */
  onGoaway?(connection: Http2Connection, lastStreamId: number, errorCode: number): void;
  /** A stream closed (either way): a concurrency slot is free again. */
  onStreamClosed?(connection: Http2Connection, stream: Http2Stream): void;
  /** The connection is closed; called once. `error` is set when it failed. */
  onClose?(connection: Http2Connection, error: Error | undefined): void;
  /**
   * Flow control made no progress for `stallTimeout` ms: DATA waits on a send
   * window the peer does not replenish, or our receive window stays nearly
   * exhausted. Called once per connection; the user decides (the upstream
   * pool stops using it, opens a replacement and sends GOAWAY).
   */
  onStall?(connection: Http2Connection, direction: 'send' | 'receive'): void;
}

/**
 * One HTTP/2 connection in either role over any duplex socket (RFC 9113).
 * Reads frames from views of the socket's buffers, applies the protocol's
 * state machine and flow control, and batches every frame it writes into
 * one socket write per event-loop turn.
 */
export class Http2Connection implements Flushable, Tickable, FrameSink {
  readonly isServer: boolean;
  handler: ConnectionHandler;
  /** A slot for the user's per-connection object. */
  user: unknown = undefined;
  readonly options: ResolvedOptions;
  /** The peer's settings (RFC defaults until its first SETTINGS frame). */
  readonly peerSettings: PeerSettings;
  /** Open streams by id. */
  readonly streams = new StreamTable();
  closed = false;
  flushScheduled = false;
  flushPass = 0;

  // The parts (engine-internal; the functions of codec/ and proto/ work on them).
  readonly reader: FramedRead;
  readonly writer: FramedWrite;
  readonly settings = new Settings();
  readonly pingPong = new PingPong();
  readonly goAway = new GoAway();
  readonly flood: FloodGuard;
  readonly counts: Counts;
  readonly recentlyClosed = new ClosedStreams();
  readonly flow: FlowControl;
  readonly sendList = new SendList();
  /** A connection error was raised: GOAWAY sent, nothing more is read or sent. */
  failed = false;

  /** When the idle streams are next looked for (coarse clock). */
  private nextIdleSweep = 0;
  private readonly socket: Duplex;
  private closeError: Error | undefined;

  constructor(socket: Duplex, isServer: boolean, handler: ConnectionHandler, options?: Http2Options, head?: Buffer) {
    this.socket = socket;
    this.isServer = isServer;
    this.handler = handler;
    this.options = resolveOptions(options, isServer);
    this.peerSettings = this.settings.peer;
    this.reader = new FramedRead(this, this.options, isServer);
    this.writer = new FramedWrite(socket);
    this.flood = new FloodGuard(this.options);
    this.counts = new Counts(isServer);
    this.flow = new FlowControl(this.options);

    const s = socket as Duplex & { setNoDelay?(v: boolean): void };
    if (typeof s.setNoDelay === 'function') s.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onSocketData(chunk));
    socket.on('drain', () => {
      this.writer.blocked = false;
      scheduleFlush(this);
    });
    socket.on('error', (err: Error) => {
      if (this.closeError === undefined) this.closeError = err;
    });
    socket.on('end', () => {
      // The peer will send nothing more; finish our side too.
      if (!this.closed) this.endSocket();
    });
    socket.on('close', () => this.onSocketClose());

    // §3.4: the client sends the preface; both sides send SETTINGS first.
    if (!isServer) this.writer.raw(CLIENT_PREFACE);
    writeLocalSettings(this);
    advertiseConnectionWindow(this);
    addTickable(this);
    scheduleFlush(this);
    if (head !== undefined && head.length > 0) this.onSocketData(head);
  }

  // ---------------------------------------------------------------- state (read-only)

  /** True once the peer's first SETTINGS frame arrived. */
  get peerSettingsReceived(): boolean {
    return this.settings.peerReceived;
  }

  /** Streams we opened that are not closed. */
  get localActive(): number {
    return this.counts.localActive;
  }

  /** Streams the peer opened that are not closed. */
  get peerActive(): number {
    return this.counts.peerActive;
  }

  get lastPeerStreamId(): number {
    return this.counts.lastPeerStreamId;
  }

  /** The peer sent GOAWAY. */
  get goawayReceived(): boolean {
    return this.goAway.received;
  }

  /** The last-stream-id of the peer's GOAWAY (MAX_STREAM_ID until then). */
  get peerGoawayLastId(): number {
    return this.goAway.peerLastId;
  }

  /** Round-trip time of the last answered PING, ms (-1 before any). */
  get pingRtt(): number {
    return this.pingPong.rtt;
  }

  /** onStall was reported. */
  get stalled(): boolean {
    return this.flow.stalled;
  }

  /** Client role: whether a new request may be sent now. */
  get canRequest(): boolean {
    return (
      !this.closed &&
      !this.failed &&
      this.goAway.sent === GOAWAY_NONE &&
      !this.goAway.received &&
      this.counts.nextStreamId <= MAX_STREAM_ID &&
      this.counts.localActive < this.peerMaxStreams
    );
  }

  /** The peer's stream limit, assumed ASSUMED_PEER_STREAMS until its SETTINGS arrive. */
  get peerMaxStreams(): number {
    return this.settings.peerReceived ? this.peerSettings.maxConcurrentStreams : ASSUMED_PEER_STREAMS;
  }

  // Flow-control state (proto/streams/flow-control.ts), for gauges and tests.

  /** Connection receive window: octets the peer may still send us. */
  get recvWindow(): number {
    return this.flow.recvWindow;
  }

  /** Octets handled by the user and not yet returned to the peer with WINDOW_UPDATE. */
  get recvUnacked(): number {
    return this.flow.recvUnacked;
  }

  /** Octets delivered to the user and not yet consumed (nor credited by a reset). */
  get recvOutstanding(): number {
    return this.flow.recvOutstanding;
  }

  /** The receive window we advertise for the connection. */
  get recvWindowConfigured(): number {
    return this.flow.recvConfigured;
  }

  /** Connection send window: octets we may still send. */
  get sendWindow(): number {
    return this.flow.sendWindow;
  }

  /** DATA octets queued on streams. */
  get queuedBytes(): number {
    return this.flow.queuedBytes;
  }

  /**
   * Receive credit unaccounted for: configured − window − unacked − outstanding.
   * Always 0 unless credit leaked; asserted in tests and exported as a metric.
   */
  get recvLeaked(): number {
    const f = this.flow;
    return f.recvConfigured - f.recvWindow - f.recvUnacked - f.recvOutstanding;
  }

  // ---------------------------------------------------------------- API (streams: proto/streams/send.ts)

  /** Client role: opens a stream with request headers. Check `canRequest` first. */
  request(headers: readonly string[], endStream: boolean, handler: StreamHandler, user?: unknown): Http2Stream {
    if (!this.canRequest) throw new Http2ConnectionClosedError('connection cannot take new streams');
    return openStream(this, headers, endStream, handler, user);
  }

  sendHeaders(s: Http2Stream, headers: readonly string[], endStream: boolean): void {
    sendHeaders(this, s, headers, endStream);
  }

  sendData(s: Http2Stream, data: Buffer, endStream: boolean): void {
    sendData(this, s, data, endStream);
  }

  sendTrailers(s: Http2Stream, trailers: readonly string[]): void {
    sendTrailers(this, s, trailers);
  }

  resetStream(s: Http2Stream, errorCode: number): void {
    resetStream(this, s, errorCode);
  }

  /** See Http2Stream.resetWhenSent. */
  resetWhenSent(s: Http2Stream, code: number): void {
    resetWhenSent(this, s, code);
  }

  /** Returns receive credit for `n` bytes the user handled (§6.9); see Http2Stream.consume. */
  consume(s: Http2Stream, n: number): void {
    consume(this, s, n);
  }

  /** Sends a PING; the answer updates `pingRtt`. */
  ping(): void {
    if (this.failed || this.closed) return;
    sendPing(this);
  }

  /**
   * Graceful shutdown (§6.8). As server: GOAWAY with the maximum stream id and a
   * PING, then, once the PING is answered (or after a second), GOAWAY with the
   * last stream actually accepted; the connection closes when its streams end.
   * As client: GOAWAY, no new requests, close when idle.
   */
  shutdown(): void {
    if (this.goAway.sent !== GOAWAY_NONE || this.failed || this.closed) return;
    shutdown(this);
  }

  /** Closes at once: streams are reset (CONNECTION_LOST) and the socket destroyed. */
  destroy(error?: Error): void {
    if (this.closed) return;
    if (error !== undefined && this.closeError === undefined) this.closeError = error;
    this.socket.destroy();
    this.onSocketClose();
  }

  /** Connection error (§5.4.1): GOAWAY with the code, then close. */
  fail(errorCode: number, message: string): void {
    if (this.failed || this.closed) return;
    this.failed = true;
    this.reader.stopped = true;
    this.options.counters.connectionErrors++;
    if (this.closeError === undefined) this.closeError = connectionError(errorCode, message);
    writeGoAway(this.writer, this.counts.lastPeerStreamId, errorCode, message.length > 200 ? message.slice(0, 200) : message);
    this.writer.writeBatch();
    this.abortStreams(ResetReason.CONNECTION_LOST, errorCode);
    this.endSocket();
  }

  /** Ends our side of the socket after a last flush. */
  endSocket(): void {
    this.flush();
    // Node ends our side by itself when the peer's FIN arrives (allowHalfOpen
    // off): ending it again would only build an ERR_STREAM_ALREADY_FINISHED.
    if (!this.socket.writableEnded) this.socket.end();
    // A peer that never closes its side must not hold the socket forever.
    if (this.lingerTimer === undefined) {
      this.lingerTimer = setTimeout(destroySocket, 2000, this.socket);
      this.lingerTimer.unref();
    }
  }

  /** Destroys the socket if the peer has not closed it 2 s after our side ended. */
  private lingerTimer: NodeJS.Timeout | undefined = undefined;

  /** Moves queued DATA into the batch as flow control allows and hands the batch to the socket. */
  flush(): void {
    if (this.closed) return;
    // After a connection error, or once our side of the socket ended, queued DATA can never leave:
    // moving it (or asking to be flushed again) would spin the shared flush loop forever.
    const canSend = !this.writer.blocked && !this.failed && this.socket.writable;
    if (canSend && this.sendList.streams.length > 0) writeQueued(this);
    this.writer.writeBatch();
    if (canSend && this.sendList.streams.length > 0 && this.flow.sendWindow > 0) scheduleFlush(this);
  }

  // ---------------------------------------------------------------- receiving (FrameSink)

  private onSocketData(chunk: Buffer): void {
    if (this.closed || this.failed) return;
    try {
      this.reader.read(chunk);
    } catch (err) {
      if (err instanceof Http2Error) this.fail(err.errorCode, err.message);
      else if (err instanceof HpackError) this.fail(ErrorCode.COMPRESSION_ERROR, err.message);
      else this.fail(ErrorCode.INTERNAL_ERROR, String((err as Error)?.message ?? err));
    }
  }

  /** A frame from the reader (HEADERS and CONTINUATION arrive as decoded blocks, onHeaderBlock). */
  onFrame(type: number, flags: number, streamId: number, buf: Buffer, start: number, length: number): void {
    switch (type) {
      case FrameType.DATA:
        return recvData(this, flags, streamId, buf, start, length);
      case FrameType.PRIORITY:
        this.flood.countPriority();
        return checkPriority(streamId, buf, start, length);
      case FrameType.RST_STREAM:
        return recvRstStream(this, streamId, buf, start, length);
      case FrameType.SETTINGS:
        return recvSettings(this, flags, streamId, buf, start, length);
      case FrameType.PUSH_PROMISE:
        // We never enable push (§8.4): as client SETTINGS_ENABLE_PUSH is 0; a server never receives it.
        throw connectionError(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE received');
      case FrameType.PING:
        if (recvPing(this, flags, streamId, buf, start, length)) finishGracefulGoAway(this);
        return;
      case FrameType.GOAWAY:
        return recvGoAway(this, streamId, buf, start, length);
      case FrameType.WINDOW_UPDATE:
        return recvWindowUpdate(this, streamId, buf, start, length);
      default:
        // §5.5: unknown frame types are ignored.
        return;
    }
  }

  onHeaderBlock(
    streamId: number, flags: number, headers: string[], listSize: number, selfDependent: boolean, checked: boolean,
  ): void {
    recvHeaders(this, streamId, flags, headers, listSize, selfDependent, checked);
  }

  /**
   * A stream error (§5.4.2): RST_STREAM, and the stream ends with
   * ResetReason.PROTOCOL_ERROR. The reset counts towards the same flood limit
   * as resets received: a peer that makes us reset its streams (MadeYouReset,
   * CVE-2025-8671) costs us what a peer resetting them itself does.
   */
  onStreamError(err: Http2Error): void {
    this.options.counters.streamErrors++;
    if (err.errorCode === ErrorCode.REFUSED_STREAM) this.options.counters.refusedStreams++;
    writeRstStream(this.writer, err.streamId, err.errorCode);
    scheduleFlush(this);
    const s = this.streams.get(err.streamId);
    if (s !== undefined) {
      closeStream(this, s, CLOSED_LOCAL_RESET);
      s.handler.onReset(s, err.errorCode, ResetReason.PROTOCOL_ERROR);
    } else {
      this.recentlyClosed.remember(err.streamId, CLOSED_LOCAL_RESET);
    }
    this.flood.countReset();
  }

  // ---------------------------------------------------------------- timers, close

  onTick(now: number): void {
    if (this.closed || this.failed) return;
    this.writer.releaseIfIdle();
    if (settingsAckOverdue(this.settings, now)) {
      this.fail(ErrorCode.SETTINGS_TIMEOUT, 'SETTINGS not acknowledged in time');
      return;
    }
    if (this.goAway.sent === GOAWAY_DRAINING) drainTimeout(this, now);
    if (this.options.stallTimeout > 0 && !this.flow.stalled) checkStall(this, now);
    if (this.options.streamIdleTimeout > 0 && now >= this.nextIdleSweep) {
      this.nextIdleSweep = now + IDLE_SWEEP_MS;
      sweepIdleStreams(this, now);
    }
    keepalive(this, now);
  }

  private abortStreams(reason: number, errorCode: number): void {
    if (this.streams.size === 0) return;
    const all = this.streams.list();
    for (const s of all) {
      const unprocessed = unprocessedOnClose(this.isServer, s.id, this.goAway.peerLastId);
      closeStream(this, s, CLOSED_LOCAL_RESET);
      s.handler.onReset(s, errorCode, unprocessed ? ResetReason.UNPROCESSED : reason);
    }
  }

  private onSocketClose(): void {
    if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
    if (this.closed) return;
    this.closed = true;
    this.reader.stopped = true;
    removeTickable(this);
    const err = this.closeError ?? (this.streams.size > 0 ? new Http2ConnectionClosedError('connection closed') : undefined);
    this.abortStreams(ResetReason.CONNECTION_LOST, ErrorCode.CANCEL);
    this.handler.onClose?.(this, err);
  }
}

function destroySocket(socket: Duplex): void {
  socket.destroy();
}
