/**
 * Framed write: the output side of one connection (RFC 9113 §4.1 framing).
 *
 * Frames are encoded (by the `write*` functions of `frame/<type>.ts`) into one
 * batch that the connection hands to the socket once per event-loop turn
 * (`flush-scheduler.ts`). Small frames are packed into a slab; large DATA
 * payloads are referenced, not copied (`reference`). A slab starts at 4 KiB
 * and doubles, up to 64 KiB, only when one batch filled more than half of it
 * with frames (referenced DATA does not count): a connection that carries a
 * request or two per turn (one of a thousand upstream connections) keeps
 * 4 KiB, a busy one works from 64 KiB. A slab region once handed out is never
 * written again, so the socket may hold it as long as it likes. The batch goes
 * out as one `write`, or one corked `writev` for several chunks; a `write`
 * that returns false blocks DATA until `'drain'`.
 *
 * The HPACK encoder lives here too: its dynamic table follows the order in
 * which header blocks are written (RFC 7541 §2.3.2).
 */
import type { Duplex } from 'node:stream';
import { FRAME_HEADER_LENGTH } from '../constants.js';
import { HpackEncoder } from '../hpack/index.js';

const SLAB_MIN = 4 * 1024;
const SLAB_MAX = 64 * 1024;
/** The slab of a connection that has none: the first `begin` replaces it. */
const NO_SLAB = Buffer.alloc(0);

/**
 * One per connection. A `frame/` encoder calls `begin` (room, frame header),
 * then writes its payload at `slab[pos]` or hands it over with `reference`.
 * Every encoder works on this one class, so the calls stay monomorphic, and
 * `begin` is small enough to be inlined into each of them.
 */
export class FramedWrite {
  slab: Buffer = NO_SLAB;
  private slabStart = 0;
  /** Where this batch began in `slab` (0 when it began in an earlier slab). */
  private batchFrom = 0;
  /** The slab and position seen by the last `releaseIfIdle`. */
  private slabAtTick: Buffer = NO_SLAB;
  private posAtTick = 0;
  /** Where the next octet goes in `slab`. */
  pos = 0;
  private chunks: Buffer[] = [];
  /** Bytes waiting in this batch. */
  pendingBytes = 0;
  /** The socket's buffer is full (`write` returned false): move no DATA until 'drain'. */
  blocked = false;
  readonly encoder = new HpackEncoder();

  constructor(private readonly socket: Duplex) {}

  /**
   * Starts a frame (§4.1): makes room for its 9-octet header and the
   * `inSlab` payload octets that will be copied after it, writes the header,
   * and counts the whole frame (`length` payload octets) as pending.
   */
  begin(length: number, type: number, flags: number, streamId: number, inSlab: number): void {
    if (this.pos + FRAME_HEADER_LENGTH + inSlab > this.slab.length) this.newSlab(FRAME_HEADER_LENGTH + inSlab);
    const b = this.slab;
    const p = this.pos;
    // Byte stores, not writeUInt32BE: this runs for every frame, and the
    // bounds-checked Buffer method did not always inline (it showed in profiles).
    b[p] = length >>> 16;
    b[p + 1] = (length >>> 8) & 0xff;
    b[p + 2] = length & 0xff;
    b[p + 3] = type;
    b[p + 4] = flags;
    b[p + 5] = streamId >>> 24;
    b[p + 6] = (streamId >>> 16) & 0xff;
    b[p + 7] = (streamId >>> 8) & 0xff;
    b[p + 8] = streamId & 0xff;
    this.pos = p + FRAME_HEADER_LENGTH;
    this.pendingBytes += FRAME_HEADER_LENGTH + length;
  }

  /**
   * The slab cannot take `n` more octets: commit it and start a new one, twice
   * as large when this batch alone wrote more than half of the old one.
   */
  private newSlab(n: number): void {
    this.commitSlab();
    const old = this.slab.length;
    let size = old === 0 ? SLAB_MIN : old;
    if (old !== 0 && size < SLAB_MAX && this.pos - this.batchFrom > old >>> 1) size *= 2;
    this.slab = Buffer.allocUnsafe(n > size ? n : size);
    this.slabStart = 0;
    this.batchFrom = 0;
    this.pos = 0;
  }

  private commitSlab(): void {
    if (this.pos > this.slabStart) {
      this.chunks.push(this.slab.subarray(this.slabStart, this.pos));
      this.slabStart = this.pos;
    }
  }

  /**
   * Called on the coarse tick: a connection that wrote nothing since the last
   * tick gives its slab back, so that a thousand idle upstream connections do
   * not hold a slab each; the next frame takes a new one, of the smallest
   * size. The regions already handed to the socket stay valid: they keep the
   * old slab alive until written.
   */
  releaseIfIdle(): void {
    const slab = this.slab;
    if (slab !== NO_SLAB && slab === this.slabAtTick && this.pos === this.posAtTick && this.pendingBytes === 0) {
      this.slab = NO_SLAB;
      this.slabStart = 0;
      this.batchFrom = 0;
      this.pos = 0;
    }
    this.slabAtTick = this.slab;
    this.posAtTick = this.pos;
  }

  /** Appends `payload` to the batch by reference, after what the slab holds so far. */
  reference(payload: Buffer): void {
    this.commitSlab();
    this.chunks.push(payload);
  }

  /** Raw bytes (the client preface, §3.4). */
  raw(bytes: Buffer): void {
    if (this.pos + bytes.length > this.slab.length) this.newSlab(bytes.length);
    bytes.copy(this.slab, this.pos);
    this.pos += bytes.length;
    this.pendingBytes += bytes.length;
  }

  /** Hands the batch to the socket: one write, or one writev for several chunks. */
  writeBatch(): void {
    if (this.pendingBytes === 0) return;
    this.commitSlab();
    this.batchFrom = this.pos;
    const chunks = this.chunks;
    this.chunks = [];
    this.pendingBytes = 0;
    const socket = this.socket;
    if (socket.destroyed || !socket.writable) return;
    let ok: boolean;
    if (chunks.length === 1) {
      ok = socket.write(chunks[0]!);
    } else {
      socket.cork();
      ok = true;
      for (let i = 0; i < chunks.length; i++) ok = socket.write(chunks[i]!);
      socket.uncork();
    }
    if (!ok) this.blocked = true;
  }
}
