import type net from 'node:net';

/** Parts up to this total are copied into one buffer for the write; larger ones go as one writev. */
const COALESCE = 16 * 1024;

type Latin1Buffer = Buffer & { latin1Write(s: string, offset: number, length: number): number };

/**
 * Writes the parts a connection produced in one turn (heads as latin1
 * strings, bodies as buffers) with one system call: small ones copied into
 * one buffer (a response head and a short body are the common case), larger
 * ones corked into a writev so bodies are not copied.
 */
export function writeParts(socket: net.Socket, parts: ReadonlyArray<Buffer | string>): void {
  const n = parts.length;
  if (n === 1) {
    const p = parts[0]!;
    if (typeof p === 'string') socket.write(p, 'latin1');
    else socket.write(p);
    return;
  }
  let total = 0;
  for (let i = 0; i < n; i++) total += parts[i]!.length;
  if (total <= COALESCE) {
    const b = Buffer.allocUnsafe(total) as Latin1Buffer;
    let off = 0;
    for (let i = 0; i < n; i++) {
      const p = parts[i]!;
      if (typeof p === 'string') off += b.latin1Write(p, off, p.length);
      else off += p.copy(b, off);
    }
    socket.write(b);
    return;
  }
  socket.cork();
  for (let i = 0; i < n; i++) {
    const p = parts[i]!;
    if (typeof p === 'string') socket.write(p, 'latin1');
    else socket.write(p);
  }
  socket.uncork();
}
