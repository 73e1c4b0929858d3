/**
 * HEADERS (RFC 9113 §6.2) and CONTINUATION (§6.10) frames: the parse-time
 * checks of a HEADERS frame (padding, the priority fields of §5.3.1) and the
 * encoder that splits a header block into HEADERS + CONTINUATION frames
 * (§4.3). Assembling a block from CONTINUATION frames is the codec's job
 * (`codec/framed-read.ts`); what a decoded block means, the streams' (`proto/streams/recv.ts`).
 */
import { ErrorCode, Flags, FrameType } from '../constants.js';
import { connectionError } from '../errors.js';
import type { FramedWrite } from '../codec/framed-write.js';

/** Where a HEADERS frame's block fragment lies: filled in by parseHeaders, one reused object per connection. */
export class HeadersFields {
  fragmentStart = 0;
  fragmentEnd = 0;
  /** §5.3.1: the frame made the stream depend on itself (a stream error, raised once the block is decoded). */
  selfDependent = false;
}

export function parseHeaders(flags: number, streamId: number, buf: Buffer, start: number, length: number, out: HeadersFields): void {
  if (streamId === 0) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS on stream 0');
  let p = start;
  const end = start + length;
  let pad = 0;
  if ((flags & Flags.PADDED) !== 0) {
    if (length < 1) throw connectionError(ErrorCode.FRAME_SIZE_ERROR, 'padded HEADERS without pad length');
    pad = buf[p]!;
    p++;
  }
  let selfDependent = false;
  if ((flags & Flags.PRIORITY) !== 0) {
    if (end - p < 5) throw connectionError(ErrorCode.FRAME_SIZE_ERROR, 'HEADERS priority fields truncated');
    // §5.3.1: a stream cannot depend on itself. Priority is otherwise ignored (§5.3.2).
    selfDependent = (buf.readUInt32BE(p) & 0x7fffffff) === streamId;
    p += 5;
  }
  if (pad > end - p) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS padding exceeds payload');
  out.fragmentStart = p;
  out.fragmentEnd = end - pad;
  out.selfDependent = selfDependent;
}

/** Blocks up to this size are copied with a byte loop: for a few octets the native copy call costs more. */
const SHORT_BLOCK = 64;

/** A header block block[0, total), split into HEADERS + CONTINUATION frames of at most maxFrameSize (§4.3, §6.10). */
export function writeHeaders(
  w: FramedWrite, streamId: number, block: Buffer, total: number, endStream: boolean, maxFrameSize: number,
): void {
  if (total <= SHORT_BLOCK && total <= maxFrameSize) {
    w.begin(total, FrameType.HEADERS, endStream ? Flags.END_HEADERS | Flags.END_STREAM : Flags.END_HEADERS, streamId, total);
    const slab = w.slab;
    let p = w.pos;
    for (let i = 0; i < total; i++) slab[p++] = block[i]!;
    w.pos = p;
    return;
  }
  let offset = 0;
  let first = true;
  do {
    const n = total - offset > maxFrameSize ? maxFrameSize : total - offset;
    const last = offset + n === total;
    let flags = last ? Flags.END_HEADERS : 0;
    if (first && endStream) flags |= Flags.END_STREAM;
    w.begin(n, first ? FrameType.HEADERS : FrameType.CONTINUATION, flags, streamId, n);
    block.copy(w.slab, w.pos, offset, offset + n);
    w.pos += n;
    offset += n;
    first = false;
  } while (offset < total);
}
