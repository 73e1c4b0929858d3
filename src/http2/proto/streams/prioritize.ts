/**
 * The send list: streams with DATA, trailers or END_STREAM waiting for a
 * window or the socket, served round robin (RFC 9113 §5.3.2: priority
 * signals are ignored, every stream gets an equal turn) at most
 * STREAM_QUANTUM octets per turn, within both send windows (§6.9.1) and the
 * peer's SETTINGS_MAX_FRAME_SIZE (§4.2). Runs from the connection's flush,
 * once per event-loop turn, up to FLUSH_HIGH_WATER octets per batch.
 */
import { writeData } from '../../frame/data.js';
import { scheduleFlush } from '../../codec/flush-scheduler.js';
import type { Http2Connection } from '../connection.js';
import { spendSendWindow } from './flow-control.js';
import { writeHeaderBlock } from './send.js';
import { StreamState, localEndWritten } from './state.js';
import type { Http2Stream } from './stream.js';

/** DATA bytes moved into one write batch before yielding to the socket. */
const FLUSH_HIGH_WATER = 256 * 1024;
/** DATA bytes one stream may send per round before the next stream's turn. */
const STREAM_QUANTUM = 64 * 1024;

const EMPTY_BUFFER = Buffer.alloc(0);

export class SendList {
  /** This round's streams, in order; Http2Stream.inSendList marks membership. */
  streams: Http2Stream[] = [];
}

/** The stream still has something to send: queued DATA, END_STREAM or trailers. */
export function hasPending(s: Http2Stream): boolean {
  return s.queuedBytes > 0 || s.endAfterQueue || s.trailersAfterQueue !== null;
}

/** Puts a stream with something to send on the list (once) and asks for a flush. */
export function schedule(c: Http2Connection, s: Http2Stream): void {
  if (!s.inSendList) {
    s.inSendList = true;
    c.sendList.streams.push(s);
  }
  scheduleFlush(c);
}

/** Moves queued DATA into the batch as windows allow, round robin across streams. */
export function writeQueued(c: Http2Connection): void {
  const w = c.writer;
  let list = c.sendList.streams;
  let progress = true;
  while (progress && list.length > 0 && w.pendingBytes < FLUSH_HIGH_WATER) {
    progress = false;
    const round = list;
    list = [];
    c.sendList.streams = list;
    for (let i = 0; i < round.length; i++) {
      const s = round[i]!;
      s.inSendList = false;
      if (s.state === StreamState.CLOSED) continue;
      if (w.pendingBytes >= FLUSH_HIGH_WATER) {
        s.inSendList = true;
        list.push(s);
        continue;
      }
      if (writeStreamQueue(c, s)) progress = true;
      if (hasPending(s)) {
        // Blocked on its own window: a WINDOW_UPDATE for it puts it back.
        if (s.sendWindow > 0 || s.queuedBytes === 0) {
          s.inSendList = true;
          list.push(s);
        }
      }
    }
    if (c.flow.sendWindow <= 0) break;
  }
}

/** Writes what one stream may send this round. Returns whether anything was written. */
function writeStreamQueue(c: Http2Connection, s: Http2Stream): boolean {
  const f = c.flow;
  let written = 0;
  const maxFrame = c.peerSettings.maxFrameSize;
  while (s.queuedBytes > 0) {
    let allowed = s.sendWindow < f.sendWindow ? s.sendWindow : f.sendWindow;
    if (allowed > maxFrame) allowed = maxFrame;
    if (allowed > STREAM_QUANTUM - written) allowed = STREAM_QUANTUM - written;
    if (allowed <= 0) break;
    const head = s.queue[s.queueHead]!;
    const n = head.length < allowed ? head.length : allowed;
    const drained = n === s.queuedBytes;
    const endNow = drained && s.endAfterQueue && s.trailersAfterQueue === null;
    writeData(c.writer, s.id, head, 0, n, endNow);
    spendSendWindow(f, s, n);
    s.queuedBytes -= n;
    f.queuedBytes -= n;
    written += n;
    if (n === head.length) {
      s.queue[s.queueHead] = EMPTY_BUFFER;
      s.queueHead++;
    } else {
      s.queue[s.queueHead] = head.subarray(n);
    }
    if (endNow) {
      s.endAfterQueue = false;
      localEndWritten(c, s);
    }
  }
  let wroteEnd = false;
  if (s.queuedBytes === 0) {
    s.queue.length = 0;
    s.queueHead = 0;
    if (s.trailersAfterQueue !== null) {
      const t = s.trailersAfterQueue;
      s.trailersAfterQueue = null;
      writeHeaderBlock(c, s.id, t, true);
      localEndWritten(c, s);
      wroteEnd = true;
    } else if (s.endAfterQueue) {
      s.endAfterQueue = false;
      writeData(c.writer, s.id, EMPTY_BUFFER, 0, 0, true);
      localEndWritten(c, s);
      wroteEnd = true;
    }
  }
  if (written > 0) s.handler.onDataSent(s, written);
  return written > 0 || wroteEnd;
}
