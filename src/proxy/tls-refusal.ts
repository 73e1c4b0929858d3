import type net from 'node:net';

/** How long a refused plaintext connection is still read (so that the kernel does not reset the refusal away) before it is closed. */
const REFUSAL_LINGER_MS = 2000;

/**
 * RFC 9113 §3.4, §6.8: the server preface (an empty SETTINGS frame), then
 * GOAWAY with last-stream-id 0 and INADEQUATE_SECURITY (0xc, §7): the
 * answer to a cleartext HTTP/2 client on a port that requires TLS.
 */
export const H2_TLS_REQUIRED = Buffer.from([
  0, 0, 0, 0x4, 0, 0, 0, 0, 0,
  0, 0, 8, 0x7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc,
]);
const H1_TLS_REQUIRED_BODY = 'this port requires TLS\n';
/** The answer to a cleartext HTTP/1.1 client on a port that requires TLS. */
export const H1_TLS_REQUIRED = `HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${H1_TLS_REQUIRED_BODY.length}\r\nconnection: close\r\n\r\n${H1_TLS_REQUIRED_BODY}`;

/** Answers plaintext on a port that requires TLS, then reads and drops what the client still sends until it closes (or a short while). */
export function refusePlaintext(socket: net.Socket, answer: string | Buffer): void {
  socket.end(answer);
  socket.resume();
  const t = setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS);
  t.unref();
  socket.once('close', () => clearTimeout(t));
}
