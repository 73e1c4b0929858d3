/**
 * Stream idle timeout: a stream on which nothing moved — no frame received,
 * no DATA sent — for `streamIdleTimeout` is handed to its handler's onIdle
 * (the proxy answers 504 / DEADLINE_EXCEEDED), and reset (CANCEL) if it is
 * still open and idle a grace period later; handlers without onIdle see the
 * reset at once (ResetReason.IDLE_TIMEOUT). Envoy's stream_idle_timeout
 * (5 minutes by default) is the model. Streams are looked at once per sweep
 * from the shared ticker, so the cost is one timestamp store per frame and
 * one pass over the open streams per second, never a timer per stream.
 */
import { ErrorCode } from '../../constants.js';
import type { Http2Connection } from '../connection.js';
import { resetStream } from './send.js';
import { StreamState } from './state.js';
import { ResetReason, type Http2Stream } from './stream.js';

/** How often a connection's streams are looked at. */
export const IDLE_SWEEP_MS = 1000;
/** How long a handler told of an idle stream has to end it before the engine resets it. */
const IDLE_GRACE_MS = 2000;

export function sweepIdleStreams(c: Http2Connection, now: number): void {
  const timeout = c.options.streamIdleTimeout;
  if (c.streams.size === 0) return;
  let idle: Http2Stream[] | null = null;
  for (const s of c.streams.list()) if (now - s.lastActive > timeout) (idle ??= []).push(s);
  if (idle === null) return;
  for (const s of idle) {
    if (s.state === StreamState.CLOSED) continue;
    const h = s.handler;
    if (!s.idleNotified && h.onIdle !== undefined) {
      c.options.counters.streamIdleTimeouts++;
      s.idleNotified = true;
      // The next sweep after the grace period resets it if it is still idle.
      s.lastActive = now - timeout + IDLE_GRACE_MS;
      h.onIdle(s);
      continue;
    }
    if (!s.idleNotified) c.options.counters.streamIdleTimeouts++;
    resetStream(c, s, ErrorCode.CANCEL);
    h.onReset(s, ErrorCode.CANCEL, ResetReason.IDLE_TIMEOUT);
  }
}
