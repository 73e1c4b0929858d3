/** PING frames (RFC 9113 §6.7): parse-time checks and the encoder. */
import { ErrorCode, Flags, FrameType } from '../constants.js';
import { connectionError } from '../errors.js';
import type { FramedWrite } from '../codec/framed-write.js';

export function checkPing(streamId: number, length: number): void {
  if (length !== 8) throw connectionError(ErrorCode.FRAME_SIZE_ERROR, 'PING length is not 8');
  if (streamId !== 0) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'PING on a stream');
}

/** A PING (or its ACK) carrying the 8 octets of `payload` from `offset`. */
export function writePing(w: FramedWrite, ack: boolean, payload: Buffer | Uint8Array, offset: number): void {
  w.begin(8, FrameType.PING, ack ? Flags.ACK : 0, 0, 8);
  const b = w.slab;
  const p = w.pos;
  for (let i = 0; i < 8; i++) b[p + i] = payload[offset + i]!;
  w.pos = p + 8;
}
