/**
 * The request head (RFC 9112 §2–§3, §5, §6): request line, field lines, and
 * what they say about the body and the connection.
 *
 * Strict where two parsers reading the same bytes differently has led to
 * request smuggling (RFC 9112 §11.2): only CRLF ends a line, no obs-fold
 * (§5.2), no whitespace before a field's colon (§5.1), one Content-Length of
 * digits only, Transfer-Encoding exactly `chunked` and never with a
 * Content-Length (§6.1, §6.3). Like nginx and llhttp in their strict modes,
 * any of these is a 400 and the connection closes.
 */

import { TCHAR } from './syntax.js';

export const enum BodyKind {
  None,
  Length,
  Chunked,
}

/** Why a head was refused; the proxy maps each to its answer. */
export const enum HeadError {
  /** Malformed (400). */
  BadRequest = 1,
  /** Head over maxHeaderSize (431). */
  TooLarge,
  /** The request line alone over maxHeaderSize (414). */
  UriTooLong,
  /** More fields than maxHeaderFields / 2 (431). */
  TooManyFields,
  /** The head did not arrive within headersTimeout (408). */
  Timeout,
}

/** A parsed request head; one per connection, refilled for each request. */
export interface ParsedHead {
  method: string;
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: number;
  /** [name, value, …] with lower-case names, in arrival order. */
  fields: string[];
  bodyKind: BodyKind;
  contentLength: number;
  /** The connection may carry another request after this one (RFC 9112 §9.3). */
  keepAlive: boolean;
  expectContinue: boolean;
  /** `Connection: upgrade` with an Upgrade field: its value; else ''. */
  upgrade: string;
  /** The Host field ('' when absent). */
  host: string;
}

const CR = 0x0d;
const LF = 0x0a;


/**
 * Finds the end of a head in buf[from..end): the offset after its empty line,
 * 0 when more bytes are needed, or -1 on a bare LF (RFC 9112 §2.2: we do not
 * take LF alone as a line end). `from` must be a line start.
 */
export function findHeadEnd(buf: Buffer, from: number, end: number): number {
  let lineStart = from;
  for (;;) {
    const lf = buf.indexOf(LF, lineStart);
    if (lf < 0 || lf >= end) return 0;
    if (lf === lineStart || buf[lf - 1] !== CR) return -1;
    if (lf - 1 === lineStart) return lf + 1;
    lineStart = lf + 1;
  }
}

/**
 * Offset of the last line start in buf[from..end), so a later scan can
 * resume there instead of from the head's start.
 */
export function lastLineStart(buf: Buffer, from: number, end: number): number {
  const lf = buf.lastIndexOf(LF, end - 1);
  return lf < from ? from : lf + 1;
}

/**
 * Parses the head in buf[start..headEnd) (headEnd from findHeadEnd) into `out`.
 * Returns 0, or a HeadError.
 */
export function parseHead(buf: Buffer, start: number, headEnd: number, maxFields: number, out: ParsedHead): number {
  // One latin1 string for the head: V8 keeps it one byte per char and slices share it.
  const s = (buf as Buffer & { latin1Slice(start: number, end: number): string }).latin1Slice(start, headEnd - 2);
  let eol = s.indexOf('\r\n');
  const sp1 = s.indexOf(' ');
  if (sp1 <= 0 || sp1 > eol) return HeadError.BadRequest;
  const sp2 = s.indexOf(' ', sp1 + 1);
  if (sp2 < 0 || sp2 > eol || eol - sp2 !== 9) return HeadError.BadRequest;
  for (let i = 0; i < sp1; i++) {
    const c = s.charCodeAt(i);
    if (TCHAR[c] !== 1) return HeadError.BadRequest;
  }
  if (sp2 === sp1 + 1) return HeadError.BadRequest;
  for (let i = sp1 + 1; i < sp2; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return HeadError.BadRequest;
  }
  if (!s.startsWith('HTTP/1.', sp2 + 1)) return HeadError.BadRequest;
  const v = s.charCodeAt(sp2 + 8);
  if (v !== 0x30 && v !== 0x31) return HeadError.BadRequest;
  out.method = s.slice(0, sp1);
  out.target = s.slice(sp1 + 1, sp2);
  out.minor = v - 0x30;
  const fields = out.fields;
  fields.length = 0;
  let contentLength = -1;
  let chunked = false;
  let te = false;
  let close = false;
  let keepAliveToken = false;
  let upgradeToken = false;
  let upgrade = '';
  let host: string | undefined;
  let expect = false;
  let pos = eol + 2;
  const len = s.length;
  while (pos < len) {
    eol = s.indexOf('\r\n', pos);
    if (eol < 0) eol = len;
    const c0 = s.charCodeAt(pos);
    // RFC 9112 §5.2: obs-fold is refused, not unfolded.
    if (c0 === 0x20 || c0 === 0x09) return HeadError.BadRequest;
    const colon = s.indexOf(':', pos);
    if (colon <= pos || colon > eol) return HeadError.BadRequest;
    let lower = true;
    for (let i = pos; i < colon; i++) {
      const c = s.charCodeAt(i);
      // RFC 9112 §5.1: no whitespace between the name and the colon.
      if (TCHAR[c] !== 1) return HeadError.BadRequest;
      if (c >= 0x41 && c <= 0x5a) lower = false;
    }
    let vs = colon + 1;
    let ve = eol;
    while (vs < ve && (s.charCodeAt(vs) === 0x20 || s.charCodeAt(vs) === 0x09)) vs++;
    while (ve > vs && (s.charCodeAt(ve - 1) === 0x20 || s.charCodeAt(ve - 1) === 0x09)) ve--;
    for (let i = vs; i < ve; i++) {
      const c = s.charCodeAt(i);
      // RFC 9110 §5.5: CR, LF and NUL are never allowed in a value; other controls are refused too.
      if ((c < 0x20 && c !== 0x09) || c === 0x7f) return HeadError.BadRequest;
    }
    const rawName = s.slice(pos, colon);
    const name = lower ? rawName : rawName.toLowerCase();
    const value = s.slice(vs, ve);
    if (fields.length >= maxFields) return HeadError.TooManyFields;
    fields.push(name, value);
    pos = eol + 2;
    switch (name.length) {
      case 4:
        if (name === 'host') {
          // RFC 9112 §3.2: more than one Host is a 400.
          if (host !== undefined) return HeadError.BadRequest;
          host = value;
        }
        break;
      case 6:
        if (name === 'expect' && value.length === 12 && value.toLowerCase() === '100-continue') expect = true;
        break;
      case 7:
        if (name === 'upgrade') upgrade = value;
        break;
      case 10:
        if (name === 'connection') {
          for (const token of value.split(',')) {
            const t = token.trim().toLowerCase();
            if (t === 'close') close = true;
            else if (t === 'keep-alive') keepAliveToken = true;
            else if (t === 'upgrade') upgradeToken = true;
          }
        }
        break;
      case 14:
        if (name === 'content-length') {
          // RFC 9112 §6.3: a repeated or list-valued Content-Length is a framing error.
          if (contentLength >= 0) return HeadError.BadRequest;
          contentLength = digits(value);
          if (contentLength < 0) return HeadError.BadRequest;
        }
        break;
      case 17:
        if (name === 'transfer-encoding') {
          // Only `chunked`, alone: any other coding, or two fields, is refused (RFC 9112 §6.1, §11.2).
          if (te || value.length !== 7 || value.toLowerCase() !== 'chunked') return HeadError.BadRequest;
          te = true;
          chunked = true;
        }
        break;
      default:
        break;
    }
  }
  // RFC 9112 §6.1: Transfer-Encoding with Content-Length "ought to be handled as an error";
  // in HTTP/1.0 it is not understood at all.
  if (chunked && (contentLength >= 0 || out.minor === 0)) return HeadError.BadRequest;
  // RFC 9112 §3.2: a 1.1 request without Host is a 400.
  if (host === undefined && out.minor === 1) return HeadError.BadRequest;
  out.host = host ?? '';
  out.bodyKind = chunked ? BodyKind.Chunked : contentLength > 0 ? BodyKind.Length : BodyKind.None;
  out.contentLength = contentLength > 0 ? contentLength : 0;
  out.keepAlive = out.minor === 1 ? !close : keepAliveToken && !close;
  out.expectContinue = expect && out.minor === 1 && out.bodyKind !== BodyKind.None;
  out.upgrade = upgradeToken ? upgrade : '';
  return 0;
}

/** A Content-Length value: ASCII digits only, at most 2^53; else -1. */
function digits(v: string): number {
  if (v.length === 0 || v.length > 16) return -1;
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const d = v.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n <= Number.MAX_SAFE_INTEGER ? n : -1;
}

export function newParsedHead(): ParsedHead {
  return {
    method: '', target: '', minor: 1, fields: [], bodyKind: BodyKind.None, contentLength: 0,
    keepAlive: true, expectContinue: false, upgrade: '', host: '',
  };
}
