import type { Socket } from 'node:net';
import { CLIENT_PREFACE } from '../http2/index.js';

export type DetectedProtocol = 'http2' | 'http1' | 'tls';

/**
 * Decides the protocol of a new connection from its first bytes, as few as
 * needed: the HTTP/2 prior-knowledge preface (RFC 9113 §3.4), a TLS
 * ClientHello (record type 0x16, RFC 8446 §5.1; for the TLS listener to come),
 * or an HTTP/1.x request line (RFC 9112 §3: method SP target SP HTTP/1.x).
 * Anything else goes to the HTTP/2 engine, whose answer to a bad preface is a
 * GOAWAY with PROTOCOL_ERROR (RFC 9113 §3.4). Bounded by the length of a
 * request line and a timeout. The bytes read are handed on with the verdict;
 * the socket is left paused.
 */
export function detectProtocol(
  socket: Socket,
  timeoutMs: number,
  done: (protocol: DetectedProtocol | null, head: Buffer) => void,
): void {
  let head: Buffer = EMPTY;
  let finished = false;
  const finish = (p: DetectedProtocol | null): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.removeListener('close', onClose);
    socket.pause();
    done(p, head);
  };
  const onData = (chunk: Buffer): void => {
    head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
    if (head[0] === 0x16) return finish('tls');
    const n = Math.min(head.length, CLIENT_PREFACE.length);
    let isPrefacePrefix = true;
    for (let i = 0; i < n; i++) {
      if (head[i] !== CLIENT_PREFACE[i]) {
        isPrefacePrefix = false;
        break;
      }
    }
    if (isPrefacePrefix) {
      if (head.length >= CLIENT_PREFACE.length) finish('http2');
      return;
    }
    const eol = head.indexOf(0x0a);
    if (eol < 0) {
      if (head.length >= MAX_REQUEST_LINE) finish('http2');
      return;
    }
    finish(isHttp1RequestLine(head, eol) ? 'http1' : 'http2');
  };
  const onClose = (): void => finish(null);
  const timer = setTimeout(() => finish(null), timeoutMs);
  timer.unref();
  socket.on('data', onData);
  socket.on('close', onClose);
}

const EMPTY = Buffer.alloc(0);
/** Longest request line we wait for before deciding (node:http's header limit is larger; lines are short in practice). */
const MAX_REQUEST_LINE = 8192;

/** "METHOD SP target SP HTTP/1.x" ending at `eol` (the LF, optionally preceded by CR). */
function isHttp1RequestLine(b: Buffer, eol: number): boolean {
  let end = eol;
  if (end > 0 && b[end - 1] === 0x0d) end--;
  if (end < 14) return false;
  // Ends in " HTTP/1.0" or " HTTP/1.1".
  const v = b.toString('latin1', end - 9, end);
  if (v !== ' HTTP/1.1' && v !== ' HTTP/1.0') return false;
  // Starts with a token followed by a space.
  let i = 0;
  while (i < end && isTokenChar(b[i]!)) i++;
  return i > 0 && b[i] === 0x20;
}

function isTokenChar(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f || c === 0x2e || c === 0x21 || c === 0x7e;
}
