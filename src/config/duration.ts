/**
 * Durations as users write them ("250ms", "5s", "1m30s", "100us") and as the
 * rest of Switchyard uses them: a number of milliseconds (possibly fractional
 * for sub-millisecond values).
 */
import { z } from 'zod';

/** Largest duration accepted: setTimeout() silently turns anything longer into 1 ms. */
export const MAX_DURATION_MS = 2_147_483_647;

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3, // U+00B5 micro sign
  'μs': 1e-3, // U+03BC greek mu
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

const PLAIN_NUMBER = /^(?:\d+(?:\.\d*)?|\.\d+)$/;
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

export const DURATION_HINT =
  'expected a duration such as "250ms", "5s", "1m30s", "100us" (units ns, us, ms, s, m, h) or a plain number of milliseconds';

/** Thrown by parseDuration; the message explains what was wrong. */
export class DurationError extends Error {
  override readonly name = 'DurationError';
}

/**
 * Parses a duration into milliseconds. Numbers are taken as milliseconds;
 * strings are a plain number (milliseconds) or one or more number+unit parts
 * ("1h30m", "1.5s"). Negative, non-finite and over-large values are rejected.
 */
export function parseDuration(input: string | number): number {
  let ms: number;
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) throw new DurationError(`invalid duration ${input}: ${DURATION_HINT}`);
    if (input < 0) throw new DurationError(`invalid duration ${input}: must not be negative`);
    ms = input;
  } else {
    const text = input.trim();
    if (text === '') throw new DurationError(`empty duration: ${DURATION_HINT}`);
    if (text.startsWith('-')) throw new DurationError(`invalid duration "${input}": must not be negative`);
    if (PLAIN_NUMBER.test(text)) {
      ms = Number(text);
    } else {
      ms = 0;
      PART.lastIndex = 0;
      let pos = 0;
      while (pos < text.length) {
        PART.lastIndex = pos;
        const m = PART.exec(text);
        if (m === null) throw new DurationError(`invalid duration "${input}": ${DURATION_HINT}`);
        ms += Number(m[1]) * (UNIT_MS[m[2]!] as number);
        pos = PART.lastIndex;
      }
    }
  }
  if (ms > MAX_DURATION_MS) {
    throw new DurationError(`duration "${input}" is too long (at most ${MAX_DURATION_MS} ms, about 24.8 days)`);
  }
  // Round away floating-point noise such as 0.1 * 3 = 0.30000000000000004.
  return Math.round(ms * 1e6) / 1e6;
}

/** Formats milliseconds compactly, e.g. 1500 → "1.5s", 90000 → "1m30s", 0.25 → "250us". */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1) return `${Math.round(ms * 1000 * 1000) / 1000}us`;
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${ms / 1000}s`;
  let rest = ms;
  let out = '';
  const h = Math.floor(rest / 3_600_000);
  if (h > 0) {
    out += `${h}h`;
    rest -= h * 3_600_000;
  }
  const m = Math.floor(rest / 60_000);
  if (m > 0) {
    out += `${m}m`;
    rest -= m * 60_000;
  }
  if (rest > 0) out += rest < 1000 ? `${rest}ms` : `${rest / 1000}s`;
  return out;
}

export interface DurationSchemaOptions {
  /** Reject 0. */
  positive?: boolean;
  /** Inclusive lower bound in ms. */
  min?: number;
  /** Inclusive upper bound in ms. */
  max?: number;
}

/** A zod schema that accepts a duration (string or number) and outputs milliseconds. */
export function duration(options: DurationSchemaOptions = {}) {
  return z.unknown().transform((value, ctx): number => {
    if (value === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `Required: ${DURATION_HINT}` });
      return z.NEVER;
    }
    if (typeof value !== 'string' && typeof value !== 'number') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `invalid duration (got ${describe(value)}): ${DURATION_HINT}` });
      return z.NEVER;
    }
    let ms: number;
    try {
      ms = parseDuration(value);
    } catch (e) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: (e as Error).message });
      return z.NEVER;
    }
    const shown = typeof value === 'string' ? `"${value}"` : `${value}`;
    if (options.positive && ms === 0) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `duration ${shown} must be greater than 0` });
      return z.NEVER;
    }
    if (options.min !== undefined && ms < options.min) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `duration ${shown} must be at least ${formatDuration(options.min)}` });
      return z.NEVER;
    }
    if (options.max !== undefined && ms > options.max) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `duration ${shown} must be at most ${formatDuration(options.max)}` });
      return z.NEVER;
    }
    return ms;
  });
}

/** Any non-negative duration, output in milliseconds. */
export const durationSchema = duration();
/** A duration greater than zero, output in milliseconds. */
export const positiveDurationSchema = duration({ positive: true });

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `"${value}"`;
  return `${typeof value} ${String(value)}`;
}
