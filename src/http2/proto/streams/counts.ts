/**
 * Stream counts and identifiers (RFC 9113 §5.1.1, §5.1.2): how many streams
 * each side has open, the next id we may use, the highest id the peer has
 * opened, and from those whether an id is still idle (§5.1).
 */
import { firstLocalStreamId, isPeerInitiated } from '../peer.js';

export class Counts {
  /** Streams we opened that are not closed. */
  localActive = 0;
  /** Streams the peer opened that are not closed. */
  peerActive = 0;
  /** The highest stream id the peer has used (§5.1.1: ids only grow). */
  lastPeerStreamId = 0;
  /** The id of our next stream. */
  nextStreamId: number;

  constructor(private readonly isServer: boolean) {
    this.nextStreamId = firstLocalStreamId(isServer);
  }

  /** §5.1: a stream id the peer could use but has not yet used (or we have not yet used). */
  isIdle(id: number): boolean {
    return isPeerInitiated(this.isServer, id) ? id > this.lastPeerStreamId : id >= this.nextStreamId;
  }

  /** A stream closed: its concurrency slot (§5.1.2) is free. */
  release(id: number): void {
    if (isPeerInitiated(this.isServer, id)) this.peerActive--;
    else this.localActive--;
  }
}
