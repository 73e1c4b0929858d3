/**
 * Flow control (RFC 9113 §5.2, §6.9): every window of the connection and its
 * streams is changed here and nowhere else.
 *
 * Receiving. Every DATA octet received, padding included (§6.9.1), is
 * accounted exactly once, so that per connection, at all times,
 *
 *   recvWindow + recvUnacked + recvOutstanding = recvConfigured
 *
 * recvWindow: the peer may still send it. recvOutstanding: delivered to the
 * user (Http2Stream.recvOutstanding per stream), not yet consumed.
 * recvUnacked: consumed, or never delivered, and not yet returned with
 * WINDOW_UPDATE, which goes out once half a window is owed. Credit comes
 * back through consume() (clamped to what is outstanding, so never twice),
 * through releaseUnconsumed() when a stream ends abnormally, or at once for
 * octets that were never delivered (padding, frames for closed streams,
 * frames that are stream errors).
 *
 * Sending. The peer's WINDOW_UPDATEs and SETTINGS_INITIAL_WINDOW_SIZE
 * changes (§6.9.2; windows may go negative) grow the send windows;
 * spendSendWindow() shrinks them as DATA goes into the batch.
 *
 * Stalls. A connection whose flow control makes no progress for
 * `stallTimeout` is reported once (ConnectionHandler.onStall).
 */
import { DEFAULT_WINDOW, ErrorCode, MAX_WINDOW } from '../../constants.js';
import { connectionError, streamError } from '../../errors.js';
import { scheduleFlush } from '../../codec/flush-scheduler.js';
import { windowIncrement, writeWindowUpdate } from '../../frame/window-update.js';
import type { ResolvedOptions } from '../../options.js';
import { coarseNow } from '../../ticker.js';
import type { Http2Connection } from '../connection.js';
import { hasPending, schedule } from './prioritize.js';
import { StreamState } from './state.js';
import type { Http2Stream } from './stream.js';

/** A receive window smaller than one frame of the default size: the peer can hardly send. */
const RECV_STALL_WINDOW = 16384;

/** The connection's windows and credit; the streams' are flat fields of Http2Stream. */
export class FlowControl {
  /** Octets we may still send on the connection. */
  sendWindow = DEFAULT_WINDOW;
  /** Octets the peer may still send us on the connection. */
  recvWindow = DEFAULT_WINDOW;
  recvUnacked = 0;
  recvOutstanding = 0;
  /** The connection receive window we advertise. */
  recvConfigured = DEFAULT_WINDOW;
  /** DATA octets queued on streams, waiting for windows or the socket. */
  queuedBytes = 0;
  /** DATA octets sent since the connection started (the WINDOW_UPDATE flood allowance grows with it). */
  sentOctets = 0;
  /** Last time DATA left or the peer granted send credit (coarse clock). */
  lastSendProgressAt = coarseNow;
  /** Since when our receive window has been nearly exhausted (0 = it is not). */
  recvLowSince = 0;
  /** onStall was reported. */
  stalled = false;
  readonly streamUpdateThreshold: number;
  readonly connUpdateThreshold: number;

  constructor(options: ResolvedOptions) {
    this.streamUpdateThreshold = Math.max(1, options.initialWindowSize >>> 1);
    this.connUpdateThreshold = Math.max(1, options.connectionWindowSize >>> 1);
  }
}

// ---------------------------------------------------------------- receiving

/** §6.9.2: the connection window starts at 65,535 and is changed only by WINDOW_UPDATE: raise it to the configured size. */
export function advertiseConnectionWindow(c: Http2Connection): void {
  const f = c.flow;
  const size = c.options.connectionWindowSize;
  if (size > DEFAULT_WINDOW) {
    writeWindowUpdate(c.writer, 0, size - DEFAULT_WINDOW);
    f.recvWindow = size;
  }
  f.recvConfigured = f.recvWindow;
}

/** §6.9.1: a DATA frame's whole payload, padding included, counts against the connection window. */
export function recvConnectionData(f: FlowControl, length: number): void {
  if (length > f.recvWindow) throw connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'connection window exceeded');
  f.recvWindow -= length;
}

/**
 * The frame's octets are the stream's from here: consumed by the user, or
 * credited back if the stream ends abnormally. A frame beyond the stream's
 * window is a stream error, its octets credited back at once.
 */
export function recvStreamData(c: Http2Connection, s: Http2Stream, length: number): void {
  if (length > s.recvWindow) {
    creditConnection(c, length);
    throw streamError(s.id, ErrorCode.FLOW_CONTROL_ERROR, 'stream window exceeded');
  }
  s.recvWindow -= length;
  s.recvOutstanding += length;
  c.flow.recvOutstanding += length;
  s.lastActive = coarseNow;
}

/**
 * Returns receive credit for `n` octets the user handled. Clamped to what
 * the stream delivered and was not yet credited, so credit is returned
 * exactly once even when a stream reset already returned it.
 */
export function consume(c: Http2Connection, s: Http2Stream, n: number): void {
  if (n > s.recvOutstanding) n = s.recvOutstanding;
  if (n <= 0) return;
  s.recvOutstanding -= n;
  const f = c.flow;
  f.recvOutstanding -= n;
  if (c.failed || c.closed) return;
  if (s.state !== StreamState.CLOSED && !s.remoteEnded) {
    s.recvUnacked += n;
    if (s.recvUnacked >= f.streamUpdateThreshold) {
      writeWindowUpdate(c.writer, s.id, s.recvUnacked);
      s.recvWindow += s.recvUnacked;
      s.recvUnacked = 0;
      scheduleFlush(c);
    }
  }
  creditConnection(c, n);
}

/** Credit for `n` octets the connection window gave and no stream holds any more. */
export function creditConnection(c: Http2Connection, n: number): void {
  const f = c.flow;
  f.recvUnacked += n;
  if (f.recvUnacked >= f.connUpdateThreshold) {
    writeWindowUpdate(c.writer, 0, f.recvUnacked);
    f.recvWindow += f.recvUnacked;
    f.recvUnacked = 0;
    f.recvLowSince = 0;
    scheduleFlush(c);
  }
}

/** A stream ended abnormally: the octets it delivered and the user will never consume are credited now. */
export function releaseUnconsumed(c: Http2Connection, s: Http2Stream): void {
  const owed = s.recvOutstanding;
  if (owed <= 0) return;
  s.recvOutstanding = 0;
  c.flow.recvOutstanding -= owed;
  if (!c.failed && !c.closed) creditConnection(c, owed);
}

// ---------------------------------------------------------------- sending

/** `n` DATA octets of `s` went into the batch (§6.9.1). */
export function spendSendWindow(f: FlowControl, s: Http2Stream, n: number): void {
  s.sendWindow -= n;
  f.sendWindow -= n;
  f.sentOctets += n;
  f.lastSendProgressAt = coarseNow;
  s.lastActive = coarseNow;
}

export function recvWindowUpdate(c: Http2Connection, streamId: number, buf: Buffer, start: number, length: number): void {
  const inc = windowIncrement(streamId, buf, start, length);
  const f = c.flow;
  c.flood.countWindowUpdate(f.sentOctets);
  if (streamId === 0) {
    f.sendWindow += inc;
    f.lastSendProgressAt = coarseNow;
    if (f.sendWindow > MAX_WINDOW) throw connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'connection window overflow');
    if (c.sendList.streams.length > 0) scheduleFlush(c);
    return;
  }
  const s = c.streams.get(streamId);
  if (s === undefined) {
    if (c.counts.isIdle(streamId)) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE on idle stream');
    return;
  }
  if (inc === 0) throw streamError(streamId, ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE increment of 0');
  s.sendWindow += inc;
  f.lastSendProgressAt = coarseNow;
  if (s.sendWindow > MAX_WINDOW) throw streamError(streamId, ErrorCode.FLOW_CONTROL_ERROR, 'stream window overflow');
  if (hasPending(s)) schedule(c, s);
}

/** §6.9.2: a change of SETTINGS_INITIAL_WINDOW_SIZE adjusts every open stream's send window. */
export function applyInitialWindowDelta(c: Http2Connection, delta: number): void {
  for (const s of c.streams.list()) {
    s.sendWindow += delta;
    if (s.sendWindow > MAX_WINDOW) throw connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'stream window overflow');
    if (delta > 0 && hasPending(s)) schedule(c, s);
  }
}

// ---------------------------------------------------------------- stalls

/**
 * Flow control that stopped moving (keepalive PINGs are not flow-controlled,
 * so a peer that never returns credit still answers them): DATA queued with
 * no octet sent and no credit granted for stallTimeout, or a receive window
 * nearly exhausted for that long. Once per tick while stallTimeout is set.
 */
export function checkStall(c: Http2Connection, now: number): void {
  const f = c.flow;
  const timeout = c.options.stallTimeout;
  let direction: 'send' | 'receive' | undefined;
  if (f.queuedBytes > 0 && !c.writer.blocked && now - f.lastSendProgressAt > timeout) direction = 'send';
  if (f.recvWindow < RECV_STALL_WINDOW) {
    if (f.recvLowSince === 0) f.recvLowSince = now;
    else if (now - f.recvLowSince > timeout) direction = 'receive';
  } else {
    f.recvLowSince = 0;
  }
  if (direction === undefined) return;
  f.stalled = true;
  c.options.counters.flowControlStalls++;
  c.handler.onStall?.(c, direction);
}
