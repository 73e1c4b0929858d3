/**
 * Stream states (RFC 9113 §5.1): the transitions of an open stream as either
 * side ends it, closing it (with everything a close releases), and the memory
 * of how recently closed streams ended, used to answer late frames as §5.1
 * "closed" says: ignored after our RST_STREAM, a stream error after theirs, a
 * connection error after END_STREAM both ways. Reserved states never occur:
 * push is disabled (§8.4).
 */
import { ErrorCode } from '../../constants.js';
import { connectionError, streamError } from '../../errors.js';
import type { Http2Connection } from '../connection.js';
import { endIfDone } from '../go-away.js';
import { releaseUnconsumed } from './flow-control.js';
import { dropQueued, resetStream } from './send.js';
import type { Http2Stream } from './stream.js';

/** §5.1 stream states, in Http2Stream.state. */
export const StreamState = {
  OPEN: 1,
  HALF_CLOSED_LOCAL: 2,
  HALF_CLOSED_REMOTE: 3,
  CLOSED: 4,
} as const;

/** How a stream closed: both sides ended it. */
export const CLOSED_ENDED = 1;
/** How a stream closed: the peer reset it. */
export const CLOSED_PEER_RESET = 2;
/** How a stream closed: we reset it (or the connection went away). */
export const CLOSED_LOCAL_RESET = 3;

const CLOSED_MEMORY = 256;

/** The last CLOSED_MEMORY closed stream ids and how each closed: a ring, allocated once per connection. */
export class ClosedStreams {
  private readonly ids = new Int32Array(CLOSED_MEMORY);
  private readonly how = new Uint8Array(CLOSED_MEMORY);
  private pos = 0;

  remember(id: number, how: number): void {
    this.ids[this.pos] = id;
    this.how[this.pos] = how;
    this.pos = (this.pos + 1) % CLOSED_MEMORY;
  }

  /** How `id` closed, or 0 when it is not remembered. */
  howClosed(id: number): number {
    for (let i = 0; i < CLOSED_MEMORY; i++) if (this.ids[i] === id) return this.how[i]!;
    return 0;
  }
}

/** Our END_STREAM went into the batch. */
export function localEndWritten(c: Http2Connection, s: Http2Stream): void {
  if (s.state === StreamState.OPEN) {
    s.state = StreamState.HALF_CLOSED_LOCAL;
    if (s.resetAfterEnd >= 0) resetStream(c, s, s.resetAfterEnd);
  } else if (s.state === StreamState.HALF_CLOSED_REMOTE) {
    closeStream(c, s, CLOSED_ENDED);
  }
}

/** The peer's END_STREAM arrived. */
export function remoteEnd(c: Http2Connection, s: Http2Stream): void {
  s.remoteEnded = true;
  if (s.state === StreamState.OPEN) s.state = StreamState.HALF_CLOSED_REMOTE;
  else if (s.state === StreamState.HALF_CLOSED_LOCAL) closeStream(c, s, CLOSED_ENDED);
}

/**
 * Closes a stream: it leaves the store and the counts, what it was owed or
 * still had to send is settled, and the handlers hear of it. `how` is
 * CLOSED_ENDED, CLOSED_PEER_RESET or CLOSED_LOCAL_RESET. Does not call
 * StreamHandler.onReset: the caller does, with the reason it knows.
 */
export function closeStream(c: Http2Connection, s: Http2Stream, how: number): void {
  if (s.state === StreamState.CLOSED) return;
  s.state = StreamState.CLOSED;
  c.streams.delete(s.id);
  c.counts.release(s.id);
  c.recentlyClosed.remember(s.id, how);
  // Received octets the user will never consume now: a stream that ended
  // abnormally returns their credit here, exactly once (consume() clamps).
  // A stream that ended normally keeps them: the user consumes them as it
  // relays them, so that back-pressure still holds after END_STREAM.
  if (how !== CLOSED_ENDED) releaseUnconsumed(c, s);
  const dropped = dropQueued(c, s);
  c.handler.onStreamClosed?.(c, s);
  // Queued octets that will never leave: a relay credits their source.
  if (dropped > 0) s.handler.onDataDropped?.(s, dropped);
  endIfDone(c);
}

/** A frame that can change stream state arrived for a stream no longer open (§5.1 "closed"). */
export function recvOnClosed(c: Http2Connection, streamId: number, what: string): void {
  const how = c.recentlyClosed.howClosed(streamId);
  // We reset it: frames in flight are expected and ignored.
  if (how === CLOSED_LOCAL_RESET) return;
  if (how === CLOSED_ENDED) {
    throw connectionError(ErrorCode.STREAM_CLOSED, `${what} on a stream closed by END_STREAM`);
  }
  throw streamError(streamId, ErrorCode.STREAM_CLOSED, `${what} on a closed stream`);
}
