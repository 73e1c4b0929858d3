/**
 * Raw HTTP/2 frames for tests that play a misbehaving or hand-driven peer:
 * an encoder for every frame type, a minimal HPACK literal encoder, a frame
 * parser, a raw TCP peer that collects what the engine sends, a seeded PRNG
 * and event-loop based waiting (no wall-clock sleeps).
 */
import net from 'node:net';
import { createHash } from 'node:crypto';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const T = {
  DATA: 0,
  HEADERS: 1,
  PRIORITY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PUSH_PROMISE: 5,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
} as const;

export const F = { END_STREAM: 1, ACK: 1, END_HEADERS: 4, PADDED: 8, PRIORITY: 0x20 } as const;

export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0), lengthOverride?: number): Buffer {
  const h = Buffer.alloc(9);
  const len = lengthOverride ?? payload.length;
  h[0] = (len >>> 16) & 0xff;
  h[1] = (len >>> 8) & 0xff;
  h[2] = len & 0xff;
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId >>> 0, 5);
  return Buffer.concat([h, payload]);
}

/** `values` is a flat [id, value, …] list. */
export function settings(values: readonly number[] = []): Buffer {
  const p = Buffer.alloc((values.length / 2) * 6);
  for (let i = 0; i < values.length; i += 2) {
    p.writeUInt16BE(values[i]!, (i / 2) * 6);
    p.writeUInt32BE(values[i + 1]! >>> 0, (i / 2) * 6 + 2);
  }
  return frame(T.SETTINGS, 0, 0, p);
}

export const settingsAck = (): Buffer => frame(T.SETTINGS, F.ACK, 0);

export function ping(payload: Buffer = Buffer.alloc(8), ack = false): Buffer {
  return frame(T.PING, ack ? F.ACK : 0, 0, payload);
}

export function windowUpdate(streamId: number, increment: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(increment >>> 0);
  return frame(T.WINDOW_UPDATE, 0, streamId, p);
}

export function rstStream(streamId: number, code: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code >>> 0);
  return frame(T.RST_STREAM, 0, streamId, p);
}

export function goaway(lastStreamId: number, code: number, debug = ''): Buffer {
  const p = Buffer.alloc(8 + Buffer.byteLength(debug));
  p.writeUInt32BE(lastStreamId >>> 0, 0);
  p.writeUInt32BE(code >>> 0, 4);
  p.write(debug, 8);
  return frame(T.GOAWAY, 0, 0, p);
}

export function data(streamId: number, payload: Buffer, endStream = false): Buffer {
  return frame(T.DATA, endStream ? F.END_STREAM : 0, streamId, payload);
}

export function headers(streamId: number, block: Buffer, endStream: boolean, endHeaders = true): Buffer {
  return frame(T.HEADERS, (endStream ? F.END_STREAM : 0) | (endHeaders ? F.END_HEADERS : 0), streamId, block);
}

export function continuation(streamId: number, block: Buffer, endHeaders: boolean): Buffer {
  return frame(T.CONTINUATION, endHeaders ? F.END_HEADERS : 0, streamId, block);
}

/** An HPACK integer (RFC 7541 §5.1) with an N-bit prefix, appended to `out`. */
export function hpackInt(out: number[], value: number, prefixBits: number, firstByte: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(firstByte | value);
    return;
  }
  out.push(firstByte | max);
  value -= max;
  while (value >= 128) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
}

/** HPACK "literal header field without indexing, new name" for every field (RFC 7541 §6.2.2): stateless. */
export function hpackLiteral(fields: readonly string[]): Buffer {
  const out: number[] = [];
  for (let i = 0; i < fields.length; i += 2) {
    const n = Buffer.from(fields[i]!, 'latin1');
    const v = Buffer.from(fields[i + 1]!, 'latin1');
    out.push(0x00);
    hpackInt(out, n.length, 7, 0);
    for (const b of n) out.push(b);
    hpackInt(out, v.length, 7, 0);
    for (const b of v) out.push(b);
  }
  return Buffer.from(out);
}

export function getRequest(path = '/', method = 'GET'): string[] {
  return [':method', method, ':scheme', 'http', ':path', path, ':authority', 'localhost'];
}

export interface ParsedFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** Incremental frame parser. */
export class FrameParser {
  private buf: Buffer = Buffer.alloc(0);
  readonly frames: ParsedFrame[] = [];

  push(chunk: Buffer): ParsedFrame[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: ParsedFrame[] = [];
    while (this.buf.length >= 9) {
      const len = (this.buf[0]! << 16) | (this.buf[1]! << 8) | this.buf[2]!;
      if (this.buf.length < 9 + len) break;
      const f: ParsedFrame = {
        type: this.buf[3]!,
        flags: this.buf[4]!,
        streamId: this.buf.readUInt32BE(5) & 0x7fffffff,
        payload: Buffer.from(this.buf.subarray(9, 9 + len)),
      };
      this.buf = this.buf.subarray(9 + len);
      out.push(f);
      this.frames.push(f);
    }
    return out;
  }
}

export function goawayCode(f: ParsedFrame): number {
  return f.payload.readUInt32BE(4);
}

/**
 * A raw TCP peer of an HTTP/2 server: writes bytes as given, parses every
 * frame the server sends, and lets a test wait for one of them.
 */
export class RawPeer {
  readonly socket: net.Socket;
  readonly parser = new FrameParser();
  closed = false;
  private waiters: Array<() => void> = [];
  readonly ready: Promise<void>;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
    this.socket.on('error', () => {});
    this.socket.on('data', (c: Buffer) => {
      this.parser.push(c);
      this.wake();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  write(b: Buffer | Buffer[]): void {
    if (this.closed || this.socket.destroyed) return;
    this.socket.write(Array.isArray(b) ? Buffer.concat(b) : b);
  }

  /** Resolves with the first received frame matching `pred` (looking at every frame so far). */
  waitFrame(pred: (f: ParsedFrame) => boolean, what = 'frame'): Promise<ParsedFrame> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const f = this.parser.frames.find(pred);
        if (f !== undefined) return resolve(f);
        if (this.closed) return reject(new Error(`connection closed before ${what}`));
        this.waiters.push(check);
      };
      check();
    });
  }

  waitClose(): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.closed) return resolve();
        this.waiters.push(check);
      };
      check();
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** mulberry32: a small seeded PRNG (floats in [0, 1)). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `size` deterministic pseudo-random bytes (xorshift32), fast enough for tens of MiB. */
export function seededBytes(size: number, seed: number): Buffer {
  const words = new Uint32Array(Math.ceil(size / 4));
  let x = (seed >>> 0) || 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    words[i] = x;
  }
  return Buffer.from(words.buffer, 0, size);
}

export function sha256(b: Buffer | Buffer[]): string {
  const h = createHash('sha256');
  if (Array.isArray(b)) for (const c of b) h.update(c);
  else h.update(b);
  return h.digest('hex');
}

/** Resolves after `turns` event-loop turns (setImmediate), not wall-clock time. */
export function turns(n: number): Promise<void> {
  return new Promise((resolve) => {
    let left = n;
    const step = (): void => {
      if (--left <= 0) resolve();
      else setImmediate(step);
    };
    setImmediate(step);
  });
}

/** Polls `cond` once per event-loop turn; rejects after `maxTurns`. */
export async function until(cond: () => boolean, what: string, maxTurns = 2_000_000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (cond()) return;
    await new Promise<void>((r) => setImmediate(r));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Rejects with a clear message if `p` does not settle within `ms` (a bound, not a wait). */
export function within<V>(p: Promise<V>, ms: number, what: string): Promise<V> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([p, guard]).finally(() => clearTimeout(timer));
}

/** A free TCP port on 127.0.0.1 (for external servers that need a port up front). */
export { freePort } from '../../bench/lib/processes.js';
