import type { Duplex } from 'node:stream';
import {
  CLIENT_PREFACE, DEFAULT_WINDOW, ErrorCode, Flags, FrameType, MAX_STREAM_ID, MAX_WINDOW,
  SettingId,
} from '../constants.js';
import { Http2ConnectionClosedError, Http2Error, connectionError, streamError } from '../errors.js';
import { FramedRead, type FrameSink } from '../codec/framed-read.js';
import { FramedWrite } from '../codec/framed-write.js';
import { dataPadding, writeData } from '../frame/data.js';
import { writeGoAway, parseGoAway } from '../frame/go-away.js';
import { writeHeaders } from '../frame/headers.js';
import { checkPing, writePing } from '../frame/ping.js';
import { checkPriority } from '../frame/priority.js';
import { parseRstStream, writeRstStream } from '../frame/rst-stream.js';
import { checkSettings, writeSettings, writeSettingsAck } from '../frame/settings.js';
import { windowIncrement, writeWindowUpdate } from '../frame/window-update.js';
import { scheduleFlush, type Flushable } from '../codec/flush-scheduler.js';
import { HpackError } from '../hpack/index.js';
import { checkRequest, checkResponse, checkTrailers, contentLength } from '../message-rules.js';
import { resolveOptions, type Http2Options, type ResolvedOptions } from '../options.js';
import { applySettings, initialSettings, type PeerSettings } from '../frame/settings.js';
import { Http2Stream, ResetReason, StreamState, type StreamHandler } from './streams/stream.js';
import { StreamTable } from './streams/store.js';
import { addTickable, coarseNow, removeTickable, type Tickable } from '../ticker.js';

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

/** How a closed stream ended, remembered briefly to answer late frames as §5.1 says. */
const CLOSED_ENDED = 1;
const CLOSED_PEER_RESET = 2;
const CLOSED_LOCAL_RESET = 3;
const CLOSED_MEMORY = 256;

/** Until the peer's SETTINGS arrive we assume it allows this many streams (RFC default is unlimited). */
const ASSUMED_PEER_STREAMS = 100;
/** DATA bytes moved into one write batch before yielding to the socket. */
const FLUSH_HIGH_WATER = 256 * 1024;
/** DATA bytes one stream may send per round before the next stream's turn. */
const STREAM_QUANTUM = 64 * 1024;
/** How long a graceful GOAWAY waits for its PING before the final GOAWAY (§6.8). */
const DRAIN_PING_WAIT = 1000;

/** Payload of the graceful-shutdown PING: exactly 8 octets (§6.7), compared byte for byte on the ACK. */
const SHUTDOWN_PING = Buffer.from('swydrain');
/** A receive window smaller than one frame of the default size: the peer can hardly send. */
const RECV_STALL_WINDOW = 16384;

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
  readonly peerSettings: PeerSettings = initialSettings();
  /** True once the peer's first SETTINGS frame arrived. */
  peerSettingsReceived = false;

  readonly streams = new StreamTable();
  /** Streams we opened that are not closed. */
  localActive = 0;
  /** Streams the peer opened that are not closed. */
  peerActive = 0;
  lastPeerStreamId = 0;
  private nextStreamId: number;

  private readonly socket: Duplex;
  private readonly writer: FramedWrite;
  flushScheduled = false;
  flushPass = 0;
  private readonly reader: FramedRead;

  // Flow control (§6.9). Receive side, for every DATA octet accounted exactly once:
  // connRecvWindow (the peer may still send) + connRecvUnacked (handled, not yet
  // returned by WINDOW_UPDATE) + connRecvOutstanding (delivered to the user, not
  // yet consumed) = options.connectionWindowSize, at all times.
  private connSendWindow = DEFAULT_WINDOW;
  private connRecvWindow = DEFAULT_WINDOW;
  private connRecvUnacked = 0;
  private connRecvOutstanding = 0;
  private connRecvConfigured = DEFAULT_WINDOW;
  /** DATA octets queued on streams, waiting for windows or the socket. */
  private connQueuedBytes = 0;
  /** Last time DATA left or the peer granted send credit (coarse clock). */
  private lastSendProgressAt = coarseNow;
  /** Since when our receive window has been nearly exhausted (0 = it is not). */
  private recvLowSince = 0;
  /** onStall was reported. */
  stalled = false;
  private readonly streamUpdateThreshold: number;
  private readonly connUpdateThreshold: number;
  private sendList: Http2Stream[] = [];

  private readonly closedIds = new Int32Array(CLOSED_MEMORY);
  private readonly closedHow = new Uint8Array(CLOSED_MEMORY);
  private closedPos = 0;

  /** We sent GOAWAY: 0 no, 1 the first of a graceful pair, 2 final. */
  private goawayState = 0;
  private goawayLastId = MAX_STREAM_ID;
  private drainDeadline = 0;
  /** The peer sent GOAWAY with this last-stream-id (MAX_STREAM_ID until then). */
  peerGoawayLastId = MAX_STREAM_ID;
  goawayReceived = false;
  private failed = false;
  closed = false;
  private closeError: Error | undefined;

  private settingsAckDeadline = 0;
  private pingOutstanding = false;
  private pingSentAt = 0;
  private readonly pingPayload = Buffer.alloc(8);
  /** Round-trip time of the last answered PING, ms (-1 before any). */
  pingRtt = -1;

  private floodWindowStart = coarseNow;
  private resetCount = 0;
  private pingCount = 0;
  private settingsCount = 0;
  private emptyDataCount = 0;

  constructor(socket: Duplex, isServer: boolean, handler: ConnectionHandler, options?: Http2Options, head?: Buffer) {
    this.socket = socket;
    this.writer = new FramedWrite(socket);
    this.isServer = isServer;
    this.handler = handler;
    this.options = resolveOptions(options, isServer);
    this.nextStreamId = isServer ? 2 : 1;
    this.reader = new FramedRead(this, this.options, isServer);
    this.streamUpdateThreshold = Math.max(1, this.options.initialWindowSize >>> 1);
    this.connUpdateThreshold = Math.max(1, this.options.connectionWindowSize >>> 1);

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

    if (!isServer) this.writer.raw(CLIENT_PREFACE);
    this.writeLocalSettings();
    addTickable(this);
    scheduleFlush(this);
    if (head !== undefined && head.length > 0) this.onSocketData(head);
  }

  // ---------------------------------------------------------------- sending

  /** Client role: whether a new request may be sent now. */
  get canRequest(): boolean {
    return (
      !this.closed &&
      !this.failed &&
      this.goawayState === 0 &&
      !this.goawayReceived &&
      this.nextStreamId <= MAX_STREAM_ID &&
      this.localActive < this.peerMaxStreams
    );
  }

  /** The peer's stream limit, assumed ASSUMED_PEER_STREAMS until its SETTINGS arrive. */
  get peerMaxStreams(): number {
    return this.peerSettingsReceived ? this.peerSettings.maxConcurrentStreams : ASSUMED_PEER_STREAMS;
  }

  /** Client role: opens a stream with request headers. Check `canRequest` first. */
  request(headers: readonly string[], endStream: boolean, handler: StreamHandler, user?: unknown): Http2Stream {
    if (!this.canRequest) throw new Http2ConnectionClosedError('connection cannot take new streams');
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const s = new Http2Stream(id, this, this.peerSettings.initialWindowSize, this.options.initialWindowSize, false);
    s.handler = handler;
    s.user = user;
    for (let i = 0; i < headers.length; i += 2) {
      const n = headers[i]!;
      if (n.charCodeAt(0) !== 0x3a) break;
      if (n === ':method') {
        s.isHead = headers[i + 1] === 'HEAD';
        break;
      }
    }
    this.streams.set(id, s);
    this.localActive++;
    this.writeHeaderBlock(id, headers, endStream);
    if (endStream) {
      s.localEnded = true;
      s.state = StreamState.HALF_CLOSED_LOCAL;
    }
    this.dirty();
    return s;
  }

  sendHeaders(s: Http2Stream, headers: readonly string[], endStream: boolean): void {
    if (s.state === StreamState.CLOSED || s.localEnded || this.failed) return;
    this.writeHeaderBlock(s.id, headers, endStream);
    if (endStream) {
      s.localEnded = true;
      this.localEndWritten(s);
    }
    this.dirty();
  }

  sendData(s: Http2Stream, data: Buffer, endStream: boolean): void {
    if (s.state === StreamState.CLOSED || s.localEnded || this.failed) {
      // These octets will never leave: say so, so a relay can credit their source.
      if (data.length > 0 && !s.localEnded) s.handler.onDataDropped?.(s, data.length);
      return;
    }
    if (endStream) s.localEnded = true;
    const n = data.length;
    if (
      s.queuedBytes === 0 &&
      !s.inSendList &&
      !this.writer.blocked &&
      n <= s.sendWindow &&
      n <= this.connSendWindow &&
      n <= this.peerSettings.maxFrameSize
    ) {
      // Fast path: nothing queued ahead and the windows allow it all.
      writeData(this.writer, s.id, data, 0, n, endStream);
      s.sendWindow -= n;
      this.connSendWindow -= n;
      this.lastSendProgressAt = coarseNow;
      this.dirty();
      if (endStream) this.localEndWritten(s);
      if (n > 0) s.handler.onDataSent(s, n);
      return;
    }
    if (n > 0) {
      s.queue.push(data);
      s.queuedBytes += n;
      this.connQueuedBytes += n;
    }
    if (endStream) s.endAfterQueue = true;
    this.addToSendList(s);
  }

  sendTrailers(s: Http2Stream, trailers: readonly string[]): void {
    if (s.state === StreamState.CLOSED || s.localEnded || this.failed) return;
    s.localEnded = true;
    if (s.queuedBytes === 0 && !s.inSendList) {
      this.writeHeaderBlock(s.id, trailers, true);
      this.dirty();
      this.localEndWritten(s);
      return;
    }
    s.trailersAfterQueue = trailers as string[];
    this.addToSendList(s);
  }

  resetStream(s: Http2Stream, errorCode: number): void {
    if (s.state === StreamState.CLOSED) return;
    if (!this.failed) {
      writeRstStream(this.writer, s.id, errorCode);
      this.dirty();
    }
    this.closeStream(s, CLOSED_LOCAL_RESET);
  }

  /** See Http2Stream.resetWhenSent. */
  resetWhenSent(s: Http2Stream, code: number): void {
    if (s.state === StreamState.CLOSED) return;
    if (s.state === StreamState.HALF_CLOSED_LOCAL) {
      // Our side is already on its way (END_STREAM written): only the peer's remains.
      this.resetStream(s, code);
      return;
    }
    s.resetAfterEnd = code;
  }

  /**
   * Returns receive credit for `n` bytes the user handled (§6.9). Clamped to
   * what the stream delivered and was not yet credited, so credit is returned
   * exactly once even when a stream reset already returned it.
   */
  consume(s: Http2Stream, n: number): void {
    if (n > s.recvOutstanding) n = s.recvOutstanding;
    if (n <= 0) return;
    s.recvOutstanding -= n;
    this.connRecvOutstanding -= n;
    if (this.failed || this.closed) return;
    if (s.state !== StreamState.CLOSED && !s.remoteEnded) {
      s.recvUnacked += n;
      if (s.recvUnacked >= this.streamUpdateThreshold) {
        writeWindowUpdate(this.writer, s.id, s.recvUnacked);
        s.recvWindow += s.recvUnacked;
        s.recvUnacked = 0;
        this.dirty();
      }
    }
    this.creditConnection(n);
  }

  private creditConnection(n: number): void {
    this.connRecvUnacked += n;
    if (this.connRecvUnacked >= this.connUpdateThreshold) {
      writeWindowUpdate(this.writer, 0, this.connRecvUnacked);
      this.connRecvWindow += this.connRecvUnacked;
      this.connRecvUnacked = 0;
      this.recvLowSince = 0;
      this.dirty();
    }
  }

  // ---------------------------------------------------------------- flow-control state (read-only)

  /** Connection receive window: octets the peer may still send us. */
  get recvWindow(): number {
    return this.connRecvWindow;
  }

  /** Octets handled by the user and not yet returned to the peer with WINDOW_UPDATE. */
  get recvUnacked(): number {
    return this.connRecvUnacked;
  }

  /** Octets delivered to the user and not yet consumed (nor credited by a reset). */
  get recvOutstanding(): number {
    return this.connRecvOutstanding;
  }

  /** The receive window we advertise for the connection. */
  get recvWindowConfigured(): number {
    return this.connRecvConfigured;
  }

  /** Connection send window: octets we may still send. */
  get sendWindow(): number {
    return this.connSendWindow;
  }

  /** DATA octets queued on streams. */
  get queuedBytes(): number {
    return this.connQueuedBytes;
  }

  /**
   * Receive credit unaccounted for: configured − window − unacked − outstanding.
   * Always 0 unless credit leaked; asserted in tests and exported as a metric.
   */
  get recvLeaked(): number {
    return this.connRecvConfigured - this.connRecvWindow - this.connRecvUnacked - this.connRecvOutstanding;
  }

  /** Sends a PING; the answer updates `pingRtt`. */
  ping(): void {
    if (this.failed || this.closed || this.pingOutstanding) return;
    this.pingOutstanding = true;
    this.pingSentAt = performance.now();
    this.pingPayload.writeDoubleBE(this.pingSentAt, 0);
    writePing(this.writer, false, this.pingPayload, 0);
    this.dirty();
  }

  /**
   * Graceful shutdown (§6.8). As server: GOAWAY with the maximum stream id and a
   * PING, then, once the PING is answered (or after a second), GOAWAY with the
   * last stream actually accepted; the connection closes when its streams end.
   * As client: GOAWAY, no new requests, close when idle.
   */
  shutdown(): void {
    if (this.goawayState !== 0 || this.failed || this.closed) return;
    if (this.isServer) {
      this.goawayState = 1;
      writeGoAway(this.writer, MAX_STREAM_ID, ErrorCode.NO_ERROR, '');
      writePing(this.writer, false, SHUTDOWN_PING, 0);
      this.drainDeadline = performance.now() + DRAIN_PING_WAIT;
    } else {
      this.goawayState = 2;
      this.goawayLastId = 0;
      writeGoAway(this.writer, 0, ErrorCode.NO_ERROR, '');
    }
    this.dirty();
    if (this.streams.size === 0 && this.goawayState === 2) this.endSocket();
  }

  private finishGracefulGoaway(): void {
    if (this.goawayState !== 1) return;
    this.goawayState = 2;
    this.goawayLastId = this.lastPeerStreamId;
    writeGoAway(this.writer, this.lastPeerStreamId, ErrorCode.NO_ERROR, '');
    this.dirty();
    if (this.streams.size === 0) this.endSocket();
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
    writeGoAway(this.writer, this.lastPeerStreamId, errorCode, message.length > 200 ? message.slice(0, 200) : message);
    this.writer.writeBatch();
    this.abortStreams(ResetReason.CONNECTION_LOST, errorCode);
    this.endSocket();
  }

  private endSocket(): void {
    this.flush();
    this.socket.end();
    // A peer that never closes its side must not hold the socket forever.
    const t = setTimeout(() => this.socket.destroy(), 2000);
    t.unref();
  }

  private dirty(): void {
    scheduleFlush(this);
  }

  private writeHeaderBlock(streamId: number, headers: readonly string[], endStream: boolean): void {
    const block = this.writer.encoder.encode(headers, 0, headers.length);
    writeHeaders(this.writer, streamId, block, endStream, this.peerSettings.maxFrameSize);
  }

  private writeLocalSettings(): void {
    const o = this.options;
    const values: number[] = [];
    if (o.headerTableSize !== 4096) values.push(SettingId.HEADER_TABLE_SIZE, o.headerTableSize);
    if (!this.isServer) values.push(SettingId.ENABLE_PUSH, 0);
    values.push(SettingId.MAX_CONCURRENT_STREAMS, o.maxConcurrentStreams);
    if (o.initialWindowSize !== DEFAULT_WINDOW) values.push(SettingId.INITIAL_WINDOW_SIZE, o.initialWindowSize);
    if (o.maxFrameSize !== 16384) values.push(SettingId.MAX_FRAME_SIZE, o.maxFrameSize);
    values.push(SettingId.MAX_HEADER_LIST_SIZE, o.maxHeaderListSize);
    writeSettings(this.writer, values);
    // §6.9.2: the connection window is changed only by WINDOW_UPDATE.
    if (o.connectionWindowSize > DEFAULT_WINDOW) {
      writeWindowUpdate(this.writer, 0, o.connectionWindowSize - DEFAULT_WINDOW);
      this.connRecvWindow = o.connectionWindowSize;
    }
    this.connRecvConfigured = this.connRecvWindow;
    this.settingsAckDeadline = performance.now() + o.settingsTimeout;
  }

  private addToSendList(s: Http2Stream): void {
    if (!s.inSendList) {
      s.inSendList = true;
      this.sendList.push(s);
    }
    this.dirty();
  }

  /** Moves queued DATA into the batch as windows allow, round robin across streams. */
  private writeQueuedData(): void {
    let list = this.sendList;
    let progress = true;
    while (progress && list.length > 0 && this.writer.pendingBytes < FLUSH_HIGH_WATER) {
      progress = false;
      const round = list;
      list = [];
      this.sendList = list;
      for (let i = 0; i < round.length; i++) {
        const s = round[i]!;
        s.inSendList = false;
        if (s.state === StreamState.CLOSED) continue;
        if (this.writer.pendingBytes >= FLUSH_HIGH_WATER) {
          s.inSendList = true;
          list.push(s);
          continue;
        }
        if (this.writeStreamQueue(s)) progress = true;
        if (s.queuedBytes > 0 || s.endAfterQueue || s.trailersAfterQueue !== null) {
          // Blocked on its own window: a WINDOW_UPDATE for it puts it back.
          if (s.sendWindow > 0 || s.queuedBytes === 0) {
            s.inSendList = true;
            list.push(s);
          }
        }
      }
      if (this.connSendWindow <= 0) break;
    }
  }

  /** Writes what one stream may send this round. Returns whether anything was written. */
  private writeStreamQueue(s: Http2Stream): boolean {
    let written = 0;
    const maxFrame = this.peerSettings.maxFrameSize;
    while (s.queuedBytes > 0) {
      let allowed = s.sendWindow < this.connSendWindow ? s.sendWindow : this.connSendWindow;
      if (allowed > maxFrame) allowed = maxFrame;
      if (allowed > STREAM_QUANTUM - written) allowed = STREAM_QUANTUM - written;
      if (allowed <= 0) break;
      const head = s.queue[s.queueHead]!;
      const n = head.length < allowed ? head.length : allowed;
      const drained = n === s.queuedBytes;
      const endNow = drained && s.endAfterQueue && s.trailersAfterQueue === null;
      writeData(this.writer, s.id, head, 0, n, endNow);
      s.sendWindow -= n;
      this.connSendWindow -= n;
      s.queuedBytes -= n;
      this.connQueuedBytes -= n;
      written += n;
      if (n === head.length) {
        s.queue[s.queueHead] = EMPTY_BUFFER;
        s.queueHead++;
      } else {
        s.queue[s.queueHead] = head.subarray(n);
      }
      if (endNow) {
        s.endAfterQueue = false;
        this.localEndWritten(s);
      }
    }
    let wroteEnd = false;
    if (s.queuedBytes === 0) {
      s.queue.length = 0;
      s.queueHead = 0;
      if (s.trailersAfterQueue !== null) {
        const t = s.trailersAfterQueue;
        s.trailersAfterQueue = null;
        this.writeHeaderBlock(s.id, t, true);
        this.localEndWritten(s);
        wroteEnd = true;
      } else if (s.endAfterQueue) {
        s.endAfterQueue = false;
        writeData(this.writer, s.id, EMPTY_BUFFER, 0, 0, true);
        this.localEndWritten(s);
        wroteEnd = true;
      }
    }
    if (written > 0) {
      this.lastSendProgressAt = coarseNow;
      s.handler.onDataSent(s, written);
    }
    return written > 0 || wroteEnd;
  }

  /** Hands the batch to the socket: one write, or one writev for several chunks. */
  flush(): void {
    if (this.closed) return;
    // After a connection error, or once our side of the socket ended, queued DATA can never leave:
    // moving it (or asking to be flushed again) would spin the shared flush loop forever.
    const canSend = !this.writer.blocked && !this.failed && this.socket.writable;
    if (canSend && this.sendList.length > 0) this.writeQueuedData();
    this.writer.writeBatch();
    if (canSend && this.sendList.length > 0 && this.connSendWindow > 0) this.dirty();
  }

  // ---------------------------------------------------------------- stream bookkeeping

  private localEndWritten(s: Http2Stream): void {
    if (s.state === StreamState.OPEN) {
      s.state = StreamState.HALF_CLOSED_LOCAL;
      if (s.resetAfterEnd >= 0) this.resetStream(s, s.resetAfterEnd);
    } else if (s.state === StreamState.HALF_CLOSED_REMOTE) {
      this.closeStream(s, CLOSED_ENDED);
    }
  }

  private remoteEnd(s: Http2Stream): void {
    s.remoteEnded = true;
    if (s.state === StreamState.OPEN) s.state = StreamState.HALF_CLOSED_REMOTE;
    else if (s.state === StreamState.HALF_CLOSED_LOCAL) this.closeStream(s, CLOSED_ENDED);
  }

  private closeStream(s: Http2Stream, how: number): void {
    if (s.state === StreamState.CLOSED) return;
    s.state = StreamState.CLOSED;
    this.streams.delete(s.id);
    if (this.isPeerInitiated(s.id)) this.peerActive--;
    else this.localActive--;
    this.closedIds[this.closedPos] = s.id;
    this.closedHow[this.closedPos] = how;
    this.closedPos = (this.closedPos + 1) % CLOSED_MEMORY;
    // Received octets the user will never consume now: a stream that ended
    // abnormally returns their credit here, exactly once (consume() clamps).
    // A stream that ended normally keeps them: the user consumes them as it
    // relays them, so that back-pressure still holds after END_STREAM.
    const owed = s.recvOutstanding;
    if (owed > 0 && how !== CLOSED_ENDED) {
      s.recvOutstanding = 0;
      this.connRecvOutstanding -= owed;
      if (!this.failed && !this.closed) this.creditConnection(owed);
    }
    const dropped = s.queuedBytes;
    if (dropped > 0) {
      s.queue.length = 0;
      s.queueHead = 0;
      s.queuedBytes = 0;
      this.connQueuedBytes -= dropped;
    }
    s.endAfterQueue = false;
    s.trailersAfterQueue = null;
    this.handler.onStreamClosed?.(this, s);
    // Queued octets that will never leave: a relay credits their source.
    if (dropped > 0) s.handler.onDataDropped?.(s, dropped);
    if (this.streams.size === 0 && (this.goawayState === 2 || this.goawayReceived) && !this.closed) {
      this.endSocket();
    }
  }

  private closedHowOf(id: number): number {
    for (let i = 0; i < CLOSED_MEMORY; i++) if (this.closedIds[i] === id) return this.closedHow[i]!;
    return 0;
  }

  private isPeerInitiated(id: number): boolean {
    return this.isServer ? (id & 1) === 1 : (id & 1) === 0;
  }

  /** §5.1: a stream id the peer could use but has not yet used (or we have not yet used). */
  private isIdle(id: number): boolean {
    return this.isPeerInitiated(id) ? id > this.lastPeerStreamId : id >= this.nextStreamId;
  }

  private abortStreams(reason: number, errorCode: number): void {
    if (this.streams.size === 0) return;
    const all = this.streams.list();
    for (const s of all) {
      const unprocessed = !this.isServer && s.id > this.peerGoawayLastId;
      this.closeStream(s, CLOSED_LOCAL_RESET);
      s.handler.onReset(s, errorCode, unprocessed ? ResetReason.UNPROCESSED : reason);
    }
  }

  // ---------------------------------------------------------------- receiving

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

  /** A stream error (§5.4.2): RST_STREAM, and the stream ends with ResetReason.PROTOCOL_ERROR. */
  onStreamError(err: Http2Error): void {
    this.options.counters.streamErrors++;
    writeRstStream(this.writer, err.streamId, err.errorCode);
    this.dirty();
    const s = this.streams.get(err.streamId);
    if (s !== undefined) {
      this.closeStream(s, CLOSED_LOCAL_RESET);
      s.handler.onReset(s, err.errorCode, ResetReason.PROTOCOL_ERROR);
    } else {
      this.rememberReset(err.streamId);
    }
  }

  /** A frame from the codec (HEADERS and CONTINUATION arrive as decoded blocks, onHeaderBlock). */
  onFrame(type: number, flags: number, streamId: number, buf: Buffer, start: number, length: number): void {
    switch (type) {
      case FrameType.DATA:
        return this.onData(flags, streamId, buf, start, length);
      case FrameType.PRIORITY:
        return this.onPriority(streamId, buf, start, length);
      case FrameType.RST_STREAM:
        return this.onRstStream(streamId, buf, start, length);
      case FrameType.SETTINGS:
        return this.onSettingsFrame(flags, streamId, buf, start, length);
      case FrameType.PUSH_PROMISE:
        // We never enable push (§8.4): as client SETTINGS_ENABLE_PUSH is 0; a server never receives it.
        throw connectionError(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE received');
      case FrameType.PING:
        return this.onPing(flags, streamId, buf, start, length);
      case FrameType.GOAWAY:
        return this.onGoaway(streamId, buf, start, length);
      case FrameType.WINDOW_UPDATE:
        return this.onWindowUpdate(streamId, buf, start, length);
      default:
        // §5.5: unknown frame types are ignored.
        return;
    }
  }

  private onData(flags: number, streamId: number, buf: Buffer, start: number, length: number): void {
    const padding = dataPadding(flags, streamId, buf, start, length);
    // §6.9.1: the whole payload, padding included, counts against the windows.
    if (length > this.connRecvWindow) throw connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'connection window exceeded');
    this.connRecvWindow -= length;
    const s = this.streams.get(streamId);
    if (s === undefined) {
      if (this.isIdle(streamId)) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'DATA on idle stream');
      this.creditConnection(length);
      this.onClosedStreamFrame(streamId, 'DATA');
      return;
    }
    if (s.remoteEnded || !s.headersDone) {
      this.creditConnection(length);
      if (s.remoteEnded) throw streamError(streamId, ErrorCode.STREAM_CLOSED, 'DATA after END_STREAM');
      throw streamError(streamId, ErrorCode.PROTOCOL_ERROR, 'DATA before response headers');
    }
    if (length > s.recvWindow) {
      this.creditConnection(length);
      throw streamError(streamId, ErrorCode.FLOW_CONTROL_ERROR, 'stream window exceeded');
    }
    s.recvWindow -= length;
    // From here every octet of the frame is the stream's: consumed by the user,
    // or credited back if the stream ends abnormally (even by the checks below).
    s.recvOutstanding += length;
    this.connRecvOutstanding += length;
    if (padding > 0) this.consume(s, padding);
    const dataLength = length - padding;
    const endStream = (flags & Flags.END_STREAM) !== 0;
    if (dataLength === 0 && !endStream) this.countEmptyData();
    s.receivedLength += dataLength;
    if (s.expectedLength >= 0) {
      // §8.1.1: DATA beyond the announced content-length, or short of it at the end, is malformed.
      if (s.receivedLength > s.expectedLength || (endStream && s.receivedLength !== s.expectedLength)) {
        throw streamError(streamId, ErrorCode.PROTOCOL_ERROR, 'content-length does not match DATA');
      }
    }
    if (endStream) this.remoteEnd(s);
    const dataStart = padding === 0 ? start : start + 1;
    s.handler.onData(s, buf.subarray(dataStart, dataStart + dataLength), endStream);
  }

  /** A frame that can change stream state arrived for a closed stream (§5.1 "closed"). */
  private onClosedStreamFrame(streamId: number, what: string): void {
    const how = this.closedHowOf(streamId);
    // We reset it: frames in flight are expected and ignored.
    if (how === CLOSED_LOCAL_RESET) return;
    if (how === CLOSED_ENDED) {
      throw connectionError(ErrorCode.STREAM_CLOSED, `${what} on a stream closed by END_STREAM`);
    }
    throw streamError(streamId, ErrorCode.STREAM_CLOSED, `${what} on a closed stream`);
  }

  /** A complete, decoded header block: apply §5.1 and §8 rules. */
  onHeaderBlock(streamId: number, flags: number, headers: string[], listSize: number, selfDependent: boolean): void {
    const endStream = (flags & Flags.END_STREAM) !== 0;
    const s = this.streams.get(streamId);
    if (s === undefined) {
      if (this.isServer && (streamId & 1) === 1 && streamId > this.lastPeerStreamId) {
        this.onNewPeerStream(streamId, headers, listSize, endStream, selfDependent);
        return;
      }
      if (this.isIdle(streamId)) {
        throw connectionError(ErrorCode.PROTOCOL_ERROR, `HEADERS on stream ${streamId} not allowed here`);
      }
      // §5.1.1: a stream id below one already used that never opened is a PROTOCOL_ERROR.
      if (this.closedHowOf(streamId) === 0) {
        throw connectionError(ErrorCode.PROTOCOL_ERROR, `HEADERS on stream ${streamId} below the last stream id`);
      }
      this.onClosedStreamFrame(streamId, 'HEADERS');
      return;
    }
    if (s.remoteEnded) throw streamError(streamId, ErrorCode.STREAM_CLOSED, 'HEADERS after END_STREAM');
    if (selfDependent) throw streamError(streamId, ErrorCode.PROTOCOL_ERROR, 'stream depends on itself');
    if (!s.headersDone) {
      // Client role: the response head (§8.3.2), possibly preceded by 1xx (§8.1).
      const status = checkResponse(headers);
      if (status < 0) throw streamError(streamId, ErrorCode.PROTOCOL_ERROR, 'malformed response headers');
      if (status < 200) {
        if (endStream) throw streamError(streamId, ErrorCode.PROTOCOL_ERROR, 'informational response with END_STREAM');
        s.handler.onHeaders(s, headers, false);
        return;
      }
      s.headersDone = true;
      if (!s.isHead && status !== 204 && status !== 304) {
        const cl = contentLength(headers);
        if (cl === -2) throw streamError(streamId, ErrorCode.PROTOCOL_ERROR, 'malformed content-length');
        s.expectedLength = cl;
        if (endStream && cl > 0) throw streamError(streamId, ErrorCode.PROTOCOL_ERROR, 'content-length does not match DATA');
      }
      if (endStream) this.remoteEnd(s);
      s.handler.onHeaders(s, headers, endStream);
      return;
    }
    // Trailers (§8.1): they end the stream and carry no pseudo-headers.
    if (!endStream) throw streamError(streamId, ErrorCode.PROTOCOL_ERROR, 'second HEADERS without END_STREAM');
    const bad = checkTrailers(headers);
    if (bad !== null) throw streamError(streamId, ErrorCode.PROTOCOL_ERROR, `malformed trailers: ${bad}`);
    if (s.expectedLength >= 0 && s.receivedLength !== s.expectedLength) {
      throw streamError(streamId, ErrorCode.PROTOCOL_ERROR, 'content-length does not match DATA');
    }
    this.remoteEnd(s);
    s.handler.onTrailers(s, headers);
  }

  private onNewPeerStream(streamId: number, headers: string[], listSize: number, endStream: boolean, selfDependent: boolean): void {
    this.lastPeerStreamId = streamId;
    if (this.goawayState === 2 && streamId > this.goawayLastId) {
      // §6.8: streams above our final GOAWAY's last-stream-id are ignored.
      this.rememberReset(streamId);
      return;
    }
    if (selfDependent) throw streamError(streamId, ErrorCode.PROTOCOL_ERROR, 'stream depends on itself');
    if (this.peerActive >= this.options.maxConcurrentStreams) {
      // §5.1.2: refusing is a stream error; the client may retry it.
      this.options.counters.refusedStreams++;
      this.countReset();
      throw streamError(streamId, ErrorCode.REFUSED_STREAM, 'SETTINGS_MAX_CONCURRENT_STREAMS exceeded');
    }
    if (listSize > this.options.maxHeaderListSize) {
      throw streamError(streamId, ErrorCode.PROTOCOL_ERROR, 'header list exceeds SETTINGS_MAX_HEADER_LIST_SIZE');
    }
    const bad = checkRequest(headers);
    if (bad !== null) throw streamError(streamId, ErrorCode.PROTOCOL_ERROR, `malformed request: ${bad}`);
    const cl = contentLength(headers);
    if (cl === -2 || (endStream && cl > 0)) {
      throw streamError(streamId, ErrorCode.PROTOCOL_ERROR, 'content-length does not match DATA');
    }
    const s = new Http2Stream(streamId, this, this.peerSettings.initialWindowSize, this.options.initialWindowSize, true);
    s.expectedLength = cl;
    this.streams.set(streamId, s);
    this.peerActive++;
    if (endStream) {
      s.remoteEnded = true;
      s.state = StreamState.HALF_CLOSED_REMOTE;
    }
    const h = this.handler.onStream;
    if (h === undefined) {
      this.resetStream(s, ErrorCode.REFUSED_STREAM);
      return;
    }
    h.call(this.handler, this, s, headers, endStream);
  }

  private rememberReset(streamId: number): void {
    this.closedIds[this.closedPos] = streamId;
    this.closedHow[this.closedPos] = CLOSED_LOCAL_RESET;
    this.closedPos = (this.closedPos + 1) % CLOSED_MEMORY;
  }

  private onPriority(streamId: number, buf: Buffer, start: number, length: number): void {
    checkPriority(streamId, buf, start, length);
  }

  private onRstStream(streamId: number, buf: Buffer, start: number, length: number): void {
    const code = parseRstStream(streamId, buf, start, length);
    const s = this.streams.get(streamId);
    if (s === undefined) {
      if (this.isIdle(streamId)) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'RST_STREAM on idle stream');
      return;
    }
    if (this.isServer) this.countReset();
    this.closeStream(s, CLOSED_PEER_RESET);
    const unprocessed = !this.isServer && code === ErrorCode.REFUSED_STREAM;
    s.handler.onReset(s, code, unprocessed ? ResetReason.UNPROCESSED : ResetReason.PEER_RESET);
  }

  private onSettingsFrame(flags: number, streamId: number, buf: Buffer, start: number, length: number): void {
    if (checkSettings(flags, streamId, length)) {
      if (this.settingsAckDeadline !== 0 && this.options.headerTableSize !== 4096) {
        // RFC 7541 §4.2: the peer may use a smaller table limit only once it has our SETTINGS.
        this.reader.decoder.setMaxTableSizeLimit(this.options.headerTableSize);
      }
      this.settingsAckDeadline = 0;
      return;
    }
    this.countFlood('settings');
    const delta = applySettings(this.peerSettings, buf, start, length, !this.isServer);
    this.writer.encoder.setPeerMaxTableSize(this.peerSettings.headerTableSize);
    if (delta !== 0) {
      // §6.9.2: a change of SETTINGS_INITIAL_WINDOW_SIZE adjusts every open stream's window.
      for (const s of this.streams.list()) {
        s.sendWindow += delta;
        if (s.sendWindow > MAX_WINDOW) throw connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'stream window overflow');
        if (delta > 0 && (s.queuedBytes > 0 || s.endAfterQueue || s.trailersAfterQueue !== null)) this.addToSendList(s);
      }
    }
    this.peerSettingsReceived = true;
    writeSettingsAck(this.writer);
    this.dirty();
    this.handler.onSettings?.(this);
  }

  private onPing(flags: number, streamId: number, buf: Buffer, start: number, length: number): void {
    checkPing(streamId, length);
    if ((flags & Flags.ACK) !== 0) {
      if (this.goawayState === 1 && buf.compare(SHUTDOWN_PING, 0, 8, start, start + 8) === 0) {
        this.finishGracefulGoaway();
      } else if (this.pingOutstanding && buf.compare(this.pingPayload, 0, 8, start, start + 8) === 0) {
        this.pingOutstanding = false;
        this.pingRtt = performance.now() - this.pingSentAt;
      }
      return;
    }
    this.countFlood('ping');
    writePing(this.writer, true, buf, start);
    this.dirty();
  }

  private onGoaway(streamId: number, buf: Buffer, start: number, length: number): void {
    const lastId = parseGoAway(streamId, buf, start, length);
    const code = buf.readUInt32BE(start + 4);
    this.goawayReceived = true;
    if (lastId < this.peerGoawayLastId) this.peerGoawayLastId = lastId;
    if (!this.isServer) {
      // §6.8: streams above last-stream-id were not processed and may be retried elsewhere.
      const unprocessed: Http2Stream[] = [];
      for (const s of this.streams.list()) if (s.id > lastId) unprocessed.push(s);
      for (const s of unprocessed) {
        this.closeStream(s, CLOSED_LOCAL_RESET);
        s.handler.onReset(s, ErrorCode.REFUSED_STREAM, ResetReason.UNPROCESSED);
      }
    }
    this.handler.onGoaway?.(this, lastId, code);
    if (this.streams.size === 0 && !this.closed) this.endSocket();
  }

  private onWindowUpdate(streamId: number, buf: Buffer, start: number, length: number): void {
    const inc = windowIncrement(streamId, buf, start, length);
    if (streamId === 0) {
      this.connSendWindow += inc;
      this.lastSendProgressAt = coarseNow;
      if (this.connSendWindow > MAX_WINDOW) throw connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'connection window overflow');
      if (this.sendList.length > 0) this.dirty();
      return;
    }
    const s = this.streams.get(streamId);
    if (s === undefined) {
      if (this.isIdle(streamId)) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE on idle stream');
      return;
    }
    if (inc === 0) throw streamError(streamId, ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE increment of 0');
    s.sendWindow += inc;
    this.lastSendProgressAt = coarseNow;
    if (s.sendWindow > MAX_WINDOW) throw streamError(streamId, ErrorCode.FLOW_CONTROL_ERROR, 'stream window overflow');
    if (s.queuedBytes > 0 || s.endAfterQueue || s.trailersAfterQueue !== null) this.addToSendList(s);
  }

  // ---------------------------------------------------------------- limits, timers, close

  private rollFloodWindow(): void {
    const now = coarseNow;
    if (now - this.floodWindowStart >= this.options.floodWindow) {
      this.floodWindowStart = now;
      this.resetCount = 0;
      this.pingCount = 0;
      this.settingsCount = 0;
      this.emptyDataCount = 0;
    }
  }

  private calm(what: string): never {
    this.options.counters.floodsDetected++;
    throw connectionError(ErrorCode.ENHANCE_YOUR_CALM, `${what} flood`);
  }

  private countReset(): void {
    this.rollFloodWindow();
    if (++this.resetCount > this.options.maxResetsPerWindow) this.calm('stream reset');
  }

  private countEmptyData(): void {
    this.rollFloodWindow();
    if (++this.emptyDataCount > this.options.maxEmptyDataPerWindow) this.calm('empty DATA');
  }

  private countFlood(kind: 'ping' | 'settings'): void {
    this.rollFloodWindow();
    if (kind === 'ping') {
      if (++this.pingCount > this.options.maxPingsPerWindow) this.calm('PING');
    } else if (++this.settingsCount > this.options.maxSettingsPerWindow) {
      this.calm('SETTINGS');
    }
  }

  onTick(now: number): void {
    if (this.closed || this.failed) return;
    if (this.settingsAckDeadline !== 0 && now > this.settingsAckDeadline) {
      this.fail(ErrorCode.SETTINGS_TIMEOUT, 'SETTINGS not acknowledged in time');
      return;
    }
    if (this.goawayState === 1 && now > this.drainDeadline) this.finishGracefulGoaway();
    if (this.options.stallTimeout > 0 && !this.stalled) this.checkStall(now);
    const interval = this.options.keepaliveInterval;
    if (interval > 0) {
      if (this.pingOutstanding) {
        if (now - this.pingSentAt > this.options.keepaliveTimeout) {
          this.options.counters.keepaliveTimeouts++;
          this.destroy(new Http2ConnectionClosedError('keepalive PING not answered'));
        }
      } else if (now - this.reader.lastReadAt >= interval) {
        this.ping();
      }
    }
  }

  /**
   * Flow control that stopped moving (keepalive PINGs are not flow-controlled,
   * so a peer that never returns credit still answers them): DATA queued with
   * no octet sent and no credit granted for stallTimeout, or a receive window
   * nearly exhausted for that long.
   */
  private checkStall(now: number): void {
    const timeout = this.options.stallTimeout;
    let direction: 'send' | 'receive' | undefined;
    if (this.connQueuedBytes > 0 && !this.writer.blocked && now - this.lastSendProgressAt > timeout) direction = 'send';
    if (this.connRecvWindow < RECV_STALL_WINDOW) {
      if (this.recvLowSince === 0) this.recvLowSince = now;
      else if (now - this.recvLowSince > timeout) direction = 'receive';
    } else {
      this.recvLowSince = 0;
    }
    if (direction === undefined) return;
    this.stalled = true;
    this.options.counters.flowControlStalls++;
    this.handler.onStall?.(this, direction);
  }

  private onSocketClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.reader.stopped = true;
    removeTickable(this);
    const err = this.closeError ?? (this.streams.size > 0 ? new Http2ConnectionClosedError('connection closed') : undefined);
    this.abortStreams(ResetReason.CONNECTION_LOST, ErrorCode.CANCEL);
    this.handler.onClose?.(this, err);
  }
}

const EMPTY_BUFFER = Buffer.alloc(0);
