/**
 * WINDOW_UPDATE frames (RFC 9113 §6.9): parse-time checks and the encoder.
 * The windows themselves are kept by `proto/streams/flow-control.ts`.
 */
import { ErrorCode, FrameType } from '../constants.js';
import { connectionError } from '../errors.js';
import type { FramedWrite } from '../codec/framed-write.js';

/**
 * Checks a received WINDOW_UPDATE and returns its increment. An increment of
 * 0 for the connection is a connection error here; for a stream it is a
 * stream error, raised once the stream is known to be open (§6.9).
 */
export function windowIncrement(streamId: number, buf: Buffer, start: number, length: number): number {
  if (length !== 4) throw connectionError(ErrorCode.FRAME_SIZE_ERROR, 'WINDOW_UPDATE length is not 4');
  const inc = buf.readUInt32BE(start) & 0x7fffffff;
  if (inc === 0 && streamId === 0) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE increment of 0');
  return inc;
}

export function writeWindowUpdate(w: FramedWrite, streamId: number, increment: number): void {
  w.begin(4, FrameType.WINDOW_UPDATE, 0, streamId, 4);
  w.slab.writeUInt32BE(increment, w.pos);
  w.pos += 4;
}
