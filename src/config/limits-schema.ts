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
    maxConnections: z.number().int().min(0).max(10_000_000).default(20_000).describe(
      'Open client connections over all listeners. A connection over it is closed on arrival, before anything is read (counted in `switchyard_listener_connections_rejected_total{reason="max-connections"}`). `0` = no limit.',
    ),
    memoryBudget: z.union([z.literal('auto'), byteSizeSchema]).default('auto').describe(
      "While the process's resident memory is over this, or its V8 heap over 90% of the heap limit, new client connections are closed on arrival (`reason=\"memory-budget\"`); open ones are still served. `auto` = 80% of the container's memory limit (cgroup), or of the machine's memory without one. `0` = off. Each crossing is logged once.",
    ),
    memoryCheckInterval: positiveDurationSchema.default('1s').describe('How often memory is compared with the budget.'),
  })
  .strict();

/** `listeners[].limits`: one listening port. */
export const listenerLimitsSchema = z
  .object({
    maxConnections: z.number().int().min(0).max(10_000_000).default(0).describe(
      'Open client connections of this listener; over it a new one is closed on arrival (`reason="listener-max-connections"`). `0` = only the top-level limit.',
    ),
    maxHeaderCount: z.number().int().min(1).max(10_000).default(100).describe(
      'Header fields of a request (HTTP/2 pseudo-headers included), both protocols. More: 431 `SWY_ERR_HEADERS_TOO_LARGE` (gRPC: RESOURCE_EXHAUSTED).',
    ),
    maxHeaderSize: byteSizeSchema.pipe(z.number().int().min(1024).max(16 * 1024 * 1024)).default(65_536).describe(
      'HTTP/1.1: bytes of the request line and header block. More: 431, or 414 `SWY_ERR_URI_TOO_LONG` when the request line alone is over it; the connection is closed. HTTP/2 uses `http2.maxHeaderListSize`.',
    ),
    headersTimeout: durationSchema.default('10s').describe(
      'HTTP/1.1: a request head must arrive within this from its first byte, else 408 `SWY_ERR_REQUEST_TIMEOUT` and the connection is closed (slowloris). `0` = off.',
    ),
    idleTimeout: durationSchema.default('60s').describe(
      'An HTTP/1.1 keep-alive connection waiting for its next request, or an HTTP/2 connection with no stream open and none opened, is closed after this (HTTP/2: graceful GOAWAY). `0` = never.',
    ),
    maxRequestBody: byteSizeSchema.default(0).describe(
      'Request body bytes, for routes that set no `maxRequestBody` of their own; `0` = no limit. More: 413 `SWY_ERR_BODY_TOO_LARGE` (gRPC: RESOURCE_EXHAUSTED), at once when `content-length` says so, else as soon as the streamed body passes it (nothing is buffered for this).',
    ),
  })
  .strict();

export type ProcessLimitsConfig = z.output<typeof processLimitsSchema>;
export type ListenerLimitsConfig = z.output<typeof listenerLimitsSchema>;
