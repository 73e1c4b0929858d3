/** RST_STREAM frames (RFC 9113 §6.4): parse-time checks and the encoder. */
import { ErrorCode, FrameType } from '../constants.js';
import { connectionError } from '../errors.js';
import type { FramedWrite } from '../codec/framed-write.js';

/** Checks a received RST_STREAM frame and returns its error code. */
export function parseRstStream(streamId: number, buf: Buffer, start: number, length: number): number {
  if (length !== 4) throw connectionError(ErrorCode.FRAME_SIZE_ERROR, 'RST_STREAM length is not 4');
  if (streamId === 0) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'RST_STREAM on stream 0');
  return buf.readUInt32BE(start);
}

export function writeRstStream(w: FramedWrite, streamId: number, errorCode: number): void {
  w.begin(4, FrameType.RST_STREAM, 0, streamId, 4);
  w.slab.writeUInt32BE(errorCode >>> 0, w.pos);
  w.pos += 4;
}
