/**
 * DATA frames (RFC 9113 §6.1): the parse-time checks of the frame itself and
 * its encoder. Flow control (§6.9) and stream state (§5.1) are applied by
 * `proto/streams/recv.ts`.
 */
import { ErrorCode, Flags, FrameType } from '../constants.js';
import { connectionError } from '../errors.js';
import type { FramedWrite } from '../codec/framed-write.js';

/** Payloads at most this long are copied into the slab; longer ones are queued by reference (no copy). */
const COPY_THRESHOLD = 2048;

/**
 * Checks a received DATA frame and returns the octets of its payload that
 * are padding (the Pad Length field included): 0 when not PADDED. The data
 * starts at `start + (padding > 0 ? 1 : 0)` and is `length - padding` long.
 */
export function dataPadding(flags: number, streamId: number, buf: Buffer, start: number, length: number): number {
  // §6.1: DATA frames MUST be associated with a stream.
  if (streamId === 0) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'DATA on stream 0');
  if ((flags & Flags.PADDED) === 0) return 0;
  if (length < 1) throw connectionError(ErrorCode.FRAME_SIZE_ERROR, 'padded DATA without pad length');
  const pad = buf[start]!;
  // §6.1: padding that is not shorter than the payload is a PROTOCOL_ERROR.
  if (pad >= length) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'DATA padding exceeds payload');
  return pad + 1;
}

/** One DATA frame carrying `payload[start, end)`; the caller keeps it within the peer's SETTINGS_MAX_FRAME_SIZE. */
export function writeData(w: FramedWrite, streamId: number, payload: Buffer, start: number, end: number, endStream: boolean): void {
  const length = end - start;
  const flags = endStream ? Flags.END_STREAM : 0;
  if (length <= COPY_THRESHOLD) {
    w.begin(length, FrameType.DATA, flags, streamId, length);
    if (length > 0) {
      payload.copy(w.slab, w.pos, start, end);
      w.pos += length;
    }
    return;
  }
  w.begin(length, FrameType.DATA, flags, streamId, 0);
  w.reference(start === 0 && end === payload.length ? payload : payload.subarray(start, end));
}
