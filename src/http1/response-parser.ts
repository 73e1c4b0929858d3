/**
 * HTTP/1.1 response parser for the client role (RFC 9112), as strict as
 * llhttp: a bare LF, an obsolete line fold, differing Content-Length values
 * or Content-Length beside Transfer-Encoding end the connection, since a
 * lenient reading of any of them is how a response desynchronises a
 * keep-alive connection (response splitting). Bytes are handed on as views of
 * the socket's buffers; header fields come out as a flat [name, value, …]
 * array with lowercased names, the shape the HTTP/2 engine gives.
 */

import { ChunkedDecoder, type BodySink } from './chunked.js';
import { TCHAR } from './syntax.js';

/** Events of one response; interim (1xx) heads come before the final one. */
export interface ResponseHandler {
  onResponseHead(status: number, fields: string[]): void;
  onResponseData(data: Buffer): void;
  /** The response ended; `trailers` are the chunked trailer fields (empty when none). */
  onResponseEnd(trailers: string[]): void;
}

const State = {
  IDLE: 0,
  STATUS_LINE: 1,
  FIELD_LINE: 2,
  BODY_LENGTH: 3,
  /** The chunked coding, read by the ChunkedDecoder shared with the server role. */
  CHUNKED: 4,
  BODY_UNTIL_CLOSE: 5,
} as const;

/** Node's undocumented but stable slice without the encoding switch of toString. */
type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };

const CR = 0x0d;
const LF = 0x0a;


export class ResponseParser implements BodySink {
  /** Why the connection must close (a protocol error), once set. */
  error: string | undefined = undefined;
  /** The connection may carry another request after this response (RFC 9112 §9.3). */
  keepAlive = true;
  /** The endpoint's idle timeout from `Keep-Alive: timeout=N`, in seconds (-1: not given). */
  keepAliveTimeout = -1;
  /** The final (non-1xx) status of the current response, 0 before it. */
  status = 0;
  private state: number = State.IDLE;
  private noBody = false;
  private fields: string[] = [];
  private trailers: string[] = NO_FIELDS;
  private contentLength = -1;
  private chunked = false;
  private otherCoding = false;
  private http10 = false;
  private remaining = 0;
  /** An incomplete line carried over from the previous buffer. */
  private partial: Buffer | null = null;
  private headBytes = 0;
  private stopped = false;
  private readonly decoder: ChunkedDecoder;

  constructor(private readonly handler: ResponseHandler, private readonly maxHeadBytes = 64 * 1024) {
    this.decoder = new ChunkedDecoder(maxHeadBytes, maxHeadBytes);
  }

  /** The next response answers a request; `head` when it was a HEAD request (no body, RFC 9110 §9.3.2). */
  expect(head: boolean): void {
    this.state = State.STATUS_LINE;
    this.noBody = head;
    this.status = 0;
    this.keepAlive = true;
    this.beginHead();
  }

  /** A response is under way (its head or body not finished). */
  get busy(): boolean {
    return this.state !== State.IDLE;
  }

  /** The body runs until the connection closes. */
  get untilClose(): boolean {
    return this.state === State.BODY_UNTIL_CLOSE;
  }

  /** Parses `buf`; false on a protocol error (`error` says which), after which the connection must close. */
  execute(buf: Buffer): boolean {
    let pos = 0;
    const len = buf.length;
    this.stopped = false;
    while (pos < len && !this.stopped) {
      switch (this.state) {
        case State.IDLE:
          // RFC 9112 §9.3: nothing may come before a request asks for it.
          return this.fail('data from the endpoint with no request outstanding');
        case State.STATUS_LINE:
        case State.FIELD_LINE: {
          const next = this.line(buf, pos);
          if (next < 0) return this.error === undefined;
          pos = next;
          if (this.error !== undefined) return false;
          break;
        }
        case State.BODY_LENGTH: {
          const n = Math.min(this.remaining, len - pos);
          this.remaining -= n;
          const data = buf.subarray(pos, pos + n);
          pos += n;
          this.handler.onResponseData(data);
          if (this.remaining === 0) this.end();
          break;
        }
        case State.CHUNKED: {
          const d = this.decoder;
          pos = d.decode(buf, pos, this);
          if (pos < 0) return this.fail(d.error!);
          if (d.done && !this.stopped) this.end();
          break;
        }
        case State.BODY_UNTIL_CLOSE:
          this.handler.onResponseData(pos === 0 ? buf : buf.subarray(pos));
          return true;
      }
      if (this.error !== undefined) return false;
    }
    return true;
  }

  /** BodySink: chunk data of the current response. */
  onBodyData(data: Buffer): void {
    if (!this.stopped) this.handler.onResponseData(data);
  }

  /** BodySink: the trailer fields of the current response. */
  onTrailers(fields: string[]): void {
    this.trailers = fields;
  }

  /** Stops parsing the current buffer (the connection is being closed from a callback). */
  stop(): void {
    this.stopped = true;
    this.state = State.IDLE;
    this.partial = null;
  }

  /** The endpoint closed its side: ends a body read until close; false if a response was cut short. */
  finish(): boolean {
    if (this.state === State.BODY_UNTIL_CLOSE) {
      this.end();
      return true;
    }
    return this.state === State.IDLE;
  }

  private fail(reason: string): false {
    this.error ??= reason;
    return false;
  }

  private beginHead(): void {
    this.fields = [];
    this.contentLength = -1;
    this.chunked = false;
    this.otherCoding = false;
    this.headBytes = 0;
  }

  /**
   * Takes one CRLF-terminated line starting at `pos` and handles it; returns
   * the offset after it, or -1 when the line is not complete yet (kept).
   */
  private line(buf: Buffer, pos: number): number {
    const lf = buf.indexOf(LF, pos);
    if (lf < 0) {
      const rest = buf.subarray(pos);
      this.partial = this.partial === null ? Buffer.from(rest) : Buffer.concat([this.partial, rest]);
      this.headBytes += rest.length;
      if (this.headBytes > this.maxHeadBytes) this.fail('response head or chunk line too large');
      return -1;
    }
    let line = buf;
    let start = pos;
    let end = lf;
    if (this.partial !== null) {
      line = Buffer.concat([this.partial, buf.subarray(pos, lf + 1)]);
      this.partial = null;
      start = 0;
      end = line.length - 1;
    }
    this.headBytes += lf + 1 - pos;
    if (this.headBytes > this.maxHeadBytes) {
      this.fail('response head or chunk line too large');
      return lf + 1;
    }
    // RFC 9112 §2.2: a bare LF is tolerated by lenient parsers only; we are not one.
    if (end === start || line[end - 1] !== CR) {
      this.fail('bare LF in the response');
      return lf + 1;
    }
    this.onLine(line, start, end - 1);
    return lf + 1;
  }

  private onLine(b: Buffer, start: number, end: number): void {
    switch (this.state) {
      case State.STATUS_LINE:
        this.statusLine(b, start, end);
        return;
      case State.FIELD_LINE:
        if (end === start) this.endOfHead();
        else this.fieldLine(b, start, end);
        return;
    }
  }

  /** RFC 9112 §4: HTTP-version SP 3DIGIT SP [reason-phrase]. */
  private statusLine(b: Buffer, start: number, end: number): void {
    if (
      end - start < 12 || b[start] !== 0x48 || b[start + 1] !== 0x54 || b[start + 2] !== 0x54 || b[start + 3] !== 0x50 ||
      b[start + 4] !== 0x2f || b[start + 5] !== 0x31 || b[start + 6] !== 0x2e || b[start + 8] !== 0x20 ||
      (end - start > 12 && b[start + 12] !== 0x20)
    ) {
      this.fail('malformed status line');
      return;
    }
    const minor = b[start + 7]!;
    if (minor !== 0x31 && minor !== 0x30) {
      this.fail('unsupported HTTP version');
      return;
    }
    this.http10 = minor === 0x30;
    let status = 0;
    for (let i = start + 9; i < start + 12; i++) {
      const d = b[i]! - 0x30;
      if (d < 0 || d > 9) {
        this.fail('malformed status code');
        return;
      }
      status = status * 10 + d;
    }
    if (status < 100) {
      this.fail('malformed status code');
      return;
    }
    this.status = status;
    // RFC 9112 §9.3: HTTP/1.0 closes unless the response asks to keep alive.
    this.keepAlive = !this.http10;
    this.state = State.FIELD_LINE;
  }

  /** RFC 9112 §5: field-name ":" OWS field-value OWS. */
  private fieldLine(b: Buffer, start: number, end: number): void {
    const first = b[start]!;
    // RFC 9112 §5.2: obs-fold in a response may be rejected; a proxy must not guess.
    if (first === 0x20 || first === 0x09) {
      this.fail('obsolete line folding in the response');
      return;
    }
    let colon = start;
    while (colon < end && TCHAR[b[colon]!] === 1) colon++;
    if (colon === start || colon === end || b[colon] !== 0x3a) {
      this.fail('malformed header field name');
      return;
    }
    let vs = colon + 1;
    let ve = end;
    while (vs < ve && (b[vs] === 0x20 || b[vs] === 0x09)) vs++;
    while (ve > vs && (b[ve - 1] === 0x20 || b[ve - 1] === 0x09)) ve--;
    for (let i = vs; i < ve; i++) {
      const c = b[i]!;
      // RFC 9110 §5.5: CR, LF and NUL are never part of a field value.
      if (c === CR || c === 0 || c === LF) {
        this.fail('invalid character in a header field value');
        return;
      }
    }
    const name = (b as Latin1Buffer).latin1Slice(start, colon).toLowerCase();
    const value = (b as Latin1Buffer).latin1Slice(vs, ve);
    this.special(name, value);
    this.fields.push(name, value);
  }

  /** The fields that frame the message or the connection (RFC 9112 §6, §9.6). */
  private special(name: string, value: string): void {
    switch (name) {
      case 'content-length': {
        // RFC 9112 §6.3 (5): differing or malformed lengths are unrecoverable.
        if (value === '' || value.length > 15) {
          this.fail('invalid Content-Length');
          return;
        }
        let n = 0;
        for (let i = 0; i < value.length; i++) {
          const d = value.charCodeAt(i) - 0x30;
          if (d < 0 || d > 9) {
            this.fail('invalid Content-Length');
            return;
          }
          n = n * 10 + d;
        }
        if (this.contentLength >= 0 && this.contentLength !== n) this.fail('differing Content-Length values');
        this.contentLength = n;
        return;
      }
      case 'transfer-encoding': {
        const v = value.toLowerCase();
        // RFC 9112 §6.3 (4): chunked must be the final coding; any other means "until close".
        const last = v.lastIndexOf(',');
        const final = (last < 0 ? v : v.slice(last + 1)).trim();
        if (final === 'chunked') {
          if (this.chunked || v.indexOf('chunked') !== v.lastIndexOf('chunked')) this.fail('chunked applied twice');
          this.chunked = true;
        } else {
          this.otherCoding = true;
          this.chunked = false;
        }
        return;
      }
      case 'keep-alive': {
        // RFC 9112 Appendix C.2.2 (HTTP/1.0 keep-alive): `timeout=N` tells how long the server keeps an idle connection.
        const at = value.indexOf('timeout=');
        if (at < 0) return;
        const n = parseInt(value.slice(at + 8), 10);
        if (n >= 0) this.keepAliveTimeout = n;
        return;
      }
      case 'connection': {
        const v = value.toLowerCase();
        if (v === 'keep-alive') {
          if (this.http10) this.keepAlive = true;
        } else if (v === 'close' || hasToken(v, 'close')) this.keepAlive = false;
        else if (this.http10 && hasToken(v, 'keep-alive')) this.keepAlive = true;
        return;
      }
    }
  }

  private endOfHead(): void {
    const status = this.status;
    const fields = this.fields;
    if (status < 200) {
      // RFC 9110 §15.2: interim responses precede the final one. 101 would
      // switch protocols, which a request through this client never asks for.
      if (status === 101) {
        this.fail('unrequested protocol switch (101)');
        return;
      }
      this.handler.onResponseHead(status, fields);
      this.state = State.STATUS_LINE;
      this.beginHead();
      return;
    }
    const te = this.chunked || this.otherCoding;
    // RFC 9112 §6.1: a sender must not send both; llhttp treats it as smuggling.
    if (te && this.contentLength >= 0) {
      this.fail('both Content-Length and Transfer-Encoding');
      return;
    }
    if (te && this.http10) {
      this.fail('Transfer-Encoding in an HTTP/1.0 response');
      return;
    }
    this.handler.onResponseHead(status, fields);
    if (this.error !== undefined || this.state !== State.FIELD_LINE) return;
    this.headBytes = 0;
    // RFC 9110 §6.4.1: no content after HEAD, 204 and 304.
    if (this.noBody || status === 204 || status === 304) {
      this.end();
    } else if (this.chunked) {
      this.trailers = NO_FIELDS;
      this.decoder.reset();
      this.state = State.CHUNKED;
    } else if (this.otherCoding || this.contentLength < 0) {
      this.keepAlive = false;
      this.state = State.BODY_UNTIL_CLOSE;
    } else if (this.contentLength === 0) {
      this.end();
    } else {
      this.remaining = this.contentLength;
      this.state = State.BODY_LENGTH;
    }
  }

  private end(): void {
    this.state = State.IDLE;
    this.partial = null;
    const t = this.chunked ? this.trailers : NO_FIELDS;
    this.trailers = NO_FIELDS;
    this.handler.onResponseEnd(t);
  }
}

const NO_FIELDS: string[] = [];

function hasToken(list: string, token: string): boolean {
  for (const t of list.split(',')) if (t.trim() === token) return true;
  return false;
}
