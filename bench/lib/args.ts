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
