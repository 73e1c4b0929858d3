/**
 * The process log: one JSON line per event on standard output, in pino's
 * format (`{"level":30,"time":…,"name":"switchyard",…fields,"msg":"…"}`, pino's
 * level numbers, errors under `err` as pino's standard serializer writes
 * them), so tools reading the log see no difference. The proxy logs a few
 * lines per start, reload or endpoint outage, never per request: a small
 * writer does, and pino (~7 MiB of resident memory when imported, npm run
 * bench:memory -- --modules) is loaded only for the access log. A pino logger
 * passed in by a program embedding Switchyard fits this interface too.
 */

/** One logging method: `(fields, message)`, `(message)`, `(fields)` or `(error, message?)`. */
export interface LogFn {
  (obj: object, msg?: string): void;
  (msg: string): void;
}

export interface Logger {
  /** fatal, error, warn, info, debug, trace or silent; settable (a reload changes it). */
  level: string;
  fatal: LogFn;
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  trace: LogFn;
  /** A logger whose lines also carry `bindings` (after the parent's), sharing the parent's level at creation. */
  child(bindings: Record<string, unknown>): Logger;
}

/** pino's level numbers. */
const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

export interface JsonLoggerOptions {
  level: string;
  /** Fields of every line, after level and time (pino's `base`). */
  base: Record<string, unknown>;
  /** Where lines go (default: standard output, synchronous on Linux pipes and files). */
  write?: (line: string) => void;
}

function writeStdout(line: string): void {
  process.stdout.write(line);
}

export function jsonLogger(o: JsonLoggerOptions): Logger {
  return new JsonLogger(o.level, fieldsOf(o.base), o.write ?? writeStdout);
}

class JsonLogger implements Logger {
  private threshold: number;
  private name: string;

  constructor(
    level: string,
    /** `,"name":"switchyard",…`: the base and child fields, serialized once. */
    private readonly bindings: string,
    private readonly write: (line: string) => void,
  ) {
    this.name = level;
    this.threshold = levelNumber(level);
  }

  get level(): string {
    return this.name;
  }

  set level(level: string) {
    this.threshold = levelNumber(level);
    this.name = level;
  }

  readonly fatal: LogFn = (a: object | string, msg?: string) => this.log(60, a, msg);
  readonly error: LogFn = (a: object | string, msg?: string) => this.log(50, a, msg);
  readonly warn: LogFn = (a: object | string, msg?: string) => this.log(40, a, msg);
  readonly info: LogFn = (a: object | string, msg?: string) => this.log(30, a, msg);
  readonly debug: LogFn = (a: object | string, msg?: string) => this.log(20, a, msg);
  readonly trace: LogFn = (a: object | string, msg?: string) => this.log(10, a, msg);

  child(bindings: Record<string, unknown>): Logger {
    return new JsonLogger(this.name, this.bindings + fieldsOf(bindings), this.write);
  }

  private log(level: number, a: object | string, msg: string | undefined): void {
    if (level < this.threshold) return;
    let fields = '';
    if (typeof a === 'string') msg = a;
    else if (a instanceof Error) {
      fields = `,"err":${stringify(serializeError(a))}`;
      msg ??= a.message;
    } else {
      const obj = a as Record<string, unknown>;
      fields = fieldsOf(obj.err instanceof Error ? { ...obj, err: serializeError(obj.err) } : obj);
    }
    this.write(`{"level":${level},"time":${Date.now()}${this.bindings}${fields}${msg === undefined ? '' : `,"msg":${JSON.stringify(msg)}`}}\n`);
  }
}

function levelNumber(level: string): number {
  const n = LEVELS[level];
  if (n === undefined) throw new RangeError(`unknown log level "${level}" (one of ${Object.keys(LEVELS).join(', ')})`);
  return n;
}

/** `{"a":1,"b":2}` → `,"a":1,"b":2` (empty for no fields). */
function fieldsOf(obj: Record<string, unknown>): string {
  const s = stringify(obj);
  return s.length <= 2 ? '' : `,${s.slice(1, -1)}`;
}

/** JSON with pino's choices where JSON.stringify would throw: cycles print "[Circular]", bigints as numbers. */
function stringify(value: unknown): string {
  try {
    return JSON.stringify(value, bigintReplacer);
  } catch {
    const stack: unknown[] = [];
    return JSON.stringify(value, function (this: unknown, key: string, v: unknown) {
      if (typeof v === 'bigint') return Number(v);
      if (typeof v !== 'object' || v === null) return v;
      // The ancestors of `v` are the stack up to `this`: JSON.stringify visits depth first.
      const at = stack.indexOf(this);
      stack.length = at + 1;
      if (key === '' && at < 0) stack.length = 0;
      if (stack.includes(v)) return '[Circular]';
      stack.push(v);
      return v;
    });
  }
}

function bigintReplacer(_key: string, v: unknown): unknown {
  return typeof v === 'bigint' ? Number(v) : v;
}

/**
 * An error as pino's standard serializer writes it: type, message and stack
 * with the causes' appended, AggregateError's errors, then the error's own
 * enumerable fields (`code`, …).
 */
export function serializeError(err: Error, seen: Set<Error> = new Set()): Record<string, unknown> {
  seen.add(err);
  const out: Record<string, unknown> = {
    type: typeof err.constructor === 'function' ? err.constructor.name : err.name,
    message: withCauses(err, (e) => e.message, ': '),
    stack: withCauses(err, (e) => e.stack ?? '', '\ncaused by: '),
  };
  const errors = (err as { errors?: unknown }).errors;
  if (Array.isArray(errors)) out.aggregateErrors = errors.map((e) => (e instanceof Error ? serializeError(e, seen) : e));
  for (const key in err) {
    if (out[key] !== undefined) continue;
    const v = (err as unknown as Record<string, unknown>)[key];
    if (v instanceof Error) {
      if (key !== 'cause' && !seen.has(v)) out[key] = serializeError(v, seen);
    } else out[key] = v;
  }
  return out;
}

function withCauses(err: Error, part: (e: Error) => string, sep: string): string {
  let s = part(err);
  const seen = new Set<unknown>([err]);
  for (let c = err.cause; c instanceof Error && !seen.has(c); c = c.cause) {
    seen.add(c);
    s += sep + part(c);
  }
  return s;
}
