/**
 * PRIORITY frames (RFC 9113 §6.3). The priority scheme is deprecated and
 * ignored (§5.3.2); what remains are the frame's checks, including §5.3.1's
 * rule that a stream cannot depend on itself. We never send PRIORITY.
 */
import { ErrorCode } from '../constants.js';
import { connectionError, streamError } from '../errors.js';

export function checkPriority(streamId: number, buf: Buffer, start: number, length: number): void {
  if (streamId === 0) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'PRIORITY on stream 0');
  if (length !== 5) throw streamError(streamId, ErrorCode.FRAME_SIZE_ERROR, 'PRIORITY length is not 5');
  if ((buf.readUInt32BE(start) & 0x7fffffff) === streamId) {
    throw streamError(streamId, ErrorCode.PROTOCOL_ERROR, 'stream depends on itself');
  }
}
