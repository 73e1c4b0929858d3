import { DEFAULT_ADMIN_LISTEN } from '../config/index.js';
import { parseArgs, stringFlag, UsageError, type ParsedArgs } from './args.js';
import type { StatsEntry } from '../telemetry/telemetry.js';

export const STAT_USAGE = `Usage:
  switchyard stat [services|routes|listeners|methods] [NAME] [--admin HOST:PORT] [--window 10s|1m] [--json]

Prints success rate, requests per second and latency percentiles of a running
proxy, read from its admin server (default ${DEFAULT_ADMIN_LISTEN}). Services
list their endpoints below them with each one's share of the traffic and
state (with the connect error of an unreachable one); below the table, the
services without an available endpoint and the reasons of the window's
failures. NAME narrows the table to one service, route, listener or method.
Exit codes: 0 printed, 1 admin server unreachable or nothing matched, 2 usage error.`;

/** Windowed statistics of one key as /api/v1/stats returns them (the telemetry's own type; a type-only import). */
export type StatRow = StatsEntry;

export interface EndpointRow extends StatRow {
  state: string;
  /** Why it cannot be reached ("connection refused (ECONNREFUSED)"), null while reachable. */
  cause?: string | null;
  share: number | null;
  latencyEstimateMs: number;
  connections: number;
  zone?: string | null;
  terminating?: boolean;
  /** What the endpoint reports about its load (services with `orca`). */
  orca?: { utilization: number; weight: number } | null;
}

import type { DiscoveryView as DiscoveryRow } from '../telemetry/cluster-merge-topology.js';
export type { DiscoveryRow };

export interface ServiceRow extends StatRow {
  endpoints: EndpointRow[];
  panicMode: boolean;
  inFlight: number;
  available?: boolean;
  /** Why no request can be sent to it, null while one can. */
  unavailable?: string | null;
  discovery?: DiscoveryRow;
}

export interface StatsResponse {
  window: string;
  listeners: (StatRow & { protocol?: string })[];
  routes: (StatRow & { listener: string })[];
  services: ServiceRow[];
  methods: (StatRow & { grpc: boolean })[];
  paths: (StatRow & { grpc: boolean })[];
}

/** "HOST:PORT" of the admin server from --admin (default 127.0.0.1:9990). */
export function adminBase(p: ParsedArgs): string {
  const a = stringFlag(p, 'admin') ?? DEFAULT_ADMIN_LISTEN;
  return a.startsWith('http://') ? a.replace(/\/$/, '') : `http://${a}`;
}

export async function fetchStats(base: string, window: string): Promise<StatsResponse> {
  const r = await fetch(`${base}/api/v1/stats?window=${encodeURIComponent(window)}`);
  if (!r.ok) throw new Error(`${base}/api/v1/stats answered ${r.status}: ${await r.text()}`);
  return (await r.json()) as StatsResponse;
}

export function fmtPct(r: number | null): string {
  return r === null ? '-' : `${(r * 100).toFixed(2)}%`;
}

export function fmtMs(v: number | null): string {
  if (v === null) return '-';
  if (v >= 1000) return `${(v / 1000).toFixed(2)}s`;
  return v < 10 ? `${v.toFixed(2)}ms` : `${v.toFixed(1)}ms`;
}

export function fmtRps(v: number): string {
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

/** A plain left-aligned text table. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** "no-endpoint 80, timeout 9" ('' without failures). */
export function fmtReasons(reasons: Record<string, number> | undefined): string {
  if (reasons === undefined) return '';
  return Object.entries(reasons).map(([r, n]) => `${r} ${n}`).join(', ');
}

function statCells(name: string, s: StatRow): string[] {
  return [name, fmtPct(s.successRate), fmtRps(s.rps), fmtMs(s.latencyMs.p50), fmtMs(s.latencyMs.p95), fmtMs(s.latencyMs.p99), String(s.total.requests)];
}

const HEADER = ['NAME', 'SUCCESS', 'RPS', 'P50', 'P95', 'P99', 'TOTAL'];

/** The stat table of a stats response; `kind` and `name` select what is shown. */
export function renderStat(st: StatsResponse, kind: string, name: string | undefined): { text: string; data: unknown[] } {
  const want = (n: string): boolean => name === undefined || n === name;
  const rows: string[][] = [];
  const data: unknown[] = [];
  if (kind === 'services') {
    const notes: string[] = [];
    for (const s of st.services.filter((x) => want(x.name))) {
      rows.push([...statCells(s.name + (s.panicMode ? ' (panic)' : ''), s), '', s.available === false ? 'UNAVAILABLE' : '']);
      data.push(s);
      for (const e of s.endpoints) {
        const share = e.share === null ? '-' : `${(e.share * 100).toFixed(0)}%`;
        const state = (e.cause ? `${e.state}: ${e.cause}` : e.state) + (e.terminating ? ' (terminating)' : '') + (e.zone ? ` zone=${e.zone}` : '')
          + (e.orca ? ` util=${e.orca.utilization.toFixed(2)} orca-weight=${e.orca.weight.toPrecision(3)}` : '');
        rows.push([...statCells(`  ${e.name}`, e), `${share} ${'#'.repeat(Math.round((e.share ?? 0) * 20))}`, state]);
      }
      if (s.unavailable) notes.push(`${s.name}: ${s.unavailable}`);
      const d = s.discovery;
      if (d !== undefined && d.kind !== 'static') {
        const when = d.lastUpdate === null ? 'no update yet' : `last update ${d.lastUpdate}`;
        notes.push(`${s.name}: endpoints from ${d.description}: ${d.healthy ? 'ok' : `FAILING: ${d.lastError ?? ''}`}, ${when}, ${d.updates} updates, ${d.errors} errors`);
      }
      const reasons = fmtReasons(s.failureReasons);
      if (reasons !== '') notes.push(`${s.name}: ${s.failures} failed in the last ${st.window}: ${reasons}`);
    }
    return { text: table([...HEADER, 'SHARE', 'STATE'], rows) + (notes.length > 0 ? `\n${notes.join('\n')}\n` : ''), data };
  }
  const list: StatRow[] = kind === 'routes' ? st.routes.map((r) => ({ ...r, name: `${r.listener}/${r.name}` })).filter((r) => want(r.name) || want(r.name.split('/')[1]!))
    : kind === 'listeners' ? st.listeners.filter((x) => want(x.name))
    : st.methods.filter((x) => want(x.name));
  for (const r of list) {
    rows.push(statCells(r.name, r));
    data.push(r);
  }
  return { text: table(HEADER, rows), data };
}

const KINDS: Record<string, string> = {
  service: 'services', services: 'services', svc: 'services',
  route: 'routes', routes: 'routes',
  listener: 'listeners', listeners: 'listeners',
  method: 'methods', methods: 'methods',
};

export async function runStat(args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let p: ParsedArgs;
  try {
    p = parseArgs(args, ['help', 'json']);
  } catch (e) {
    err.write(`${(e as Error).message}\n\n${STAT_USAGE}\n`);
    return 2;
  }
  if (p.flags.has('help')) {
    out.write(`${STAT_USAGE}\n`);
    return 0;
  }
  let base: string;
  let window: string;
  try {
    base = adminBase(p);
    window = stringFlag(p, 'window') ?? '10s';
    if (window !== '10s' && window !== '1m') throw new UsageError('--window must be 10s or 1m');
  } catch (e) {
    err.write(`${(e as Error).message}\n\n${STAT_USAGE}\n`);
    return 2;
  }
  let [kind, name] = p.positionals;
  let st: StatsResponse;
  try {
    st = await fetchStats(base, window);
  } catch (e) {
    err.write(`cannot read stats from ${base}: ${(e as Error).message}\n`);
    return 1;
  }
  if (kind !== undefined && KINDS[kind] === undefined) {
    // A bare name: a service, else a route, listener or method of that name.
    name = kind;
    kind = st.services.some((s) => s.name === name) ? 'services'
      : st.routes.some((r) => r.name === name || `${r.listener}/${r.name}` === name) ? 'routes'
      : st.listeners.some((l) => l.name === name) ? 'listeners' : 'methods';
  } else {
    kind = KINDS[kind ?? 'services'];
  }
  const r = renderStat(st, kind!, name);
  if (name !== undefined && r.data.length === 0) {
    err.write(`nothing named "${name}" in ${kind}\n`);
    return 1;
  }
  out.write(p.flags.has('json') ? `${JSON.stringify({ window: st.window, [kind!]: r.data }, null, 2)}\n` : r.text);
  return 0;
}
