/** GOAWAY frames (RFC 9113 §6.8): parse-time checks and the encoder. */
import { ErrorCode, FrameType } from '../constants.js';
import { connectionError } from '../errors.js';
import type { FramedWrite } from '../codec/framed-write.js';

/** Checks a received GOAWAY frame and returns its last-stream-id; the error code follows at `start + 4`. */
export function parseGoAway(streamId: number, buf: Buffer, start: number, length: number): number {
  if (streamId !== 0) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'GOAWAY on a stream');
  if (length < 8) throw connectionError(ErrorCode.FRAME_SIZE_ERROR, 'GOAWAY shorter than 8 octets');
  return buf.readUInt32BE(start) & 0x7fffffff;
}

export function writeGoAway(w: FramedWrite, lastStreamId: number, errorCode: number, debug: string): void {
  const debugLength = Buffer.byteLength(debug);
  w.begin(8 + debugLength, FrameType.GOAWAY, 0, 0, 8 + debugLength);
  w.slab.writeUInt32BE(lastStreamId, w.pos);
  w.slab.writeUInt32BE(errorCode >>> 0, w.pos + 4);
  w.pos += 8;
  if (debugLength > 0) w.pos += w.slab.write(debug, w.pos);
}
