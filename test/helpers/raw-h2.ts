/**
 * A raw HTTP/2 client for attack tests: connects over TCP, sends the preface
 * and its SETTINGS, answers the server's SETTINGS (and PINGs when asked to),
 * writes arbitrary frames, malformed ones included, HPACK-encodes header
 * lists with the engine's encoder (stateful, dynamic table) or by hand
 * (stateless literals), and reads frames back so a test can await a GOAWAY
 * or a RST_STREAM with a given code. Frame encoders come from engine-frames.ts.
 */
import { HpackDecoder, HpackEncoder } from '../../src/http2/hpack/index.js';
import {
  F, PREFACE, RawPeer, T, continuation, data, frame, getRequest, goawayCode, headers, hpackInt, hpackLiteral,
  ping, rstStream, settings, settingsAck, windowUpdate, within, type ParsedFrame,
} from './engine-frames.js';

export { F, T, continuation, data, frame, getRequest, headers, hpackLiteral, ping, rstStream, settings, settingsAck, windowUpdate };
export type { ParsedFrame };

export interface RawH2Options {
  /** Our SETTINGS as a flat [id, value, …] list (default none). */
  settings?: readonly number[];
  /** Answer the server's PINGs (default false: an attacker rarely does). */
  answerPings?: boolean;
}

export interface GoAwayInfo {
  lastStreamId: number;
  code: number;
  debug: string;
}

export class RawH2Client {
  readonly peer: RawPeer;
  /** Our HPACK encoder; its dynamic table follows what we sent. */
  readonly encoder = new HpackEncoder();
  /** Decodes the server's header blocks, in order (call decodeHeaders on each HEADERS frame once). */
  readonly decoder = new HpackDecoder();
  /** Octets written so far. */
  written = 0;
  private nextId = 1;
  private seen = 0;

  private constructor(port: number, private readonly options: RawH2Options) {
    this.peer = new RawPeer(port);
    this.peer.socket.on('data', () => this.onFrames());
  }

  /** Connects, sends the preface and SETTINGS, and resolves once the server's SETTINGS arrived (and were ACKed). */
  static async connect(port: number, options: RawH2Options = {}): Promise<RawH2Client> {
    const c = new RawH2Client(port, options);
    await c.peer.ready;
    c.write(PREFACE, settings(options.settings ?? []));
    await c.peer.waitFrame((f) => f.type === T.SETTINGS && (f.flags & F.ACK) === 0, 'server SETTINGS');
    return c;
  }

  private onFrames(): void {
    const frames = this.peer.parser.frames;
    for (; this.seen < frames.length; this.seen++) {
      const f = frames[this.seen]!;
      if (f.type === T.SETTINGS && (f.flags & F.ACK) === 0) this.write(settingsAck());
      else if (f.type === T.PING && (f.flags & F.ACK) === 0 && this.options.answerPings === true) this.write(ping(f.payload, true));
    }
  }

  get closed(): boolean {
    return this.peer.closed;
  }

  get frames(): readonly ParsedFrame[] {
    return this.peer.parser.frames;
  }

  /** A fresh client stream id (1, 3, 5, …). */
  streamId(): number {
    const id = this.nextId;
    this.nextId += 2;
    return id;
  }

  /** Writes frames (or any bytes) in one socket write. */
  write(...chunks: Buffer[]): void {
    const b = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    this.written += b.length;
    this.peer.write(b);
  }

  /** Writes and resolves once the socket took the bytes (or the connection is gone): a writer that respects back-pressure. */
  writeDrained(...chunks: Buffer[]): Promise<void> {
    this.write(...chunks);
    const s = this.peer.socket;
    if (s.writableLength === 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        s.off('drain', done);
        s.off('close', done);
        resolve();
      };
      s.once('drain', done);
      s.once('close', done);
    });
  }

  /** An HPACK block of `fields` from our stateful encoder (indexing on: both tables stay in step). */
  encode(fields: readonly string[]): Buffer {
    return Buffer.from(this.encoder.encode(fields));
  }

  /** A HEADERS frame (END_HEADERS) with a request, encoded statefully. */
  request(streamId: number, fields: readonly string[] = getRequest(), endStream = true): Buffer {
    return headers(streamId, this.encode(fields), endStream);
  }

  /**
   * Resolves with the first frame (since the connection started) matching
   * `pred`; rejects if the connection closes first or after `ms` (a bound so a
   * server that never answers fails the test instead of hanging it).
   */
  waitFrame(pred: (f: ParsedFrame) => boolean, what = 'frame', ms = 10_000): Promise<ParsedFrame> {
    return within(this.peer.waitFrame(pred, what), ms, what);
  }

  /** The server's GOAWAY; rejects if the connection closes without one. */
  async waitGoAway(ms?: number): Promise<GoAwayInfo> {
    const f = await this.waitFrame((x) => x.type === T.GOAWAY, 'GOAWAY', ms);
    return { lastStreamId: f.payload.readUInt32BE(0) & 0x7fffffff, code: goawayCode(f), debug: f.payload.subarray(8).toString('latin1') };
  }

  /** The error code of the server's RST_STREAM on `streamId`. */
  async waitReset(streamId: number): Promise<number> {
    const f = await this.waitFrame((x) => x.type === T.RST_STREAM && x.streamId === streamId, `RST_STREAM on ${streamId}`);
    return f.payload.readUInt32BE(0);
  }

  /** RST_STREAM frames received so far, with `code` if given. */
  resetsReceived(code?: number): number {
    let n = 0;
    for (const f of this.frames) if (f.type === T.RST_STREAM && (code === undefined || f.payload.readUInt32BE(0) === code)) n++;
    return n;
  }

  /**
   * The decoded response headers of `streamId` (a HEADERS frame carrying the
   * whole block). Every HEADERS frame the server sent before it is decoded
   * too, in order, to keep our HPACK table in step.
   */
  async waitResponse(streamId: number): Promise<string[]> {
    await this.waitFrame((x) => x.type === T.HEADERS && x.streamId === streamId, `response on ${streamId}`);
    let out: string[] = [];
    for (const f of this.frames) {
      if (f.type !== T.HEADERS) continue;
      if (!this.decodedFrames.has(f)) {
        const list: string[] = [];
        this.decoder.decode(f.payload, headersFragmentStart(f), headersFragmentEnd(f), list);
        this.decodedFrames.set(f, list);
      }
      if (f.streamId === streamId) {
        out = this.decodedFrames.get(f)!;
        break;
      }
    }
    return out;
  }

  private readonly decodedFrames = new Map<ParsedFrame, string[]>();

  waitClose(ms = 10_000): Promise<void> {
    return within(this.peer.waitClose(), ms, 'connection close');
  }

  destroy(): void {
    this.peer.destroy();
  }
}

function headersFragmentStart(f: ParsedFrame): number {
  let p = 0;
  if ((f.flags & F.PADDED) !== 0) p += 1;
  if ((f.flags & F.PRIORITY) !== 0) p += 5;
  return p;
}

function headersFragmentEnd(f: ParsedFrame): number {
  return (f.flags & F.PADDED) !== 0 ? f.payload.length - f.payload[0]! : f.payload.length;
}

/** A PRIORITY frame: `streamId` depends on `dependsOn` (payload length 5 unless `length` says otherwise). */
export function priority(streamId: number, dependsOn: number, weight = 16, length = 5): Buffer {
  const p = Buffer.alloc(length);
  if (length >= 4) p.writeUInt32BE(dependsOn >>> 0, 0);
  if (length >= 5) p[4] = weight - 1;
  return frame(T.PRIORITY, 0, streamId, p);
}

function hpackIntBytes(value: number, prefixBits: number, firstByte: number): number[] {
  const out: number[] = [];
  hpackInt(out, value, prefixBits, firstByte);
  return out;
}

/** "Literal with incremental indexing, new name" (RFC 7541 §6.2.1): inserts the field into the peer's dynamic table. */
export function hpackInsert(name: string, value: string): Buffer {
  const n = Buffer.from(name, 'latin1');
  const v = Buffer.from(value, 'latin1');
  return Buffer.concat([Buffer.from([0x40, ...hpackIntBytes(n.length, 7, 0)]), n, Buffer.from(hpackIntBytes(v.length, 7, 0)), v]);
}

/** "Indexed header field" (RFC 7541 §6.1) for index `index` (62 = the newest dynamic entry). */
export function hpackIndexed(index: number): Buffer {
  return Buffer.from(hpackIntBytes(index, 7, 0x80));
}
