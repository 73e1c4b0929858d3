/**
 * GOAWAY (RFC 9113 §6.8). Server `shutdown()` is the graceful two-step: GOAWAY
 * with the maximum stream id and a PING; once the PING is answered (or after
 * DRAIN_PING_WAIT) a second GOAWAY with the last stream actually accepted,
 * and streams above it are ignored. Client `shutdown()` sends GOAWAY(0).
 * Receiving GOAWAY stops new streams; as client, streams above the peer's
 * last-stream-id were not processed and are reset as retryable. Either way
 * the connection ends once its last stream has.
 *
 * A connection error's GOAWAY (§5.4.1) is sent by `connection.ts` (`fail`).
 */
import { ErrorCode, MAX_STREAM_ID } from '../constants.js';
import { scheduleFlush } from '../codec/flush-scheduler.js';
import { parseGoAway, writeGoAway } from '../frame/go-away.js';
import type { Http2Connection } from './connection.js';
import { sendShutdownPing } from './ping-pong.js';
import { CLOSED_LOCAL_RESET, closeStream } from './streams/state.js';
import { ResetReason, type Http2Stream } from './streams/stream.js';

/** What we sent: nothing yet, the first GOAWAY of the graceful pair, or the final one. */
export const GOAWAY_NONE = 0;
export const GOAWAY_DRAINING = 1;
export const GOAWAY_FINAL = 2;

/** How long a graceful GOAWAY waits for its PING before the final GOAWAY. */
const DRAIN_PING_WAIT = 1000;

export class GoAway {
  /** GOAWAY_NONE, GOAWAY_DRAINING or GOAWAY_FINAL. */
  sent = GOAWAY_NONE;
  /** The last-stream-id of our final GOAWAY: peer streams above it are ignored. */
  lastId = MAX_STREAM_ID;
  drainDeadline = 0;
  /** The peer sent GOAWAY (no new streams) ... */
  received = false;
  /** ... with this last-stream-id (MAX_STREAM_ID until then; the lowest if several). */
  peerLastId = MAX_STREAM_ID;
}

export function shutdown(c: Http2Connection): void {
  const g = c.goAway;
  if (c.isServer) {
    g.sent = GOAWAY_DRAINING;
    writeGoAway(c.writer, MAX_STREAM_ID, ErrorCode.NO_ERROR, '');
    sendShutdownPing(c);
    g.drainDeadline = performance.now() + DRAIN_PING_WAIT;
  } else {
    g.sent = GOAWAY_FINAL;
    g.lastId = 0;
    writeGoAway(c.writer, 0, ErrorCode.NO_ERROR, '');
  }
  scheduleFlush(c);
  if (c.streams.size === 0 && g.sent === GOAWAY_FINAL) c.endSocket();
}

/** The second GOAWAY of a graceful shutdown, once its PING was answered or the wait is over. */
export function finishGracefulGoAway(c: Http2Connection): void {
  const g = c.goAway;
  if (g.sent !== GOAWAY_DRAINING) return;
  g.sent = GOAWAY_FINAL;
  const last = c.counts.lastPeerStreamId;
  g.lastId = last;
  writeGoAway(c.writer, last, ErrorCode.NO_ERROR, '');
  scheduleFlush(c);
  if (c.streams.size === 0) c.endSocket();
}

/** Once per tick: a graceful shutdown does not wait for its PING forever. */
export function drainTimeout(c: Http2Connection, now: number): void {
  if (c.goAway.sent === GOAWAY_DRAINING && now > c.goAway.drainDeadline) finishGracefulGoAway(c);
}

/** §6.8: after our final GOAWAY, new streams above its last-stream-id are ignored. */
export function ignoresNewStream(g: GoAway, id: number): boolean {
  return g.sent === GOAWAY_FINAL && id > g.lastId;
}

export function recvGoAway(c: Http2Connection, streamId: number, buf: Buffer, start: number, length: number): void {
  const lastId = parseGoAway(streamId, buf, start, length);
  const code = buf.readUInt32BE(start + 4);
  const g = c.goAway;
  g.received = true;
  if (lastId < g.peerLastId) g.peerLastId = lastId;
  if (!c.isServer) {
    // Streams above last-stream-id were not processed and may be retried elsewhere.
    const unprocessed: Http2Stream[] = [];
    for (const s of c.streams.list()) if (s.id > lastId) unprocessed.push(s);
    for (const s of unprocessed) {
      closeStream(c, s, CLOSED_LOCAL_RESET);
      s.handler.onReset(s, ErrorCode.REFUSED_STREAM, ResetReason.UNPROCESSED);
    }
  }
  c.handler.onGoaway?.(c, lastId, code);
  if (c.streams.size === 0 && !c.closed) c.endSocket();
}

/** After a GOAWAY either way, the connection ends when its last stream has. */
export function endIfDone(c: Http2Connection): void {
  const g = c.goAway;
  if (c.streams.size === 0 && (g.sent === GOAWAY_FINAL || g.received) && !c.closed) c.endSocket();
}
