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
