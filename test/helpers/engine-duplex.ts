/**
 * An in-memory duplex pair: what one end writes, the other end reads. Used to
 * feed the engine arbitrary bytes without sockets.
 */
import { Duplex } from 'node:stream';

export class DuplexEnd extends Duplex {
  peer!: DuplexEnd;

  constructor() {
    super({ allowHalfOpen: true });
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (!this.peer.destroyed) this.peer.push(chunk);
    cb();
  }

  override _final(cb: (e?: Error | null) => void): void {
    if (!this.peer.destroyed) this.peer.push(null);
    cb();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    // A destroyed end looks like a closed connection to the other end.
    if (!this.peer.destroyed) queueMicrotask(() => this.peer.destroy());
    cb(err);
  }
}

export function duplexPair(): [DuplexEnd, DuplexEnd] {
  const a = new DuplexEnd();
  const b = new DuplexEnd();
  a.peer = b;
  b.peer = a;
  return [a, b];
}
