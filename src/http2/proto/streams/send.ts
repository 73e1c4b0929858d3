/**
 * Sending on streams (RFC 9113 §5.1 transitions on what we send, §8.1
 * message framing): opening a stream with a request (client role), HEADERS,
 * DATA, trailers, RST_STREAM (§6.4), and the reset-once-sent of §8.1 for a
 * server that answered early. DATA goes out at once when nothing is queued
 * ahead and the windows allow it; otherwise it is queued on the stream for
 * prioritize.ts. Queued octets that will never leave are reported
 * (StreamHandler.onDataDropped) so a relay can credit their source.
 */
import { scheduleFlush } from '../../codec/flush-scheduler.js';
import { writeData } from '../../frame/data.js';
import { writeHeaders } from '../../frame/headers.js';
import { writeRstStream } from '../../frame/rst-stream.js';
import type { Http2Connection } from '../connection.js';
import { spendSendWindow } from './flow-control.js';
import { schedule } from './prioritize.js';
import { CLOSED_LOCAL_RESET, StreamState, closeStream, localEndWritten } from './state.js';
import { Http2Stream, type StreamHandler } from './stream.js';
import { coarseNow } from '../../ticker.js';

/** Client role: opens a stream with request headers (the caller checked Http2Connection.canRequest). */
export function openStream(
  c: Http2Connection, headers: readonly string[], endStream: boolean, handler: StreamHandler, user: unknown,
): Http2Stream {
  const counts = c.counts;
  const id = counts.nextStreamId;
  counts.nextStreamId += 2;
  const s = new Http2Stream(id, c, c.peerSettings.initialWindowSize, c.options.initialWindowSize, false);
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
  c.streams.set(id, s);
  counts.localActive++;
  writeHeaderBlock(c, id, headers, endStream);
  if (endStream) {
    s.localEnded = true;
    s.state = StreamState.HALF_CLOSED_LOCAL;
  }
  scheduleFlush(c);
  return s;
}

export function sendHeaders(c: Http2Connection, s: Http2Stream, headers: readonly string[], endStream: boolean): void {
  if (s.state === StreamState.CLOSED || s.localEnded || c.failed) return;
  writeHeaderBlock(c, s.id, headers, endStream);
  s.lastActive = coarseNow;
  if (endStream) {
    s.localEnded = true;
    localEndWritten(c, s);
  }
  scheduleFlush(c);
}

export function sendData(c: Http2Connection, s: Http2Stream, data: Buffer, endStream: boolean): void {
  if (s.state === StreamState.CLOSED || s.localEnded || c.failed) {
    // These octets will never leave: say so, so a relay can credit their source.
    if (data.length > 0 && !s.localEnded) s.handler.onDataDropped?.(s, data.length);
    return;
  }
  if (endStream) s.localEnded = true;
  const n = data.length;
  const f = c.flow;
  if (
    s.queuedBytes === 0 &&
    !s.inSendList &&
    !c.writer.blocked &&
    n <= s.sendWindow &&
    n <= f.sendWindow &&
    n <= c.peerSettings.maxFrameSize
  ) {
    // Fast path: nothing queued ahead and the windows allow it all.
    writeData(c.writer, s.id, data, 0, n, endStream);
    spendSendWindow(f, s, n);
    scheduleFlush(c);
    if (endStream) localEndWritten(c, s);
    if (n > 0) s.handler.onDataSent(s, n);
    return;
  }
  if (n > 0) {
    s.queue.push(data);
    s.queuedBytes += n;
    f.queuedBytes += n;
  }
  if (endStream) s.endAfterQueue = true;
  schedule(c, s);
}

export function sendTrailers(c: Http2Connection, s: Http2Stream, trailers: readonly string[]): void {
  if (s.state === StreamState.CLOSED || s.localEnded || c.failed) return;
  s.localEnded = true;
  if (s.queuedBytes === 0 && !s.inSendList) {
    writeHeaderBlock(c, s.id, trailers, true);
    scheduleFlush(c);
    localEndWritten(c, s);
    return;
  }
  s.trailersAfterQueue = trailers as string[];
  schedule(c, s);
}

/** Resets the stream (RST_STREAM, §6.4); the user asked, so its handler is not called. */
export function resetStream(c: Http2Connection, s: Http2Stream, errorCode: number): void {
  if (s.state === StreamState.CLOSED) return;
  if (!c.failed) {
    writeRstStream(c.writer, s.id, errorCode);
    scheduleFlush(c);
  }
  closeStream(c, s, CLOSED_LOCAL_RESET);
}

/** See Http2Stream.resetWhenSent. */
export function resetWhenSent(c: Http2Connection, s: Http2Stream, code: number): void {
  if (s.state === StreamState.CLOSED) return;
  if (s.state === StreamState.HALF_CLOSED_LOCAL) {
    // Our side is already on its way (END_STREAM written): only the peer's remains.
    resetStream(c, s, code);
    return;
  }
  s.resetAfterEnd = code;
}

/** HPACK-encodes a header list and writes it as HEADERS + CONTINUATION at the peer's frame size (§4.3). */
export function writeHeaderBlock(c: Http2Connection, streamId: number, headers: readonly string[], endStream: boolean): void {
  const w = c.writer;
  const length = w.encoder.encodeBlock(headers, 0, headers.length);
  writeHeaders(w, streamId, w.encoder.output, length, endStream, c.peerSettings.maxFrameSize);
}

/** The stream closed: its queued DATA, END_STREAM and trailers will never be sent. Returns the DATA octets dropped. */
export function dropQueued(c: Http2Connection, s: Http2Stream): number {
  const dropped = s.queuedBytes;
  if (dropped > 0) {
    s.queue.length = 0;
    s.queueHead = 0;
    s.queuedBytes = 0;
    c.flow.queuedBytes -= dropped;
  }
  s.endAfterQueue = false;
  s.trailersAfterQueue = null;
  return dropped;
}
