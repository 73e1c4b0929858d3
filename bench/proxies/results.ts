/**
 * What the proxy benchmark records: one sample per measured run, each row's
 * figures over its runs (median, min, max, spread flag), and the shape of a
 * scenario's result in bench/results/latest.json.
 */
import { median, spreadOf, type Spread } from "../lib/stats.js";
import type { SystemHandle, SystemId } from "../lib/systems.js";

export interface RunSample {
  ok: boolean;
  error?: string;
  reqPerSec: number;
  done: number;
  succeeded: number;
  nonSuccess: number;
  dataBytes: number;
  durationMs: number;
  cpuMs: number;
  backendCpuMs: number;
  cpuUsPerReq: number;
  /** The user-mode part of cpuUsPerReq (utime; the rest is the kernel's, see processUserMs). */
  userUsPerReq: number;
  backendCpuUsPerReq: number;
  p50Us?: number;
  p99Us?: number;
  p999Us?: number;
  /** CPU ms of each process role in the system's tree (scenario 9: primary, worker 0, ...). */
  processCpuMs?: Record<string, number>;
}

/** The figures kept per row, each over the row's successful runs. */
export const FIGURES = [
  "reqPerSec",
  "cpuUsPerReq",
  "userUsPerReq",
  "backendCpuUsPerReq",
  "mbPerSec",
  "cpuMsPerMiB",
  "p50Us",
  "p99Us",
  "p999Us",
] as const;
export type Figure = (typeof FIGURES)[number];

export interface SystemResult {
  id: SystemId;
  /** Unique within a scenario's load: the id, with the Node version for Switchyard under several. */
  row: string;
  label: string;
  error?: string;
  /** The row is not measured here, and why. */
  skipped?: string;
  runs: RunSample[];
  /** Medians (the same as `stats[figure].median`). */
  reqPerSec: number;
  cpuUsPerReq: number;
  userUsPerReq: number;
  backendCpuUsPerReq: number;
  mbPerSec: number;
  cpuMsPerMiB: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  /** Median, min, max and spread of every figure. */
  stats: Record<Figure, Spread>;
  /** Figures whose spread over the runs is above the limit. */
  flagged: Figure[];
  rssIdleKb: number;
  rssAfterKb: number;
  /** Median share of each process role in the tree's CPU (when the runs recorded roles). */
  cpuShare?: Record<string, number>;
  /** Extra per-scenario facts (e.g. a gRPC status check). */
  notes: string[];
}

/** One value of a swept parameter: every system measured at it. */
export interface SweepPoint {
  /** The swept value (endpoints, client connections). */
  value: number;
  /** What else characterises the point (e.g. the h2load load, or requests in flight per endpoint). */
  detail: string;
  systems: SystemResult[];
}

/** A parameter swept over several values, the other conditions kept equal. */
export interface Sweep {
  key: string;
  title: string;
  description: string;
  /** The h2load options, with the swept ones named (e.g. "-c C -m M"). */
  h2load: string;
  /** Column headers for `SweepPoint.value` and `SweepPoint.detail`. */
  valueHeader: string;
  detailHeader: string;
  points: SweepPoint[];
  notes: string[];
}

/** Resident memory of one process started as users start it, over fresh starts (scenario 12). */
export interface MemoryResult {
  label: string;
  error?: string;
  /** KiB. */
  idleRss: Spread;
  idleAnon: Spread;
  idleFile: Spread;
  afterRss: Spread;
  afterAnon: Spread;
  afterFile: Spread;
  requests: Spread;
}

export interface ScenarioResult {
  id: number;
  key: string;
  title: string;
  description: string;
  date: string;
  runs: number;
  h2load: string;
  /** Fixed-rate scenario: results per target rate. */
  rates?: Array<{ rate: number; systems: SystemResult[] }>;
  /** Several loads on the same systems (e.g. 10 and 100 connections): results per load. */
  loads?: Array<{ load: string; systems: SystemResult[] }>;
  /** Sweep scenario: results per swept parameter and value (`systems` is then empty). */
  sweeps?: Sweep[];
  /** Memory scenario. */
  memory?: MemoryResult[];
  systems: SystemResult[];
  /** Lines printed under the tables (limits of the machine, points skipped). */
  notes?: string[];
}

/** Median over runs of each process role's share of the tree's CPU; undefined when no run recorded roles. */
function medianCpuShare(runs: readonly RunSample[]): Record<string, number> | undefined {
  const split = runs.map((r) => r.processCpuMs).filter((p): p is Record<string, number> => p !== undefined);
  if (split.length === 0) return undefined;
  const roles = [...new Set(split.flatMap((p) => Object.keys(p)))].sort();
  const share = (p: Record<string, number>, role: string) => {
    const total = Object.values(p).reduce((a, b) => a + b, 0);
    return total > 0 ? (p[role] ?? 0) / total : NaN;
  };
  return Object.fromEntries(roles.map((role) => [role, median(split.map((p) => share(p, role)))]));
}

/** Each figure of one run. */
function runFigures(r: RunSample): Record<Figure, number> {
  const mib = r.dataBytes / (1024 * 1024);
  return {
    reqPerSec: r.reqPerSec,
    cpuUsPerReq: r.cpuUsPerReq,
    userUsPerReq: r.userUsPerReq,
    backendCpuUsPerReq: r.backendCpuUsPerReq,
    mbPerSec: r.durationMs > 0 ? mib / (r.durationMs / 1000) : NaN,
    cpuMsPerMiB: r.dataBytes > 0 ? r.cpuMs / mib : NaN,
    p50Us: r.p50Us ?? NaN,
    p99Us: r.p99Us ?? NaN,
    p999Us: r.p999Us ?? NaN,
  };
}

/** A row's result from its runs; failed runs are left out of the figures and named in the notes. */
export function summarize(
  sys: SystemHandle,
  row: string,
  runs: RunSample[],
  rssIdleKb: number,
  rssAfterKb: number,
  notes: string[],
): SystemResult {
  const good = runs.filter((r) => r.ok);
  const error = sys.skipped
    ? undefined
    : (sys.error ?? (good.length === 0 ? (runs.find((r) => r.error)?.error ?? "no successful run") : undefined));
  if (good.length > 0 && good.length < runs.length) {
    notes.push(`${runs.length - good.length} of ${runs.length} runs failed: ${runs.find((r) => !r.ok)?.error ?? ""}`);
  }
  const perRun = good.map(runFigures);
  const stats = Object.fromEntries(FIGURES.map((f) => [f, spreadOf(perRun.map((x) => x[f]))])) as Record<Figure, Spread>;
  return {
    id: sys.id,
    row,
    label: sys.label,
    error,
    skipped: sys.skipped,
    runs,
    reqPerSec: stats.reqPerSec.median,
    cpuUsPerReq: stats.cpuUsPerReq.median,
    userUsPerReq: stats.userUsPerReq.median,
    backendCpuUsPerReq: stats.backendCpuUsPerReq.median,
    mbPerSec: stats.mbPerSec.median,
    cpuMsPerMiB: stats.cpuMsPerMiB.median,
    p50Us: stats.p50Us.median,
    p99Us: stats.p99Us.median,
    p999Us: stats.p999Us.median,
    stats,
    flagged: FIGURES.filter((f) => stats[f].flagged),
    rssIdleKb,
    rssAfterKb,
    cpuShare: medianCpuShare(good),
    notes,
  };
}
