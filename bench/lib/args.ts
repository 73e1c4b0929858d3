import path from "node:path";

/**
 * The command-line loop shared by the benchmarks: `--flag value`,
 * `--flag=value` and boolean flags. `handle` returns false for a flag it does
 * not know; `--help` prints `usage` and exits 0, an unknown flag exits 64.
 */
export function parseBenchArgs(
  argv: readonly string[],
  usage: string,
  handle: (flag: string, value: () => string) => boolean,
): void {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf("=");
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const inline = eq > 0 ? a.slice(eq + 1) : undefined;
    const value = (): string => inline ?? argv[++i] ?? "";
    if (flag === "--help" || flag === "-h") {
      process.stdout.write(usage);
      process.exit(0);
    }
    if (!handle(flag, value)) {
      process.stderr.write(`unknown argument: ${a}\n`);
      process.exit(64);
    }
  }
}

/** The measurement-discipline options the pinned benchmarks share (cores, foreign load, retries, profiles, output). */
export interface MeasureOptions {
  pin: boolean;
  maxForeign: number;
  retries: number;
  quietWaitSec: number;
  cpuProfDir: string | undefined;
  write: boolean;
}

/**
 * Handles the flags of MeasureOptions (`--no-pin`, `--max-foreign PCT`,
 * `--retries N`, `--quiet-wait S`, `--cpu-prof DIR`, `--no-write`) for a
 * parseBenchArgs handler; false for any other flag.
 */
export function measureFlag(o: MeasureOptions, flag: string, value: () => string, resolveDir: (p: string) => string): boolean {
  switch (flag) {
    case "--no-pin":
      o.pin = false;
      return true;
    case "--max-foreign":
      o.maxForeign = Math.max(0, Number(value()) || 0) / 100;
      return true;
    case "--retries":
      o.retries = Math.max(0, Math.floor(Number(value())) || 0);
      return true;
    case "--quiet-wait":
      o.quietWaitSec = Math.max(0, Number(value()) || 0);
      return true;
    case "--cpu-prof":
      o.cpuProfDir = resolveDir(value());
      return true;
    case "--no-write":
      o.write = false;
      return true;
    default:
      return false;
  }
}

/** How long and how wide the interleaved benchmarks run: rounds, seconds per run, h2load -c and -m (0: not given yet). */
export interface RunShape {
  rounds: number;
  seconds: number;
  clients: number;
  streams: number;
}

/** A whole number of at least `min`; anything else (not a number, 0, below `min`) is `min`. */
export function atLeast(v: string, min: number): number {
  return Math.max(min, Math.floor(Number(v)) || min);
}

/**
 * The command line of an interleaved benchmark: `--quick`, the RunShape
 * flags (`--rounds`/`--runs`, `--seconds`/`--duration`, `--clients`,
 * `--streams`) and the MeasureOptions flags are handled here, `handle` gets
 * the others first. Rounds and seconds not given take their default, the
 * second of each pair with `--quick`. Returns whether `--quick` was given.
 */
export function parseRunArgs(
  argv: readonly string[],
  usage: string,
  o: RunShape & MeasureOptions,
  defaults: { rounds: readonly [number, number]; seconds: readonly [number, number] },
  handle: (flag: string, value: () => string) => boolean,
): boolean {
  let quick = false;
  parseBenchArgs(argv, usage, (flag, value) => {
    switch (flag) {
      case "--quick":
        quick = true;
        return true;
      case "--rounds":
      case "--runs":
        o.rounds = atLeast(value(), 1);
        return true;
      case "--seconds":
      case "--duration":
        o.seconds = atLeast(value(), 1);
        return true;
      case "--clients":
        o.clients = atLeast(value(), 1);
        return true;
      case "--streams":
        o.streams = atLeast(value(), 1);
        return true;
      default:
        return handle(flag, value) || measureFlag(o, flag, value, (d) => path.resolve(d));
    }
  });
  const pick = quick ? 1 : 0;
  if (!o.rounds) o.rounds = defaults.rounds[pick];
  if (!o.seconds) o.seconds = defaults.seconds[pick];
  return quick;
}

/** `v` if it is one of `choices`; otherwise `message` on stderr and exit 64 (a usage error). */
export function oneOf<T extends string>(v: string, choices: readonly T[], message: string): T {
  if ((choices as readonly string[]).includes(v)) return v as T;
  process.stderr.write(`${message}\n`);
  process.exit(64);
}
