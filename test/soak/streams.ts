/** Writing deterministic bodies with back-pressure, for clients and backends alike. */
import type { Writable } from 'node:stream';
import { bodyChunks } from './payload.js';

/**
 * Writes the body named by (seed, size) to `w`, waiting for 'drain' whenever
 * the stream asks. Resolves false (without throwing) when the stream closes or
 * fails first: the other side reset it, which callers check for themselves.
 * `stopAt` stops after that many bytes (an interrupted upload).
 */
export async function writeBody(
  w: Writable,
  seed: number,
  size: number,
  opts: { chunk?: number; end?: boolean; stopAt?: number } = {},
): Promise<boolean> {
  const limit = Math.min(size, opts.stopAt ?? size);
  let closed = w.destroyed || w.writableEnded;
  const onClose = (): void => {
    closed = true;
  };
  w.once('close', onClose);
  w.once('error', onClose);
  try {
    let sent = 0;
    for (const c of bodyChunks(seed, size, opts.chunk ?? 16 * 1024)) {
      if (closed) return false;
      const part = sent + c.length > limit ? c.subarray(0, limit - sent) : c;
      if (part.length === 0) break;
      sent += part.length;
      if (!w.write(part)) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            w.off('drain', done);
            w.off('close', done);
            w.off('error', done);
            resolve();
          };
          w.on('drain', done);
          w.on('close', done);
          w.on('error', done);
        });
      }
      if (sent >= limit) break;
    }
    if (closed) return false;
    if (opts.end !== false) w.end();
    return true;
  } finally {
    w.off('close', onClose);
    w.off('error', onClose);
  }
}
