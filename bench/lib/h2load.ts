/**
 * Runs h2load (nghttp2-client) and parses its summary and, optionally, its
 * per-request log (--log-file) for latency percentiles.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { findExecutable, makeTempDir, removeTempDir, runToCompletion } from "./processes.js";

export interface LatencyStats {
  minUs: number;
  maxUs: number;
  meanUs: number;
  sdUs: number;
}

export interface Percentiles {
  count: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
}

export interface H2loadResult {
  ok: boolean;
  /** Why the run is not usable (process error, timeout, nothing completed). */
  error?: string;
  exitCode: number | string;
  durationMs: number;
  reqPerSec: number;
  /** Bytes per second as printed by h2load ("finished in ..., X req/s, Y MB/s"). */
  bytesPerSec: number;
  requests: {
    total: number;
    started: number;
    done: number;
    succeeded: number;
    failed: number;
    errored: number;
    timeout: number;
  };
  status: { s2xx: number; s3xx: number; s4xx: number; s5xx: number };
  trafficBytes: number;
  dataBytes: number;
  requestLatency?: LatencyStats;
  /** From --log-file, when `percentiles` was requested. */
  percentiles?: Percentiles;
  /** Per-status-code counts from the log file, when `percentiles` was requested. */
  logStatus?: Record<string, number>;
  stdout: string;
  stderr: string;
}

export interface H2loadOptions {
  url: string;
  clients?: number;
  streams?: number;
  requests?: number;
  /** -D seconds (timing-based); mutually exclusive with `requests`. */
  durationSec?: number;
  /** --warm-up-time seconds (only with durationSec). */
  warmupSec?: number;
  threads?: number;
  /** --rps per client. */
  rpsPerClient?: number;
  headers?: readonly string[];
  /** -d: POST this file as the body of each request. */
  dataFile?: string;
  /** Write --log-file and compute p50/p99/p99.9 from it. */
  percentiles?: boolean;
  /** -w / -W window size bits. */
  windowBits?: number;
  connectionWindowBits?: number;
  /** Extra raw arguments. */
  extraArgs?: readonly string[];
  /** Hard wall-clock limit for the h2load process. */
  timeoutMs?: number;
}

let h2loadPath: string | undefined;

export function h2loadBinary(): string {
  h2loadPath ??= findExecutable("h2load");
  if (!h2loadPath) throw new Error("h2load not found (install nghttp2-client)");
  return h2loadPath;
}

/** Builds the h2load argument vector for `opts` (log file path supplied separately). */
export function h2loadArgs(opts: H2loadOptions, logFile?: string): string[] {
  const a: string[] = [];
  a.push("-c", String(opts.clients ?? 1));
  a.push("-m", String(opts.streams ?? 1));
  a.push("-t", String(opts.threads ?? 1));
  if (opts.durationSec !== undefined) {
    a.push("-D", String(opts.durationSec));
    if (opts.warmupSec) a.push(`--warm-up-time=${opts.warmupSec}`);
  } else {
    a.push("-n", String(opts.requests ?? 10_000));
  }
  if (opts.rpsPerClient !== undefined) a.push(`--rps=${opts.rpsPerClient}`);
  if (opts.windowBits !== undefined) a.push("-w", String(opts.windowBits));
  if (opts.connectionWindowBits !== undefined) a.push("-W", String(opts.connectionWindowBits));
  for (const h of opts.headers ?? []) a.push("-H", h);
  if (opts.dataFile) a.push("-d", opts.dataFile);
  if (logFile) a.push(`--log-file=${logFile}`);
  a.push(...(opts.extraArgs ?? []));
  a.push(opts.url);
  return a;
}

const UNIT_US: Record<string, number> = { us: 1, ms: 1000, s: 1_000_000 };
const UNIT_BYTES: Record<string, number> = { B: 1, KB: 1024, MB: 1024 * 1024, GB: 1024 * 1024 * 1024 };

function parseDurationUs(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text.trim());
  if (!m) return NaN;
  return Number(m[1]) * UNIT_US[m[2]!]!;
}

/** Parses the summary h2load prints on stdout. */
export function parseH2loadSummary(stdout: string): Omit<H2loadResult, "ok" | "exitCode" | "stdout" | "stderr"> {
  const fin = /finished in ([\d.]+(?:us|ms|s)), ([\d.]+) req\/s, ([\d.]+)(B|KB|MB|GB)\/s/.exec(stdout);
  const req =
    /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(
      stdout,
    );
  const st = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(stdout);
  const tr = /traffic: [\d.]+\w*B \((\d+)\) total,.*?([\d.]+\w*B \((\d+)\) data)/.exec(stdout);
  const lat =
    /time for request:\s+([\d.]+(?:us|ms|s))\s+([\d.]+(?:us|ms|s))\s+([\d.]+(?:us|ms|s))\s+([\d.]+(?:us|ms|s))/.exec(
      stdout,
    );
  const n = (s: string | undefined) => (s === undefined ? 0 : Number(s));
  const out: Omit<H2loadResult, "ok" | "exitCode" | "stdout" | "stderr"> = {
    durationMs: fin ? parseDurationUs(fin[1]!) / 1000 : 0,
    reqPerSec: fin ? Number(fin[2]) : 0,
    bytesPerSec: fin ? Number(fin[3]) * UNIT_BYTES[fin[4]!]! : 0,
    requests: {
      total: n(req?.[1]),
      started: n(req?.[2]),
      done: n(req?.[3]),
      succeeded: n(req?.[4]),
      failed: n(req?.[5]),
      errored: n(req?.[6]),
      timeout: n(req?.[7]),
    },
    status: { s2xx: n(st?.[1]), s3xx: n(st?.[2]), s4xx: n(st?.[3]), s5xx: n(st?.[4]) },
    trafficBytes: n(tr?.[1]),
    dataBytes: n(tr?.[3]),
  };
  if (lat) {
    out.requestLatency = {
      minUs: parseDurationUs(lat[1]!),
      maxUs: parseDurationUs(lat[2]!),
      meanUs: parseDurationUs(lat[3]!),
      sdUs: parseDurationUs(lat[4]!),
    };
  }
  return out;
}

/** Nearest-rank percentile of an ascending-sorted array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/**
 * Parses an h2load --log-file (tab separated: start time µs since epoch,
 * HTTP status, µs until end of response) into latency percentiles.
 * Only completed requests (status > 0) count.
 */
export function parseH2loadLog(text: string): { percentiles: Percentiles; status: Record<string, number> } {
  const lat: number[] = [];
  const status: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (!line) continue;
    const cols = line.split("\t");
    if (cols.length < 3) continue;
    const code = cols[1]!;
    status[code] = (status[code] ?? 0) + 1;
    const us = Number(cols[2]);
    if (Number(code) > 0 && Number.isFinite(us)) lat.push(us);
  }
  const sorted = Float64Array.from(lat).sort();
  return {
    percentiles: {
      count: sorted.length,
      p50Us: percentile(sorted, 50),
      p90Us: percentile(sorted, 90),
      p99Us: percentile(sorted, 99),
      p999Us: percentile(sorted, 99.9),
      maxUs: sorted.length ? sorted[sorted.length - 1]! : NaN,
    },
    status,
  };
}

/** Runs h2load once. Never throws for load failures: look at `ok` / `error`. */
export async function runH2load(opts: H2loadOptions): Promise<H2loadResult> {
  const bin = h2loadBinary();
  const dir = opts.percentiles ? makeTempDir("h2load") : undefined;
  const logFile = dir ? path.join(dir, "requests.tsv") : undefined;
  const expectedMs =
    opts.durationSec !== undefined ? (opts.durationSec + (opts.warmupSec ?? 0)) * 1000 + 15_000 : 120_000;
  try {
    const run = await runToCompletion("h2load", bin, h2loadArgs(opts, logFile), opts.timeoutMs ?? expectedMs);
    const parsed = parseH2loadSummary(run.stdout);
    const result: H2loadResult = {
      ok: true,
      exitCode: run.code,
      ...parsed,
      stdout: run.stdout,
      stderr: run.stderr,
    };
    if (logFile) {
      try {
        const log = parseH2loadLog(readFileSync(logFile, "utf8"));
        result.percentiles = log.percentiles;
        result.logStatus = log.status;
      } catch {
        // no log written: reported through `error` below if nothing completed
      }
    }
    if (run.timedOut) {
      result.ok = false;
      result.error = `h2load did not finish within ${Math.round((opts.timeoutMs ?? expectedMs) / 1000)} s`;
    } else if (run.code !== 0) {
      result.ok = false;
      result.error = `h2load exited with ${run.code}: ${(run.stderr || run.stdout).trim().split("\n").slice(-3).join(" | ")}`;
    } else if (parsed.requests.done === 0) {
      result.ok = false;
      result.error = "no request completed";
    } else if (parsed.requests.errored + parsed.requests.timeout > parsed.requests.done * 0.01) {
      result.ok = false;
      result.error = `${parsed.requests.errored} errored / ${parsed.requests.timeout} timed out of ${parsed.requests.total}`;
    }
    return result;
  } finally {
    if (dir) removeTempDir(dir);
  }
}

let rpsSupport: boolean | undefined;

/** Whether this h2load has `--rps` (request rate per client). */
export async function h2loadSupportsRps(): Promise<boolean> {
  if (rpsSupport === undefined) {
    try {
      const r = await runToCompletion("h2load", h2loadBinary(), ["--help"], 5000);
      rpsSupport = /--rps\b/.test(r.stdout + r.stderr);
    } catch {
      rpsSupport = false;
    }
  }
  return rpsSupport;
}

/** `h2load --version` first line. */
export async function h2loadVersion(): Promise<string> {
  try {
    const r = await runToCompletion("h2load", h2loadBinary(), ["--version"], 5000);
    return r.stdout.trim().split("\n")[0] ?? "unknown";
  } catch {
    return "unknown";
  }
}
