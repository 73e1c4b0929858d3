/**
 * Receiving on streams: DATA (RFC 9113 §6.1) and decoded header blocks
 * (§6.2) on open, idle and closed streams (§5.1, §5.1.1), a new peer stream
 * against our concurrency limit (§5.1.2, refused with REFUSED_STREAM) and
 * after our final GOAWAY (§6.8), the HTTP message rules of §8 (requests,
 * responses with 1xx, trailers, content-length, §8.1.1), and RST_STREAM
 * (§6.4). Flow control is accounted by flow-control.ts.
 */
import { scheduleFlush } from '../../codec/flush-scheduler.js';
import { ErrorCode, Flags } from '../../constants.js';
import { connectionError, streamError } from '../../errors.js';
import { dataPadding } from '../../frame/data.js';
import { parseRstStream, writeRstStream } from '../../frame/rst-stream.js';
import { checkRequest, checkResponse, checkTrailers, contentLength } from '../../message-rules.js';
import type { Http2Connection } from '../connection.js';
import { ignoresNewStream } from '../go-away.js';
import { opensPeerStream, peerResetReason } from '../peer.js';
import { consume, creditConnection, recvConnectionData, recvStreamData } from './flow-control.js';
import { resetStream, writeHeaderBlock } from './send.js';
import { CLOSED_LOCAL_RESET, CLOSED_PEER_RESET, StreamState, closeStream, recvOnClosed, remoteEnd } from './state.js';
import { Http2Stream } from './stream.js';
import { coarseNow } from '../../ticker.js';

export function recvData(c: Http2Connection, flags: number, streamId: number, buf: Buffer, start: number, length: number): void {
  const padding = dataPadding(flags, streamId, buf, start, length);
  recvConnectionData(c.flow, length);
  const s = c.streams.get(streamId);
  if (s === undefined) {
    if (c.counts.isIdle(streamId)) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'DATA on idle stream');
    // Never delivered: the connection window gets it back at once.
    creditConnection(c, length);
    recvOnClosed(c, streamId, 'DATA');
    return;
  }
  if (s.remoteEnded || !s.headersDone) {
    creditConnection(c, length);
    if (s.remoteEnded) throw streamError(streamId, ErrorCode.STREAM_CLOSED, 'DATA after END_STREAM');
    throw streamError(streamId, ErrorCode.PROTOCOL_ERROR, 'DATA before response headers');
  }
  // From here every octet of the frame is the stream's: consumed by the user,
  // or credited back if the stream ends abnormally (even by the checks below).
  recvStreamData(c, s, length);
  // Padding is credited by the engine, not the user.
  if (padding > 0) consume(c, s, padding);
  const dataLength = length - padding;
  const endStream = (flags & Flags.END_STREAM) !== 0;
  if (dataLength === 0 && !endStream) c.flood.countEmptyData();
  s.receivedLength += dataLength;
  if (s.expectedLength >= 0) {
    // §8.1.1: DATA beyond the announced content-length, or short of it at the end, is malformed.
    if (s.receivedLength > s.expectedLength || (endStream && s.receivedLength !== s.expectedLength)) {
      throw streamError(streamId, ErrorCode.PROTOCOL_ERROR, 'content-length does not match DATA');
    }
  }
  if (endStream) remoteEnd(c, s);
  const dataStart = padding === 0 ? start : start + 1;
  s.handler.onData(s, buf.subarray(dataStart, dataStart + dataLength), endStream);
}

/**
 * A complete, decoded header block (HEADERS + any CONTINUATION): apply §5.1
 * and §8 rules. `checked`: the decoder found every field to pass the
 * character rules of §8.2.1, which the message rules then skip.
 */
export function recvHeaders(
  c: Http2Connection, streamId: number, flags: number, headers: string[], listSize: number, selfDependent: boolean,
  checked: boolean,
): void {
  const endStream = (flags & Flags.END_STREAM) !== 0;
  const s = c.streams.get(streamId);
  if (s === undefined) {
    if (opensPeerStream(c.isServer, streamId, c.counts.lastPeerStreamId)) {
      recvNewStream(c, streamId, headers, listSize, endStream, selfDependent, checked);
      return;
    }
    if (c.counts.isIdle(streamId)) {
      throw connectionError(ErrorCode.PROTOCOL_ERROR, `HEADERS on stream ${streamId} not allowed here`);
    }
    // §5.1.1: a stream id below one already used that never opened is a PROTOCOL_ERROR.
    if (c.recentlyClosed.howClosed(streamId) === 0) {
      throw connectionError(ErrorCode.PROTOCOL_ERROR, `HEADERS on stream ${streamId} below the last stream id`);
    }
    recvOnClosed(c, streamId, 'HEADERS');
    return;
  }
  if (s.remoteEnded) throw streamError(streamId, ErrorCode.STREAM_CLOSED, 'HEADERS after END_STREAM');
  // §10.5.1: the decoder stopped collecting fields past our limit; the list is incomplete.
  if (listSize > c.options.maxHeaderListSize) {
    c.options.counters.headerListsTooLarge++;
    throw streamError(streamId, ErrorCode.PROTOCOL_ERROR, 'header list exceeds SETTINGS_MAX_HEADER_LIST_SIZE');
  }
  s.lastActive = coarseNow;
  if (selfDependent) throw streamError(streamId, ErrorCode.PROTOCOL_ERROR, 'stream depends on itself');
  if (!s.headersDone) {
    // Client role: the response head (§8.3.2), possibly preceded by 1xx (§8.1).
    const status = checkResponse(headers, checked);
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
    if (endStream) remoteEnd(c, s);
    s.handler.onHeaders(s, headers, endStream);
    return;
  }
  // Trailers (§8.1): they end the stream and carry no pseudo-headers.
  if (!endStream) throw streamError(streamId, ErrorCode.PROTOCOL_ERROR, 'second HEADERS without END_STREAM');
  const bad = checkTrailers(headers, checked);
  if (bad !== null) throw streamError(streamId, ErrorCode.PROTOCOL_ERROR, `malformed trailers: ${bad}`);
  if (s.expectedLength >= 0 && s.receivedLength !== s.expectedLength) {
    throw streamError(streamId, ErrorCode.PROTOCOL_ERROR, 'content-length does not match DATA');
  }
  remoteEnd(c, s);
  s.handler.onTrailers(s, headers);
}

/** Server role: a request opens a stream (§5.1 idle → open or half-closed (remote)). */
function recvNewStream(
  c: Http2Connection, streamId: number, headers: string[], listSize: number, endStream: boolean, selfDependent: boolean,
  checked: boolean,
): void {
  c.counts.lastPeerStreamId = streamId;
  if (ignoresNewStream(c.goAway, streamId)) {
    // §6.8: streams above our final GOAWAY's last-stream-id are ignored.
    c.recentlyClosed.remember(streamId, CLOSED_LOCAL_RESET);
    return;
  }
  if (selfDependent) throw streamError(streamId, ErrorCode.PROTOCOL_ERROR, 'stream depends on itself');
  if (c.counts.peerActive >= c.options.maxConcurrentStreams) {
    // §5.1.2: refusing is a stream error (counted, as every reset we send, in onStreamError); the client may retry it.
    throw streamError(streamId, ErrorCode.REFUSED_STREAM, 'SETTINGS_MAX_CONCURRENT_STREAMS exceeded');
  }
  if (listSize > c.options.maxHeaderListSize) {
    refuseLargeHeaders(c, streamId, endStream);
    return;
  }
  const bad = checkRequest(headers, c.options.enableConnectProtocol, checked);
  if (bad !== null) throw streamError(streamId, ErrorCode.PROTOCOL_ERROR, `malformed request: ${bad}`);
  const cl = contentLength(headers);
  if (cl === -2 || (endStream && cl > 0)) {
    throw streamError(streamId, ErrorCode.PROTOCOL_ERROR, 'content-length does not match DATA');
  }
  const s = new Http2Stream(streamId, c, c.peerSettings.initialWindowSize, c.options.initialWindowSize, true);
  s.expectedLength = cl;
  c.streams.set(streamId, s);
  c.counts.peerActive++;
  if (endStream) {
    s.remoteEnded = true;
    s.state = StreamState.HALF_CLOSED_REMOTE;
  }
  const h = c.handler.onStream;
  if (h === undefined) {
    resetStream(c, s, ErrorCode.REFUSED_STREAM);
    return;
  }
  h.call(c.handler, c, s, headers, endStream);
}

const HEADERS_TOO_LARGE: readonly string[] = [':status', '431'];

/**
 * §10.5.1: a request whose decoded header list (cookie crumbs included) is
 * larger than our SETTINGS_MAX_HEADER_LIST_SIZE is answered 431 (RFC 6585)
 * without opening the stream; the rest of the request is not wanted (§8.1:
 * RST_STREAM NO_ERROR). Cheap to provoke, so it counts as a reset.
 */
function refuseLargeHeaders(c: Http2Connection, streamId: number, endStream: boolean): void {
  c.options.counters.headerListsTooLarge++;
  writeHeaderBlock(c, streamId, HEADERS_TOO_LARGE, true);
  if (!endStream) writeRstStream(c.writer, streamId, ErrorCode.NO_ERROR);
  scheduleFlush(c);
  c.recentlyClosed.remember(streamId, CLOSED_LOCAL_RESET);
  c.flood.countReset();
}

export function recvRstStream(c: Http2Connection, streamId: number, buf: Buffer, start: number, length: number): void {
  const code = parseRstStream(streamId, buf, start, length);
  const s = c.streams.get(streamId);
  if (s === undefined) {
    if (c.counts.isIdle(streamId)) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'RST_STREAM on idle stream');
    return;
  }
  // Rapid reset (CVE-2023-44487): a client resetting the streams it opens.
  if (c.isServer) c.flood.countReset();
  closeStream(c, s, CLOSED_PEER_RESET);
  s.handler.onReset(s, code, peerResetReason(c.isServer, code));
}
