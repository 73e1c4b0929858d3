/**
 * The chunked transfer coding (RFC 9112 §7.1), decode and encode.
 *
 * The decoder is a byte-level state machine that keeps its state between
 * calls, so a body split at any byte across socket reads decodes the same as
 * in one piece. Chunk data is handed on as subarrays of the input (no copy).
 * It is strict where leniency has been the root of request smuggling
 * (RFC 9112 §11.2): only CRLF ends a line, the size is bounded, and a missing
 * CRLF after chunk data is an error rather than being skipped.
 *
 * Trailer fields (RFC 9112 §7.1.2) are discarded unless the sink asks for
 * them (onTrailers): the server role drops a client's trailers, the client
 * role relays an upstream's (gRPC status travels in them).
 */

import { hexValue, TCHAR } from './syntax.js';

export interface BodySink {
  onBodyData(data: Buffer): void;
  /** When present: the trailer fields, [name, value, …] with lower-case names, once the trailer section has ended (empty when none). */
  onTrailers?(fields: string[]): void;
}

type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };

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
/** Bounds what a peer can make us scan (and, when kept, hold) in the trailer section. */
const DEFAULT_MAX_TRAILER_BYTES = 16 * 1024;
const NO_FIELDS: string[] = [];


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
  /** The trailer line read so far, when the sink keeps trailers. */
  private trailerLine = '';
  private trailers: string[] | null = null;
  private readonly maxLineBytes: number;
  private readonly maxTrailerBytes: number;

  constructor(maxLineBytes = DEFAULT_MAX_LINE, maxTrailerBytes = DEFAULT_MAX_TRAILER_BYTES) {
    this.maxLineBytes = maxLineBytes;
    this.maxTrailerBytes = maxTrailerBytes;
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
    this.trailerLine = '';
    this.trailers = null;
  }

  /**
   * Decodes buf[start..]: passes each chunk's data (subarray, no copy) to
   * sink.onBodyData; returns the offset after the last byte consumed —
   * buf.length unless the last chunk and the (size-bounded) trailer section
   * ended there, then done = true, sink.onTrailers has the trailer fields
   * and the rest belongs to the next message; on a framing error sets error
   * and returns -1.
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
          // RFC 9112 §7.1.2: the trailer section ends at an empty line.
          let j = i;
          while (j < end && buf[j] !== CR && buf[j] !== LF) j++;
          const n = j - i;
          this.trailerBytes += n;
          if (this.trailerBytes > this.maxTrailerBytes) return this.fail('trailer section too large');
          if (n > 0) {
            this.trailerLineBytes += n;
            if (sink.onTrailers !== undefined) this.trailerLine += (buf as Latin1Buffer).latin1Slice(i, j);
          }
          i = j;
          if (i === end) break;
          if (buf[i] === LF) return this.fail('bare LF in trailer section');
          if (++this.trailerBytes > this.maxTrailerBytes) return this.fail('trailer section too large');
          this.state = State.TrailerLf;
          i++;
          break;
        }
        case State.TrailerLf: {
          if (buf[i] !== LF) return this.fail('bare CR in trailer section');
          i++;
          if (this.trailerLineBytes === 0) {
            this.state = State.Done;
            this.done = true;
            if (sink.onTrailers !== undefined) sink.onTrailers(this.trailers ?? NO_FIELDS);
            return i;
          }
          if (sink.onTrailers !== undefined) {
            const reason = trailerField(this.trailerLine, (this.trailers ??= []));
            if (reason !== undefined) return this.fail(reason);
            this.trailerLine = '';
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

/**
 * One trailer field line (RFC 9112 §5, as in a head): field-name ":" OWS
 * field-value OWS, appended to `out` with a lower-case name; else the reason
 * it is refused.
 */
function trailerField(line: string, out: string[]): string | undefined {
  const first = line.charCodeAt(0);
  // RFC 9112 §5.2: obs-fold is refused, not unfolded.
  if (first === 0x20 || first === 0x09) return 'obsolete line folding in the trailer section';
  let colon = 0;
  while (colon < line.length && TCHAR[line.charCodeAt(colon)] === 1) colon++;
  if (colon === 0 || colon === line.length || line.charCodeAt(colon) !== 0x3a) return 'malformed trailer field name';
  let vs = colon + 1;
  let ve = line.length;
  while (vs < ve && (line.charCodeAt(vs) === 0x20 || line.charCodeAt(vs) === 0x09)) vs++;
  while (ve > vs && (line.charCodeAt(ve - 1) === 0x20 || line.charCodeAt(ve - 1) === 0x09)) ve--;
  // RFC 9110 §5.5: NUL is never part of a field value (CR and LF end the line before this).
  if (line.indexOf('\0', vs) >= 0) return 'invalid character in a trailer field value';
  out.push(line.slice(0, colon).toLowerCase(), line.slice(vs, ve));
  return undefined;
}

export const CRLF: Buffer = Buffer.from('\r\n', 'latin1');
export const LAST_CHUNK: Buffer = Buffer.from('0\r\n\r\n', 'latin1');

/** The line that opens a chunk of `length` bytes: `${hex}\r\n`. */
export function chunkHead(length: number): Buffer {
  return Buffer.from(`${length.toString(16)}\r\n`, 'latin1');
}
