/**
 * Deterministic bodies: a body is named by (seed, size) and both ends derive
 * its bytes from that name, so a client verifies a download, and a backend an
 * upload, without the bytes ever being stored or sent twice.
 *
 * A body is a window onto one shared pool of pseudo-random bytes, starting at
 * an offset picked by the seed. The pool's length is not a power of two, so
 * bodies longer than the pool do not repeat on a 2^n boundary, and a
 * shifted, dropped or duplicated frame changes the digest.
 */
import { createHash } from 'node:crypto';
import { seededBytes } from '../helpers/engine-frames.js';

const POOL_SIZE = (4 << 20) + 4093;
let pool: Buffer | undefined;

function thePool(): Buffer {
  pool ??= seededBytes(POOL_SIZE, 0x5eed50a4);
  return pool;
}

function startOf(seed: number): number {
  return (Math.imul(seed >>> 0, 2654435761) >>> 0) % POOL_SIZE;
}

/**
 * The body's bytes as views onto the pool (no copies), at most `chunk` bytes
 * each. Callers must not modify them.
 */
export function* bodyChunks(seed: number, size: number, chunk = 64 * 1024): Generator<Buffer> {
  const p = thePool();
  let pos = startOf(seed);
  let left = size;
  while (left > 0) {
    const n = Math.min(left, chunk, POOL_SIZE - pos);
    yield p.subarray(pos, pos + n);
    left -= n;
    pos = (pos + n) % POOL_SIZE;
  }
}

/** The whole body in one buffer (for small bodies and gRPC messages). */
export function bodyBytes(seed: number, size: number): Buffer {
  const parts = [...bodyChunks(seed, size, size || 1)];
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
}

/** sha256 (hex) of the body named by (seed, size). */
export function bodyDigest(seed: number, size: number): string {
  const h = createHash('sha256');
  for (const c of bodyChunks(seed, size, 1 << 20)) h.update(c);
  return h.digest('hex');
}

/** True when `got` is the first `got.length` bytes of the body named by `seed`. */
export function isBodyPrefix(seed: number, got: Buffer): boolean {
  let off = 0;
  for (const c of bodyChunks(seed, got.length)) {
    if (!c.equals(got.subarray(off, off + c.length))) return false;
    off += c.length;
  }
  return true;
}

export function sha256Hex(data: Buffer | readonly Buffer[]): string {
  const h = createHash('sha256');
  if (Buffer.isBuffer(data)) h.update(data);
  else for (const c of data) h.update(c);
  return h.digest('hex');
}

/** A running sha256 with a byte count, for bodies read chunk by chunk. */
export class Digest {
  private readonly h = createHash('sha256');
  bytes = 0;
  update(b: Buffer): void {
    this.h.update(b);
    this.bytes += b.length;
  }
  hex(): string {
    return this.h.digest('hex');
  }
}
