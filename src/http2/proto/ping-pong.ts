/**
 * PING (RFC 9113 §6.7): answering the peer's PINGs, our own PING and its
 * round-trip time, keepalive (a PING after `keepaliveInterval` without
 * reading anything; the connection is destroyed if it is not answered within
 * `keepaliveTimeout`), and recognising the answer to the PING of a graceful
 * GOAWAY (§6.8), which proves the peer has seen the first GOAWAY.
 */
import { Http2ConnectionClosedError } from '../errors.js';
import { scheduleFlush } from '../codec/flush-scheduler.js';
import { checkPing, writePing } from '../frame/ping.js';
import { Flags } from '../constants.js';
import type { Http2Connection } from './connection.js';

/** Payload of the graceful-shutdown PING: exactly 8 octets (§6.7), compared byte for byte on the ACK. */
const SHUTDOWN_PING = Buffer.from('swydrain');

export class PingPong {
  /** Our PING awaits its ACK. */
  outstanding = false;
  sentAt = 0;
  readonly payload = Buffer.alloc(8);
  /** Round-trip time of the last answered PING, ms (-1 before any). */
  rtt = -1;
}

/** Sends a PING unless one is outstanding; its ACK updates `rtt`. */
export function sendPing(c: Http2Connection): void {
  const pp = c.pingPong;
  if (pp.outstanding) return;
  pp.outstanding = true;
  pp.sentAt = performance.now();
  pp.payload.writeDoubleBE(pp.sentAt, 0);
  writePing(c.writer, false, pp.payload, 0);
  scheduleFlush(c);
}

export function sendShutdownPing(c: Http2Connection): void {
  writePing(c.writer, false, SHUTDOWN_PING, 0);
  scheduleFlush(c);
}

/** Handles a received PING. Returns true when it acknowledged the graceful-shutdown PING. */
export function recvPing(c: Http2Connection, flags: number, streamId: number, buf: Buffer, start: number, length: number): boolean {
  checkPing(streamId, length);
  if ((flags & Flags.ACK) !== 0) {
    if (buf.compare(SHUTDOWN_PING, 0, 8, start, start + 8) === 0) return true;
    const pp = c.pingPong;
    if (pp.outstanding && buf.compare(pp.payload, 0, 8, start, start + 8) === 0) {
      pp.outstanding = false;
      pp.rtt = performance.now() - pp.sentAt;
    }
    return false;
  }
  c.flood.countPing();
  // §6.7: the ACK carries the same payload.
  writePing(c.writer, true, buf, start);
  scheduleFlush(c);
  return false;
}

/** Keepalive, once per tick: PING an idle peer, destroy the connection when the PING goes unanswered. */
export function keepalive(c: Http2Connection, now: number): void {
  const interval = c.options.keepaliveInterval;
  if (interval <= 0) return;
  const pp = c.pingPong;
  if (pp.outstanding) {
    if (now - pp.sentAt > c.options.keepaliveTimeout) {
      c.options.counters.keepaliveTimeouts++;
      c.destroy(new Http2ConnectionClosedError('keepalive PING not answered'));
    }
  } else if (now - c.reader.lastReadAt >= interval) {
    sendPing(c);
  }
}
