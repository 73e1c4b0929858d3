/**
 * What differs between the two roles (RFC 9113 §5.1.1 stream identifiers,
 * §8.4 server push, §8.7 retryable requests). The engine is one class for
 * both; the role-dependent rules are these functions of `isServer`, so no
 * role branch is spread over the other files unexplained.
 */
import { ErrorCode } from '../constants.js';
import { ResetReason } from './streams/stream.js';

/** Until the peer's SETTINGS arrive we assume it allows this many streams (RFC default is unlimited). */
export const ASSUMED_PEER_STREAMS = 100;

/** §5.1.1: streams initiated by a client use odd ids, those initiated by a server even ids. */
export function firstLocalStreamId(isServer: boolean): number {
  return isServer ? 2 : 1;
}

export function isPeerInitiated(isServer: boolean, id: number): boolean {
  return isServer ? (id & 1) === 1 : (id & 1) === 0;
}

/**
 * Whether a header block on an unknown stream opens a new peer stream: only
 * a client opens streams, since push is never enabled (§8.4), and only with
 * an id above every id it used before (§5.1.1).
 */
export function opensPeerStream(isServer: boolean, id: number, lastPeerStreamId: number): boolean {
  return isServer && (id & 1) === 1 && id > lastPeerStreamId;
}

/**
 * How a RST_STREAM from the peer is reported: to a client, a request the
 * server refused with REFUSED_STREAM was not processed and may be sent again
 * (§8.7).
 */
export function peerResetReason(isServer: boolean, code: number): number {
  return !isServer && code === ErrorCode.REFUSED_STREAM ? ResetReason.UNPROCESSED : ResetReason.PEER_RESET;
}

/**
 * Whether a stream still open when the connection goes away was not
 * processed by the peer: as client, one above the peer's GOAWAY
 * last-stream-id (§6.8).
 */
export function unprocessedOnClose(isServer: boolean, id: number, peerGoAwayLastId: number): boolean {
  return !isServer && id > peerGoAwayLastId;
}
