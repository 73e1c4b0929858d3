import { FRAME_HEADER_LENGTH, FrameType, Flags } from '../constants.js';

/** Payloads at most this long are copied into the slab; longer ones are queued by reference (no copy). */
const COPY_THRESHOLD = 2048;
const SLAB_SIZE = 64 * 1024;

/**
 * Encodes frames (RFC 9113 §4.1, §6) into an output batch that the connection
 * hands to the socket once per event-loop turn. Small frames are packed into a
 * slab; large DATA payloads are referenced, not copied. A slab region once
 * handed out is never written again, so the socket may hold it as long as it likes.
 */
export class FrameWriter {
  private slab: Buffer = Buffer.allocUnsafe(SLAB_SIZE);
  private slabStart = 0;
  private pos = 0;
  private chunks: Buffer[] = [];
  /** Bytes waiting in this batch. */
  pendingBytes = 0;

  private reserve(n: number): void {
    if (this.pos + n <= this.slab.length) return;
    this.commitSlab();
    this.slab = Buffer.allocUnsafe(n > SLAB_SIZE ? n : SLAB_SIZE);
    this.slabStart = 0;
    this.pos = 0;
  }

  private commitSlab(): void {
    if (this.pos > this.slabStart) {
      this.chunks.push(this.slab.subarray(this.slabStart, this.pos));
      this.slabStart = this.pos;
    }
  }

  private header(length: number, type: number, flags: number, streamId: number): void {
    const b = this.slab;
    let p = this.pos;
    b[p] = length >>> 16;
    b[p + 1] = (length >>> 8) & 0xff;
    b[p + 2] = length & 0xff;
    b[p + 3] = type;
    b[p + 4] = flags;
    b.writeUInt32BE(streamId, p + 5);
    this.pos = p + FRAME_HEADER_LENGTH;
    this.pendingBytes += FRAME_HEADER_LENGTH + length;
  }

  /** Raw bytes (the client preface). */
  raw(bytes: Buffer): void {
    this.reserve(bytes.length);
    bytes.copy(this.slab, this.pos);
    this.pos += bytes.length;
    this.pendingBytes += bytes.length;
  }

  data(streamId: number, payload: Buffer, start: number, end: number, endStream: boolean): void {
    const length = end - start;
    if (length <= COPY_THRESHOLD) {
      this.reserve(FRAME_HEADER_LENGTH + length);
      this.header(length, FrameType.DATA, endStream ? Flags.END_STREAM : 0, streamId);
      if (length > 0) {
        payload.copy(this.slab, this.pos, start, end);
        this.pos += length;
      }
      return;
    }
    this.reserve(FRAME_HEADER_LENGTH);
    this.header(length, FrameType.DATA, endStream ? Flags.END_STREAM : 0, streamId);
    this.commitSlab();
    this.chunks.push(start === 0 && end === payload.length ? payload : payload.subarray(start, end));
  }

  /** A header block, split into HEADERS + CONTINUATION frames of at most maxFrameSize (§4.3, §6.10). */
  headers(streamId: number, block: Buffer, endStream: boolean, maxFrameSize: number): void {
    let offset = 0;
    const total = block.length;
    let first = true;
    do {
      const n = total - offset > maxFrameSize ? maxFrameSize : total - offset;
      const last = offset + n === total;
      let flags = last ? Flags.END_HEADERS : 0;
      if (first && endStream) flags |= Flags.END_STREAM;
      this.reserve(FRAME_HEADER_LENGTH + n);
      this.header(n, first ? FrameType.HEADERS : FrameType.CONTINUATION, flags, streamId);
      block.copy(this.slab, this.pos, offset, offset + n);
      this.pos += n;
      offset += n;
      first = false;
    } while (offset < total);
  }

  rstStream(streamId: number, errorCode: number): void {
    this.reserve(FRAME_HEADER_LENGTH + 4);
    this.header(4, FrameType.RST_STREAM, 0, streamId);
    this.slab.writeUInt32BE(errorCode >>> 0, this.pos);
    this.pos += 4;
  }

  /** `values` is a flat [id, value, id, value, …] list. */
  settings(values: readonly number[]): void {
    const length = (values.length / 2) * 6;
    this.reserve(FRAME_HEADER_LENGTH + length);
    this.header(length, FrameType.SETTINGS, 0, 0);
    for (let i = 0; i < values.length; i += 2) {
      this.slab.writeUInt16BE(values[i]!, this.pos);
      this.slab.writeUInt32BE(values[i + 1]! >>> 0, this.pos + 2);
      this.pos += 6;
    }
  }

  settingsAck(): void {
    this.reserve(FRAME_HEADER_LENGTH);
    this.header(0, FrameType.SETTINGS, Flags.ACK, 0);
  }

  ping(ack: boolean, payload: Buffer | Uint8Array, offset: number): void {
    this.reserve(FRAME_HEADER_LENGTH + 8);
    this.header(8, FrameType.PING, ack ? Flags.ACK : 0, 0);
    for (let i = 0; i < 8; i++) this.slab[this.pos + i] = payload[offset + i]!;
    this.pos += 8;
  }

  goaway(lastStreamId: number, errorCode: number, debug: string): void {
    const debugLength = Buffer.byteLength(debug);
    this.reserve(FRAME_HEADER_LENGTH + 8 + debugLength);
    this.header(8 + debugLength, FrameType.GOAWAY, 0, 0);
    this.slab.writeUInt32BE(lastStreamId, this.pos);
    this.slab.writeUInt32BE(errorCode >>> 0, this.pos + 4);
    this.pos += 8;
    if (debugLength > 0) this.pos += this.slab.write(debug, this.pos);
  }

  windowUpdate(streamId: number, increment: number): void {
    this.reserve(FRAME_HEADER_LENGTH + 4);
    this.header(4, FrameType.WINDOW_UPDATE, 0, streamId);
    this.slab.writeUInt32BE(increment, this.pos);
    this.pos += 4;
  }

  /** Takes the batch: the chunks to write, in order. The writer starts a new batch. */
  take(): Buffer[] {
    this.commitSlab();
    const chunks = this.chunks;
    this.chunks = [];
    this.pendingBytes = 0;
    return chunks;
  }
}
