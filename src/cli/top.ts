import { parseArgs, stringFlag, UsageError, type ParsedArgs } from './args.js';
import { adminBase, fetchStats, fmtMs, fmtPct, fmtRps, table, type StatRow, type StatsResponse } from './stat.js';

export const TOP_USAGE = `Usage:
  switchyard top [--admin HOST:PORT] [--by method|path] [--window 10s|1m] [--interval SECONDS] [--limit N] [--once]

A live table of the busiest gRPC methods (--by method, the default) or paths
(--by path) of a running proxy, refreshed every second until Ctrl-C. --once
prints one snapshot and exits. Paths and methods beyond the first 100 seen are
counted as "other".
Exit codes: 0 done, 1 admin server unreachable, 2 usage error.`;

/** The top table of one stats response. */
export function renderTop(st: StatsResponse, by: 'method' | 'path', limit: number): string {
  const list: (StatRow & { grpc: boolean })[] = by === 'method' ? st.methods : st.paths;
  const rows = [...list]
    .sort((a, b) => b.rps - a.rps || b.total.requests - a.total.requests)
    .slice(0, limit)
    .map((r) => [r.name, fmtRps(r.rps), fmtPct(r.successRate), fmtMs(r.latencyMs.p50), fmtMs(r.latencyMs.p95), fmtMs(r.latencyMs.p99), String(r.total.failures), String(r.total.requests)]);
  return table([by === 'method' ? 'METHOD' : 'PATH', 'RPS', 'SUCCESS', 'P50', 'P95', 'P99', 'FAILURES', 'TOTAL'], rows);
}

export async function runTop(args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let p: ParsedArgs;
  let by: 'method' | 'path';
  let window: string;
  let interval: number;
  let limit: number;
  try {
    p = parseArgs(args, ['help', 'once']);
    if (p.flags.has('help')) {
      out.write(`${TOP_USAGE}\n`);
      return 0;
    }
    const b = stringFlag(p, 'by') ?? 'method';
    if (b !== 'method' && b !== 'path') throw new UsageError('--by must be method or path');
    by = b;
    window = stringFlag(p, 'window') ?? '10s';
    if (window !== '10s' && window !== '1m') throw new UsageError('--window must be 10s or 1m');
    interval = Number(stringFlag(p, 'interval') ?? 1);
    limit = Number(stringFlag(p, 'limit') ?? 20);
    if (!(interval > 0) || !(limit > 0)) throw new UsageError('--interval and --limit must be positive numbers');
  } catch (e) {
    err.write(`${(e as Error).message}\n\n${TOP_USAGE}\n`);
    return 2;
  }
  const base = adminBase(p);
  const once = p.flags.has('once');
  const tty = (out as NodeJS.WriteStream).isTTY === true;
  let stop = false;
  const onSig = (): void => {
    stop = true;
  };
  process.once('SIGINT', onSig);
  try {
    for (;;) {
      let st: StatsResponse;
      try {
        st = await fetchStats(base, window);
      } catch (e) {
        err.write(`cannot read stats from ${base}: ${(e as Error).message}\n`);
        return 1;
      }
      const text = renderTop(st, by, limit);
      if (once) {
        out.write(text);
        return 0;
      }
      out.write(`${tty ? '\x1b[2J\x1b[H' : '\n'}switchyard top — ${base} — by ${by}, window ${st.window} — ${new Date().toISOString()}\n\n${text}`);
      await new Promise((r) => setTimeout(r, interval * 1000));
      if (stop) return 0;
    }
  } finally {
    process.removeListener('SIGINT', onSig);
  }
}
