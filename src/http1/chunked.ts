/**
 * The chunked transfer coding (RFC 9112 §7.1), decode and encode.
 *
 * The decoder is a byte-level state machine that keeps its state between
 * calls, so a body split at any byte across socket reads decodes the same as
 * in one piece. Chunk data is handed on as subarrays of the input (no copy).
 * It is strict where leniency has been the root of request smuggling
 * (RFC 9112 §11.2): only CRLF ends a line, the size is bounded, and a missing
 * CRLF after chunk data is an error rather than being skipped.
 */

import { hexValue } from './syntax.js';

export interface BodySink {
  onBodyData(data: Buffer): void;
}

const enum State {
  Size,
  Ext,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  Trailer,
  TrailerLf,
  Done,
}

const CR = 0x0d;
const LF = 0x0a;
/** 2^53: past this a JavaScript number no longer counts bytes exactly. */
const MAX_SIZE = 2 ** 53;
/** Sixteen hex digits: the most any 64-bit size needs, leading zeros included. */
const MAX_HEX_DIGITS = 16;
const DEFAULT_MAX_LINE = 4096;
/** Trailer fields are read and discarded; this bounds what a peer can make us scan. */
const MAX_TRAILER_BYTES = 16 * 1024;


export class ChunkedDecoder {
  done = false;
  error: string | undefined = undefined;
  private state = State.Size;
  private size = 0;
  private digits = 0;
  private lineBytes = 0;
  private remaining = 0;
  private trailerBytes = 0;
  private trailerLineBytes = 0;
  private readonly maxLineBytes: number;

  constructor(maxLineBytes = DEFAULT_MAX_LINE) {
    this.maxLineBytes = maxLineBytes;
  }

  reset(): void {
    this.done = false;
    this.error = undefined;
    this.state = State.Size;
    this.size = 0;
    this.digits = 0;
    this.lineBytes = 0;
    this.remaining = 0;
    this.trailerBytes = 0;
    this.trailerLineBytes = 0;
  }

  /**
   * Decodes buf[start..]: passes each chunk's data (subarray, no copy) to
   * sink.onBodyData; returns the offset after the last byte consumed —
   * buf.length unless the last chunk and the (discarded, size-bounded)
   * trailer section ended there, then done = true and the rest belongs to the
   * next message; on a framing error sets error and returns -1.
   */
  decode(buf: Buffer, start: number, sink: BodySink): number {
    if (this.error !== undefined) return -1;
    if (this.state === State.Done) return start;
    const end = buf.length;
    let i = start;
    while (i < end) {
      switch (this.state) {
        case State.Size: {
          const c = buf[i]!;
          const v = hexValue(c);
          if (v >= 0) {
            if (++this.digits > MAX_HEX_DIGITS) return this.fail('chunk size has too many digits');
            this.size = this.size * 16 + v;
            if (this.size > MAX_SIZE) return this.fail('chunk size too large');
            if (++this.lineBytes > this.maxLineBytes) return this.fail('chunk size line too long');
            i++;
            break;
          }
          if (this.digits === 0) return this.fail('invalid chunk size');
          if (c === CR) {
            this.state = State.SizeLf;
            i++;
            break;
          }
          // RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name ... ).
          if (c === 0x3b || c === 0x20 || c === 0x09) {
            this.state = State.Ext;
            break;
          }
          return this.fail('invalid chunk size');
        }
        case State.Ext: {
          // Extensions are ignored (RFC 9112 §7.1.1 allows it) but still bounded
          // and still need a real CRLF.
          const c = buf[i]!;
          if (c === CR) {
            this.state = State.SizeLf;
          } else if (c === LF || (c < 0x20 && c !== 0x09) || c === 0x7f) {
            return this.fail(c === LF ? 'bare LF in chunk size line' : 'invalid byte in chunk extension');
          } else if (++this.lineBytes > this.maxLineBytes) {
            return this.fail('chunk size line too long');
          }
          i++;
          break;
        }
        case State.SizeLf: {
          if (buf[i] !== LF) return this.fail('chunk size line not ended by CRLF');
          i++;
          this.digits = 0;
          this.lineBytes = 0;
          if (this.size === 0) {
            this.state = State.Trailer;
            this.trailerLineBytes = 0;
          } else {
            this.remaining = this.size;
            this.size = 0;
            this.state = State.Data;
          }
          break;
        }
        case State.Data: {
          const avail = end - i;
          const n = avail < this.remaining ? avail : this.remaining;
          sink.onBodyData(buf.subarray(i, i + n));
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = State.DataCr;
          break;
        }
        case State.DataCr: {
          if (buf[i] !== CR) return this.fail('chunk data not followed by CRLF');
          this.state = State.DataLf;
          i++;
          break;
        }
        case State.DataLf: {
          if (buf[i] !== LF) return this.fail('chunk data not followed by CRLF');
          this.state = State.Size;
          i++;
          break;
        }
        case State.Trailer: {
          // RFC 9112 §7.1.2: trailer fields may be discarded; the section ends
          // at an empty line.
          const c = buf[i]!;
          i++;
          if (++this.trailerBytes > MAX_TRAILER_BYTES) return this.fail('trailer section too large');
          if (c === CR) {
            this.state = State.TrailerLf;
          } else if (c === LF) {
            return this.fail('bare LF in trailer section');
          } else {
            this.trailerLineBytes++;
          }
          break;
        }
        case State.TrailerLf: {
          if (buf[i] !== LF) return this.fail('bare CR in trailer section');
          i++;
          if (this.trailerLineBytes === 0) {
            this.state = State.Done;
            this.done = true;
            return i;
          }
          this.trailerLineBytes = 0;
          this.state = State.Trailer;
          break;
        }
        default:
          return i;
      }
    }
    return i;
  }

  private fail(reason: string): number {
    this.error = reason;
    return -1;
  }
}

export const CRLF: Buffer = Buffer.from('\r\n', 'latin1');
export const LAST_CHUNK: Buffer = Buffer.from('0\r\n\r\n', 'latin1');

/** The line that opens a chunk of `length` bytes: `${hex}\r\n`. */
export function chunkHead(length: number): Buffer {
  return Buffer.from(`${length.toString(16)}\r\n`, 'latin1');
}
