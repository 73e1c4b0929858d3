import type { Socket } from 'node:net';
import { CLIENT_PREFACE } from '../http2/index.js';

export type DetectedProtocol = 'http2' | 'http1' | 'tls';

/**
 * Decides the protocol of a new connection from its first bytes, as few as
 * needed: the HTTP/2 prior-knowledge preface (RFC 9113 §3.4), a TLS
 * ClientHello (record type 0x16, RFC 8446 §5.1; for the TLS listener to come),
 * or anything else as HTTP/1.1. Bounded by the preface length and a timeout.
 * The bytes read are handed on with the verdict; the socket is left paused.
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
    for (let i = 0; i < n; i++) if (head[i] !== CLIENT_PREFACE[i]) return finish('http1');
    if (head.length >= CLIENT_PREFACE.length) finish('http2');
  };
  const onClose = (): void => finish(null);
  const timer = setTimeout(() => finish(null), timeoutMs);
  timer.unref();
  socket.on('data', onData);
  socket.on('close', onClose);
}

const EMPTY = Buffer.alloc(0);
