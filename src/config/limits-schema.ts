/**
 * Limits on what clients may make the proxy hold: connections (process-wide
 * and per listener), the size and number of request header fields, how long
 * a request head may take to arrive, idle connections, request bodies, and
 * a memory budget past which new connections are shed. Each has a default
 * (docs/limits.md compares them with Envoy's, HAProxy's and nginx's).
 */
import { z } from 'zod';
import { durationSchema, positiveDurationSchema } from './duration.js';

const UNIT_BYTES: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

const BYTE_SIZE = /^(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?$/i;

export const BYTE_SIZE_HINT = 'expected a size such as 65536, "64KiB", "1MiB", "2GiB" or "500MB" (KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024)';

/** Parses a byte size; throws with BYTE_SIZE_HINT on anything else. */
export function parseByteSize(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input) || input < 0) throw new Error(`invalid size ${input}: ${BYTE_SIZE_HINT}`);
    return input;
  }
  const m = BYTE_SIZE.exec(input.trim());
  if (m === null) throw new Error(`invalid size "${input}": ${BYTE_SIZE_HINT}`);
  const n = Math.floor(Number(m[1]) * UNIT_BYTES[(m[2] ?? 'b').toLowerCase()]!);
  if (!Number.isSafeInteger(n)) throw new Error(`invalid size "${input}": too large`);
  return n;
}

/** A byte size as users write it; output: a number of bytes. */
export const byteSizeSchema = z.union([z.number(), z.string()]).transform((v, ctx) => {
  try {
    return parseByteSize(v);
  } catch (err) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
    return z.NEVER;
  }
});

/** `limits` at the top level: the whole process. */
export const processLimitsSchema = z
  .object({
    /** Open client connections over all listeners; 0 = no limit. */
    maxConnections: z.number().int().min(0).max(10_000_000).default(20_000),
    /**
     * Process memory (RSS) past which new client connections are shed; "auto"
     * = 80% of the container's memory limit (or of the machine's memory), and
     * the V8 heap is held to 90% of its own limit; 0 = off.
     */
    memoryBudget: z.union([z.literal('auto'), byteSizeSchema]).default('auto'),
    /** How often memory is compared with the budget. */
    memoryCheckInterval: positiveDurationSchema.default('1s'),
  })
  .strict();

/** `listeners[].limits`: one listening port. */
export const listenerLimitsSchema = z
  .object({
    /** Open client connections of this listener; 0 = only the process-wide limit. */
    maxConnections: z.number().int().min(0).max(10_000_000).default(0),
    /** Header fields of a request (HTTP/2 pseudo-headers included), both protocols; more: 431. */
    maxHeaderCount: z.number().int().min(1).max(10_000).default(100),
    /** HTTP/1.1: bytes of the request line and header block; more: 431 (414 when the request line alone is too long). */
    maxHeaderSize: byteSizeSchema.pipe(z.number().int().min(1024).max(16 * 1024 * 1024)).default(65_536),
    /** HTTP/1.1: a request head (line and headers) must arrive within this, from its first byte (slowloris); 0 = off. */
    headersTimeout: durationSchema.default('10s'),
    /** An HTTP/1.1 keep-alive connection between requests, or an HTTP/2 connection without streams, is closed after this; 0 = never. */
    idleTimeout: durationSchema.default('60s'),
    /** Request body bytes (routes may set their own); more: 413. 0 = no limit. */
    maxRequestBody: byteSizeSchema.default(0),
  })
  .strict();

export type ProcessLimitsConfig = z.output<typeof processLimitsSchema>;
export type ListenerLimitsConfig = z.output<typeof listenerLimitsSchema>;
