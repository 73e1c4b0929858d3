/**
 * `npm run bench` — Switchyard against HAProxy, nginx and a direct
 * connection to the backends, over h2c on loopback.
 *
 *   node dist/bench/proxies.js [--quick] [--scenario N[,N...]] [--runs N]
 *        [--duration S] [--systems direct,haproxy,nginx,switchyard]
 *        [--switchyard-node PATH] [--switchyard-env KEY=VALUE]... [--no-write]
 *
 * Scenarios 1-7 compare the systems under one load each; 8 sweeps the
 * number of endpoints and of client connections (HAProxy and Switchyard);
 * 9 compares Switchyard with one and with two worker processes.
 *
 * The per-core figure is CPU time per request: utime+stime of the measured
 * process tree over a run divided by the requests h2load completed. Every
 * result is a ratio to a baseline measured in the same run (HAProxy, or the
 * direct connection), each figure the median of interleaved runs
 * (A,B,C,D,A,B,C,D,...).
 */
import http2 from "node:http2";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { h2loadSupportsRps, runH2load, type H2loadOptions, type H2loadResult } from "./lib/h2load.js";
import { openIdleClients, type IdleClients } from "./lib/idle-clients.js";
import { startNginxBackend } from "./lib/nginx.js";
import { groupsCpuMs, treesCpuMs } from "./lib/proc-cpu.js";
import {
  freePorts,
  makeTempDir,
  openFileLimit,
  requireTools,
  sleep,
  startProcess,
  stopAll,
  stopProcess,
  waitForPort,
  type Tracked,
  type RunningServer,
} from "./lib/processes.js";
import {
  benchmarksDoc,
  commandLine,
  fmtMiB,
  fmtNum,
  fmtRatio,
  fmtUs,
  log,
  machineInfo,
  machineMarkdown,
  median,
  ratio,
  resultsDir,
  table,
  updateDocSection,
  writeJson,
  type MachineInfo,
} from "./lib/report.js";
import { parseBenchArgs } from "./lib/args.js";
import { runBenchMain } from "./lib/entry.js";
import {
  ALL_SYSTEMS,
  startSystem,
  SYSTEM_LABEL,
  systemDeath,
  type Endpoint,
  type SwitchyardLaunch,
  type SystemHandle,
  type SystemId,
} from "./lib/systems.js";
import { repoRoot, switchyardProcessRoles, waitForListeningWorkers } from "./lib/switchyard.js";
import type { LoopDelay } from "./servers/loop-delay-probe.js";

// ---------------------------------------------------------------- options

interface Options {
  quick: boolean;
  scenarios: number[];
  runs: number;
  durationSec: number;
  systems: SystemId[];
  switchyard: SwitchyardLaunch;
  write: boolean;
}

const USAGE =
  "usage: node dist/bench/proxies.js [--quick] [--scenario N[,N]] [--runs N] [--duration S]\n" +
  "       [--systems direct,haproxy,nginx,switchyard] [--switchyard-node PATH]\n" +
  "       [--switchyard-env KEY=VALUE] [--no-write]\n";

function parseArgs(argv: readonly string[]): Options {
  const o: Options = {
    quick: false,
    scenarios: scenarioNumbers(),
    runs: 0,
    durationSec: 0,
    systems: [...ALL_SYSTEMS],
    switchyard: { env: {} },
    write: true,
  };
  parseBenchArgs(argv, USAGE, (flag, value) => {
    switch (flag) {
      case "--quick":
        o.quick = true;
        return true;
      case "--scenario":
      case "--scenarios":
        o.scenarios = value()
          .split(",")
          .map(Number)
          .filter((n) => scenarioNumbers().includes(n));
        return true;
      case "--runs":
        o.runs = Math.max(1, Number(value()) || 1);
        return true;
      case "--duration":
        o.durationSec = Math.max(1, Number(value()) || 1);
        return true;
      case "--systems":
        o.systems = value()
          .split(",")
          .filter((s): s is SystemId => (ALL_SYSTEMS as readonly string[]).includes(s));
        return true;
      case "--switchyard-node":
        o.switchyard.nodeBinary = value();
        return true;
      case "--switchyard-env": {
        const kv = value();
        const eq = kv.indexOf("=");
        if (eq > 0) o.switchyard.env![kv.slice(0, eq)] = kv.slice(eq + 1);
        return true;
      }
      case "--no-write":
        o.write = false;
        return true;
      default:
        return false;
    }
  });
  if (o.scenarios.length === 0) {
    process.stderr.write(`--scenario: expected numbers among ${scenarioNumbers().join(",")}\n`);
    process.exit(64);
  }
  if (!o.runs) o.runs = o.quick ? 2 : 3;
  if (!o.durationSec) o.durationSec = o.quick ? 1 : 4;
  return o;
}

// ---------------------------------------------------------------- measurement

interface RunSample {
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
  backendCpuUsPerReq: number;
  p50Us?: number;
  p99Us?: number;
  p999Us?: number;
  /** CPU ms of each process role in the system's tree (scenario 9: primary, worker 0, ...). */
  processCpuMs?: Record<string, number>;
}

interface SystemResult {
  id: SystemId;
  label: string;
  error?: string;
  runs: RunSample[];
  reqPerSec: number;
  cpuUsPerReq: number;
  backendCpuUsPerReq: number;
  mbPerSec: number;
  cpuMsPerMiB: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  rssIdleKb: number;
  rssAfterKb: number;
  /** Median share of each process role in the tree's CPU (when the runs recorded roles). */
  cpuShare?: Record<string, number>;
  /** Extra per-scenario facts (e.g. a gRPC status check). */
  notes: string[];
}

/** One value of a swept parameter: every system measured at it. */
interface SweepPoint {
  /** The swept value (endpoints, client connections). */
  value: number;
  /** What else characterises the point (e.g. the h2load load, or requests in flight per endpoint). */
  detail: string;
  systems: SystemResult[];
}

/** A parameter swept over several values, the other conditions kept equal. */
interface Sweep {
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

interface ScenarioResult {
  id: number;
  key: string;
  title: string;
  description: string;
  date: string;
  runs: number;
  h2load: string;
  /** Fixed-rate scenario: results per target rate. */
  rates?: Array<{ rate: number; systems: SystemResult[] }>;
  /** Sweep scenario: results per swept parameter and value (`systems` is then empty). */
  sweeps?: Sweep[];
  systems: SystemResult[];
  /** Lines printed under the tables (limits of the machine, points skipped). */
  notes?: string[];
}

/**
 * One h2load run and the CPU spent meanwhile. `roles` (pid -> role), when
 * given, splits the system's CPU by process role.
 */
async function measureRun(
  sys: SystemHandle,
  backendPids: readonly number[],
  load: H2loadOptions,
  roles?: ReadonlyMap<number, string>,
): Promise<RunSample> {
  const sampleCpu = () => ({
    system: treesCpuMs(sys.cpuPids),
    backend: treesCpuMs(backendPids),
    roles: roles && groupsCpuMs(roles),
  });
  let before = sampleCpu();
  const running = runH2load(load);
  if (load.warmupSec) {
    // h2load counts only the requests after its warm-up period (in which it also connects):
    // CPU is taken over the same window.
    await sleep(load.warmupSec * 1000);
    before = sampleCpu();
  }
  const r: H2loadResult = await running;
  const after = sampleCpu();
  const done = r.requests.done;
  const cpuMs = after.system - before.system;
  const backendCpuMs = after.backend - before.backend;
  const sample: RunSample = {
    ok: r.ok,
    error: r.error,
    reqPerSec: r.reqPerSec,
    done,
    succeeded: r.requests.succeeded,
    nonSuccess: done - r.requests.succeeded,
    dataBytes: r.dataBytes,
    durationMs: r.durationMs,
    cpuMs,
    backendCpuMs,
    cpuUsPerReq: done > 0 ? (cpuMs * 1000) / done : NaN,
    backendCpuUsPerReq: done > 0 ? (backendCpuMs * 1000) / done : NaN,
    p50Us: r.percentiles?.p50Us,
    p99Us: r.percentiles?.p99Us,
    p999Us: r.percentiles?.p999Us,
  };
  if (before.roles && after.roles) {
    const [r0, r1] = [before.roles, after.roles];
    sample.processCpuMs = Object.fromEntries(Object.keys(r1).map((role) => [role, r1[role]! - (r0[role] ?? 0)]));
  }
  if (sample.ok && done > 0 && r.requests.succeeded < done * 0.99) {
    sample.ok = false;
    sample.error = `${done - r.requests.succeeded} of ${done} responses were not 2xx`;
  }
  const death = systemDeath(sys);
  if (death) {
    sample.ok = false;
    sample.error = death;
  }
  return sample;
}

function summarize(sys: SystemHandle, runs: RunSample[], rssIdleKb: number, rssAfterKb: number, notes: string[]): SystemResult {
  const good = runs.filter((r) => r.ok);
  const m = (f: (r: RunSample) => number | undefined) => median(good.map((r) => f(r) ?? NaN));
  const error = sys.error ?? (good.length === 0 ? (runs.find((r) => r.error)?.error ?? "no successful run") : undefined);
  if (good.length > 0 && good.length < runs.length) {
    notes.push(`${runs.length - good.length} of ${runs.length} runs failed: ${runs.find((r) => !r.ok)?.error ?? ""}`);
  }
  return {
    id: sys.id,
    label: sys.label,
    error,
    runs,
    reqPerSec: m((r) => r.reqPerSec),
    cpuUsPerReq: m((r) => r.cpuUsPerReq),
    backendCpuUsPerReq: m((r) => r.backendCpuUsPerReq),
    mbPerSec: m((r) => (r.durationMs > 0 ? r.dataBytes / (1024 * 1024) / (r.durationMs / 1000) : NaN)),
    cpuMsPerMiB: m((r) => (r.dataBytes > 0 ? r.cpuMs / (r.dataBytes / (1024 * 1024)) : NaN)),
    p50Us: m((r) => r.p50Us),
    p99Us: m((r) => r.p99Us),
    p999Us: m((r) => r.p999Us),
    rssIdleKb,
    rssAfterKb,
    cpuShare: medianCpuShare(good),
    notes,
  };
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

interface ScenarioSetup {
  backends: Endpoint[];
  backendPids: number[];
  stop(): Promise<void>;
}

/** One system started for a scenario: which one, against which endpoints, launched how. */
interface SystemSpec {
  id: SystemId;
  /** Row label in progress lines and results (default: the system's own label). */
  label?: string;
  /** Endpoints for this system (default: all of the scenario's backends). */
  backends?: Endpoint[];
  /** Merged over the --switchyard-* options. */
  switchyard?: SwitchyardLaunch;
}

/** The --systems selection, each with the same launch options. */
function selectedSystems(opts: Options, switchyard: SwitchyardLaunch = {}): SystemSpec[] {
  return opts.systems.map((id) => ({ id, switchyard }));
}

async function startSpec(opts: Options, setup: ScenarioSetup, spec: SystemSpec, maxConnections?: number): Promise<SystemHandle> {
  const s = await startSystem(spec.id, spec.backends ?? setup.backends, setup.backendPids, {
    switchyard: { ...opts.switchyard, ...spec.switchyard },
    maxConnections,
  });
  if (spec.label) s.label = spec.label;
  if (s.error) log(`  ${s.label}: ${s.error}`);
  return s;
}

/**
 * Starts every system (default: the --systems selection against all
 * backends), then runs `load` on each in interleaved order `runs` times
 * (after one short unmeasured warm-up each). Results come per load, each
 * in the order of the systems.
 */
async function runSystems(
  opts: Options,
  setup: ScenarioSetup,
  load: (target: Endpoint) => H2loadOptions,
  extra: {
    specs?: SystemSpec[];
    warmup?: (target: Endpoint) => H2loadOptions;
    /** Called per started system with its position among the specs; returns notes, throws to fail it. */
    beforeRuns?: (sys: SystemHandle, index: number) => Promise<string[]>;
    afterRuns?: () => Promise<void>;
    maxConnections?: number;
    /** Several loads (e.g. target rates) measured in the same interleaving. */
    loads?: Array<(target: Endpoint) => H2loadOptions>;
    runs?: number;
    /** Splits each system's CPU by process role (pid -> role), read once before the measured runs. */
    processRoles?: (sys: SystemHandle) => Map<number, string>;
  } = {},
): Promise<SystemResult[][]> {
  const systems: SystemHandle[] = [];
  for (const spec of extra.specs ?? selectedSystems(opts)) {
    systems.push(await startSpec(opts, setup, spec, extra.maxConnections));
  }
  try {
    await sleep(300);
    const rssIdle = systems.map((s) => (s.error ? NaN : s.rssKb()));
    const notes = systems.map((): string[] => []);
    for (const [i, s] of systems.entries()) {
      if (s.error || !s.target || !extra.beforeRuns) continue;
      try {
        notes[i]!.push(...(await extra.beforeRuns(s, i)));
      } catch (e) {
        s.error = (e as Error).message;
      }
    }
    // Warm-up (unmeasured): JIT, connection pools, caches.
    for (const s of systems) {
      if (s.error || !s.target) continue;
      const w = extra.warmup
        ? extra.warmup(s.target)
        : { ...load(s.target), durationSec: Math.min(1, opts.durationSec), percentiles: false };
      const r = await runH2load(w);
      const death = systemDeath(s);
      if (death) s.error = death;
      else if (!r.ok) log(`  ${s.label}: warm-up: ${r.error}`);
    }
    const roles = systems.map((s) => (s.error || !extra.processRoles ? undefined : extra.processRoles(s)));
    const loads = extra.loads ?? [load];
    const samples = loads.map(() => systems.map((): RunSample[] => []));
    const runs = extra.runs ?? opts.runs;
    for (let run = 0; run < runs; run++) {
      for (let li = 0; li < loads.length; li++) {
        for (const [i, s] of systems.entries()) {
          if (s.error || !s.target) continue;
          const sample = await measureRun(s, setup.backendPids, loads[li]!(s.target), roles[i]);
          samples[li]![i]!.push(sample);
          log(
            `  run ${run + 1}/${runs}${loads.length > 1 ? ` load ${li + 1}/${loads.length}` : ""} ` +
              `${s.label.padEnd(10)} ${fmtNum(sample.reqPerSec).padStart(8)} req/s ` +
              `${fmtNum(sample.cpuUsPerReq, 1).padStart(7)} us CPU/req` +
              (sample.p99Us !== undefined ? `  p50 ${fmtUs(sample.p50Us)} p99 ${fmtUs(sample.p99Us)}` : "") +
              (sample.ok ? "" : `  FAILED: ${sample.error}`),
          );
          if (!sample.ok && systemDeath(s)) s.error = systemDeath(s);
        }
      }
    }
    await extra.afterRuns?.();
    return loads.map((_, li) =>
      systems.map((s, i) => summarize(s, samples[li]![i]!, rssIdle[i]!, s.error ? NaN : s.rssKb(), [...notes[i]!])),
    );
  } finally {
    for (const s of systems) await s.stop();
  }
}

// ---------------------------------------------------------------- backends

async function nginxBackends(count: number, bigResponseBytes?: number): Promise<ScenarioSetup> {
  const ports = await freePorts(count);
  const srv: RunningServer = await startNginxBackend({
    ports,
    bigResponseBytes,
    maxConnections: count > 100 ? 16_384 : 8192,
  });
  return {
    backends: ports.map((port) => ({ host: "127.0.0.1", port })),
    backendPids: [srv.pid],
    stop: () => srv.stop(),
  };
}

const benchDist = path.dirname(fileURLToPath(import.meta.url));

async function grpcBackends(count: number): Promise<ScenarioSetup> {
  const ports = await freePorts(count);
  const proc: Tracked = startProcess("grpc-backend", process.execPath, [
    path.join(benchDist, "servers", "grpc-backend.js"),
    ports.join(","),
  ]);
  for (const p of ports) await waitForPort("127.0.0.1", p, 15_000, proc);
  return {
    backends: ports.map((port) => ({ host: "127.0.0.1", port })),
    backendPids: [proc.pid],
    stop: () => stopProcess(proc),
  };
}

// ---------------------------------------------------------------- gRPC helpers

const GRPC_PATH = "/switchyard.bench.Ping/Ping";

/** A gRPC message frame holding PingRequest{payload: `size` bytes}. */
function grpcPingFrame(size: number): Buffer {
  const payload = Buffer.alloc(size, 0x62);
  // protobuf: field 1, wire type 2 (length-delimited), varint length (< 128 here)
  if (size >= 128) throw new Error("payload too large for this encoder");
  const msg = Buffer.concat([Buffer.from([0x0a, size]), payload]);
  const head = Buffer.alloc(5);
  head.writeUInt8(0, 0);
  head.writeUInt32BE(msg.length, 1);
  return Buffer.concat([head, msg]);
}

/** One unary call over node:http2; returns the grpc-status seen (or an error text). */
function grpcCheck(target: Endpoint, frame: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const session = http2.connect(`http://${target.host}:${target.port}`);
    const timer = setTimeout(() => {
      session.destroy();
      resolve("timeout");
    }, 5000);
    const finish = (s: string) => {
      clearTimeout(timer);
      session.close();
      resolve(s);
    };
    session.on("error", (e) => finish(`error: ${e.message}`));
    const req = session.request({
      ":method": "POST",
      ":path": GRPC_PATH,
      "content-type": "application/grpc",
      te: "trailers",
    });
    let status: string | undefined;
    let bytes = 0;
    req.on("response", (h) => {
      if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
    });
    req.on("trailers", (t) => {
      if (t["grpc-status"] !== undefined) status = String(t["grpc-status"]);
    });
    req.on("data", (d: Buffer) => (bytes += d.length));
    req.on("end", () => finish(status === undefined ? "no grpc-status" : `grpc-status ${status}, ${bytes} bytes`));
    req.on("error", (e) => finish(`error: ${e.message}`));
    req.end(frame);
  });
}

// ---------------------------------------------------------------- scenarios

function h2(target: Endpoint, p = "/"): string {
  return `http://${target.host}:${target.port}${p}`;
}

async function scenarioConcurrency(
  opts: Options,
  id: number,
  clients: number,
): Promise<ScenarioResult> {
  const setup = await nginxBackends(2);
  try {
    const [systems] = await runSystems(opts, setup, (t) => ({
      url: h2(t),
      clients,
      streams: 100,
      durationSec: opts.durationSec,
    }));
    return {
      id,
      key: `c${clients}m100`,
      title: `${clients} connection${clients > 1 ? "s" : ""} x 100 streams, tiny responses`,
      description: `h2load -c ${clients} -m 100 -D ${opts.durationSec}; GET / answered "ok" by nginx (2 h2c endpoints)`,
      date: new Date().toISOString(),
      runs: opts.runs,
      h2load: `-c ${clients} -m 100 -D ${opts.durationSec}`,
      systems: systems!,
    };
  } finally {
    await setup.stop();
  }
}

async function scenarioRates(opts: Options): Promise<ScenarioResult> {
  const rates = [1000, 2000, 5000];
  const clients = 10;
  const duration = opts.quick ? 1 : 3;
  if (!(await h2loadSupportsRps())) {
    throw new Error("this h2load has no --rps option (request rate per client); scenario 3 skipped - use nghttp2 >= 1.52");
  }
  const setup = await nginxBackends(2);
  try {
    const results = await runSystems(
      opts,
      setup,
      (t) => ({ url: h2(t), clients, streams: 100, durationSec: duration, rpsPerClient: rates[0]! / clients, percentiles: true }),
      {
        loads: rates.map((rate) => (t: Endpoint) => ({
          url: h2(t),
          clients,
          streams: 100,
          durationSec: duration,
          rpsPerClient: rate / clients,
          percentiles: true,
        })),
        // Steady-state latency of a long-running proxy: warm every system with 30,000 requests at full
        // speed first (a JIT runtime needs a few thousand requests to reach its optimised code; the
        // measured rates alone would leave Switchyard's first second in its interpreter).
        warmup: (t) => ({ url: h2(t), clients, streams: 100, requests: 30_000 }),
        runs: opts.quick ? 1 : opts.runs,
      },
    );
    const jitter = await machineJitter(setup.backends[0]!, 2000, clients, duration);
    return {
      id: 3,
      key: "fixed-rate-latency",
      title: "Fixed request rates over 10 connections: added latency",
      description: `h2load -c ${clients} -m 100 --rps=R/${clients} -D ${duration} for R in ${rates.join(", ")} req/s, after an unmeasured warm-up of 30,000 requests at full speed; percentiles from h2load --log-file`,
      date: new Date().toISOString(),
      runs: opts.quick ? 1 : opts.runs,
      h2load: `-c ${clients} -m 100 --rps=R/${clients} -D ${duration}`,
      rates: rates.map((rate, i) => ({ rate, systems: results[i]! })),
      systems: results[rates.length - 1]!,
      notes: [jitter],
    };
  } finally {
    await setup.stop();
  }
}

/**
 * The scheduling jitter of the machine under this scenario's load, as a
 * reference for the tail columns: an idle Node process measures how late its
 * 1 ms timer fires while h2load drives a backend directly at `rate` req/s.
 * Whatever a proxy adds at p99 on a shared machine sits on top of this.
 */
async function machineJitter(backend: Endpoint, rate: number, clients: number, durationSec: number): Promise<string> {
  const probeScript = path.join(repoRoot, "dist", "bench", "servers", "loop-delay-probe.js");
  const probe = startProcess("loop-delay-probe", process.execPath, [probeScript, String(durationSec)]);
  try {
    await runH2load({ url: h2(backend), clients, streams: 100, durationSec, rpsPerClient: rate / clients });
    await probe.exited;
    const d = JSON.parse(probe.stdout().trim().split("\n").pop() ?? "{}") as Partial<LoopDelay>;
    if (d.p99Us === undefined) return `Machine jitter reference: the probe printed nothing (${probe.stderr().trim()}).`;
    return (
      `Machine jitter reference: an idle Node process on the same machine, while h2load sent ${fmtNum(rate)} req/s ` +
      `straight to the backend for ${durationSec} s, saw its 1 ms timer fire late by p50 ${fmtUs(d.p50Us)}, ` +
      `p99 ${fmtUs(d.p99Us)}, p99.9 ${fmtUs(d.p999Us)}, max ${fmtUs(d.maxUs)}: scheduling delay any process gets here, ` +
      `under every proxy's p99 and p99.9.`
    );
  } finally {
    await stopProcess(probe);
  }
}

async function scenarioGrpc(opts: Options): Promise<ScenarioResult> {
  const setup = await grpcBackends(2);
  const dir = makeTempDir("grpc-body");
  const frame = grpcPingFrame(16);
  const bodyFile = path.join(dir, "ping.bin");
  writeFileSync(bodyFile, frame);
  try {
    const [systems] = await runSystems(
      opts,
      setup,
      (t) => ({
        url: h2(t, GRPC_PATH),
        clients: 4,
        streams: 50,
        durationSec: opts.durationSec,
        dataFile: bodyFile,
        headers: ["content-type: application/grpc", "te: trailers"],
      }),
      {
        beforeRuns: async (s) => {
          const r = await grpcCheck(s.target!, frame);
          if (!r.startsWith("grpc-status 0")) throw new Error(`gRPC check failed: ${r}`);
          return [`check: ${r}`];
        },
      },
    );
    return {
      id: 4,
      key: "grpc-unary",
      title: "gRPC unary calls (grpc-js backend)",
      description: `h2load -c 4 -m 50 -D ${opts.durationSec} -d <5-byte-prefixed PingRequest> -H 'content-type: application/grpc' -H 'te: trailers' ${GRPC_PATH}; backend: @grpc/grpc-js echo server (2 ports, one process)`,
      date: new Date().toISOString(),
      runs: opts.runs,
      h2load: `-c 4 -m 50 -D ${opts.durationSec} -d ping.bin`,
      systems: systems!,
    };
  } finally {
    await setup.stop();
  }
}

async function scenarioLarge(opts: Options): Promise<ScenarioResult> {
  const setup = await nginxBackends(2, 1024 * 1024);
  try {
    const [systems] = await runSystems(opts, setup, (t) => ({
      url: h2(t, "/big"),
      clients: 4,
      streams: 4,
      durationSec: opts.durationSec,
    }));
    return {
      id: 5,
      key: "large-responses",
      title: "1 MiB responses: throughput and CPU per MiB",
      description: `h2load -c 4 -m 4 -D ${opts.durationSec} GET /big (1 MiB static file from nginx)`,
      date: new Date().toISOString(),
      runs: opts.runs,
      h2load: `-c 4 -m 4 -D ${opts.durationSec}`,
      systems: systems!,
    };
  } finally {
    await setup.stop();
  }
}

async function scenarioIdle(opts: Options): Promise<ScenarioResult> {
  const idleCount = 1000;
  const setup = await nginxBackends(2);
  const idle: IdleClients[] = [];
  try {
    const [systems] = await runSystems(
      opts,
      setup,
      (t) => ({ url: h2(t), clients: 100, streams: 10, durationSec: opts.durationSec }),
      {
        maxConnections: 16_384,
        beforeRuns: async (s) => {
          const c = await openIdleClients(s.target!.host, s.target!.port, idleCount);
          idle.push(c);
          if (c.failed > idleCount * 0.01) throw new Error(`only ${c.open} of ${idleCount} idle connections opened`);
          return [`${c.open} idle connections, RSS with them ${fmtMiB(s.rssKb())}`];
        },
        afterRuns: async () => {
          for (const c of idle) await c.close();
        },
      },
    );
    return {
      id: 6,
      key: "idle-connections",
      title: "1,000 idle client connections + 100 active",
      description: `${idleCount} idle h2 connections held open (one request each) per system, then h2load -c 100 -m 10 -D ${opts.durationSec}`,
      date: new Date().toISOString(),
      runs: opts.runs,
      h2load: `-c 100 -m 10 -D ${opts.durationSec}`,
      systems: systems!,
    };
  } finally {
    for (const c of idle) await c.close();
    await setup.stop();
  }
}

async function scenarioManyEndpoints(opts: Options): Promise<ScenarioResult> {
  const count = 1000;
  const setup = await nginxBackends(count);
  try {
    const [systems] = await runSystems(
      opts,
      setup,
      (t) => ({ url: h2(t), clients: 8, streams: 100, durationSec: opts.durationSec }),
      { maxConnections: 16_384, specs: selectedSystems(opts, { useConfig: true }) },
    );
    return {
      id: 7,
      key: "many-endpoints",
      title: "1,000 endpoints behind one service",
      description: `one nginx process listening on ${count} loopback ports = ${count} endpoints; round-robin; Switchyard via run --config with ${count} endpoints; h2load -c 8 -m 100 -D ${opts.durationSec}`,
      date: new Date().toISOString(),
      runs: opts.runs,
      h2load: `-c 8 -m 100 -D ${opts.durationSec}`,
      systems: systems!,
    };
  } finally {
    await setup.stop();
  }
}

/** Scenario 8 compares these two; the --systems selection may narrow it. */
function sweptSystems(opts: Options): SystemId[] {
  const ids = (["haproxy", "switchyard"] as const).filter((id) => opts.systems.includes(id));
  if (ids.length === 0) throw new Error("scenario 8 measures haproxy and switchyard; neither is in --systems");
  return ids;
}

/** -D of each scenario-8 run: at most 3 s, so that both sweeps with 3 runs fit in about 4 minutes. */
function sweepDurationSec(opts: Options): number {
  return Math.min(opts.durationSec, 3);
}

/**
 * Endpoint sweep: the same load through 10, 100 and 1,000 endpoints (the
 * first N ports of one nginx process). All points run side by side and are
 * measured in one interleaving, so that drift of the shared machine does
 * not show up as growth.
 */
async function sweepEndpoints(opts: Options): Promise<Sweep> {
  const counts = [10, 100, 1000];
  const clients = 8;
  const streams = 100;
  const duration = sweepDurationSec(opts);
  const ids = sweptSystems(opts);
  const setup = await nginxBackends(Math.max(...counts));
  try {
    const specs = counts.flatMap((n) =>
      ids.map((id) => ({
        id,
        label: `${SYSTEM_LABEL[id]}/${n}ep`,
        backends: setup.backends.slice(0, n),
        switchyard: { useConfig: true },
      })),
    );
    const [results] = await runSystems(
      opts,
      setup,
      (t) => ({ url: h2(t), clients, streams, durationSec: duration }),
      { specs, maxConnections: 16_384 },
    );
    return {
      key: "endpoints",
      title: "CPU per request vs endpoints",
      description:
        `h2load -c ${clients} -m ${streams} -D ${duration} at every point; one nginx process listening on ${fmtNum(Math.max(...counts))} loopback ports, ` +
        `the first N of them are the endpoints; round-robin; Switchyard via run --config at every point. ` +
        `Round-robin spreads the same ${clients * streams} requests in flight over more upstream connections as N grows ` +
        `(column "in flight per endpoint"): fewer requests share a write or read system call, a cost every proxy pays. ` +
        `HAProxy's growth shows that shared part; "growth vs HAProxy's growth" is what is left for Switchyard`,
      h2load: `-c ${clients} -m ${streams} -D ${duration} (endpoints ${counts.join(", ")})`,
      valueHeader: "endpoints",
      detailHeader: "in flight per endpoint",
      points: counts.map((n, i) => ({
        value: n,
        detail: fmtNum((clients * streams) / n, 1),
        systems: results!.slice(i * ids.length, (i + 1) * ids.length),
      })),
      notes: [],
    };
  } finally {
    await setup.stop();
  }
}

/** Client connections x streams per connection of the connection sweep. */
const CONNECTION_POINTS = [
  { clients: 1, streams: 100 },
  { clients: 10, streams: 10 },
  { clients: 100, streams: 1 },
  { clients: 1000, streams: 1 },
];

/** Open files a proxy needs for `clients` client connections (two descriptors each, and some spare). */
function openFilesNeeded(clients: number): number {
  return clients * 2 + 256;
}

/**
 * Connection sweep: 1, 10, 100 and 1,000 client connections at 100
 * requests in flight (1,000 at 1,000 connections: h2load's -m cannot go
 * below 1), 2 endpoints. Measured after a 1 s h2load warm-up in which the
 * connections are made: accepting a connection is a cost per connection,
 * not per request, and would otherwise weigh on the 1,000-connection point
 * by how short the run is.
 */
async function sweepConnections(opts: Options): Promise<Sweep> {
  const duration = sweepDurationSec(opts);
  const ids = sweptSystems(opts);
  const limit = openFileLimit();
  const points = CONNECTION_POINTS.filter((p) => openFilesNeeded(p.clients) <= limit);
  if (points.length === 0) throw new Error(`the open-file limit (ulimit -n) is ${limit}: too low for any point of the connection sweep`);
  const notes = CONNECTION_POINTS.filter((p) => !points.includes(p)).map(
    (p) =>
      `${fmtNum(p.clients)} connections skipped: the open-file limit (ulimit -n, inherited by h2load and the proxies) is ${fmtNum(limit)}, ` +
      `${fmtNum(openFilesNeeded(p.clients))} needed; raise it (e.g. ulimit -n 8192) and run again.`,
  );
  const loadAt = (p: (typeof CONNECTION_POINTS)[number]) => (t: Endpoint) => ({
    url: h2(t),
    clients: p.clients,
    streams: p.streams,
    durationSec: duration,
    warmupSec: 1,
  });
  const setup = await nginxBackends(2);
  try {
    const results = await runSystems(opts, setup, loadAt(points[0]!), {
      specs: ids.map((id) => ({ id })),
      loads: points.map(loadAt),
      maxConnections: 16_384,
    });
    const sweepPoints = points.map((p, i) => ({
      value: p.clients,
      detail: `-c ${p.clients} -m ${p.streams}`,
      systems: results[i]!,
    }));
    for (const p of sweepPoints) {
      const failed = p.systems.filter((s) => s.error);
      if (p.value >= 1000 && failed.length > 0) {
        notes.push(
          `${fmtNum(p.value)} connections failed for ${failed.map((s) => s.label).join(", ")}; ` +
            `the open-file limit (ulimit -n) here is ${fmtNum(limit)}.`,
        );
      }
    }
    return {
      key: "connections",
      title: "CPU per request vs client connections",
      description:
        `h2load -c C -m M --warm-up-time=1 -D ${duration}, C x M = 100 requests in flight (1,000 at 1,000 connections: -m cannot go below 1); ` +
        `2 nginx endpoints; round-robin. CPU is taken from the end of h2load's warm-up (in which it connects) to its exit, ` +
        `so accepting the connections is left out. Fewer streams per connection means fewer requests per read or write ` +
        `system call on the client side, a cost every proxy pays (HAProxy's growth shows it)`,
      h2load: `-c C -m M --warm-up-time=1 -D ${duration} (${points.map((p) => `${p.clients}x${p.streams}`).join(", ")})`,
      valueHeader: "client connections",
      detailHeader: "h2load",
      points: sweepPoints,
      notes,
    };
  } finally {
    await setup.stop();
  }
}

async function scenarioSweeps(opts: Options): Promise<ScenarioResult> {
  const sweeps = [await sweepEndpoints(opts), await sweepConnections(opts)];
  return {
    id: 8,
    key: "cpu-per-request-sweeps",
    title: "CPU per request vs endpoints and vs client connections",
    description:
      "Target for Switchyard: CPU per request flat within 10% from 10 to 1,000 endpoints and from 1 to 1,000 client connections. " +
      "Each sweep measures all of its points in one interleaving; ratios compare a system with its own first point",
    date: new Date().toISOString(),
    runs: opts.runs,
    h2load: sweeps.map((sw) => sw.h2load).join("; "),
    sweeps,
    systems: [],
  };
}

/** Worker counts compared by scenario 9. */
const WORKER_COUNTS = [1, 2];

async function scenarioWorkers(opts: Options): Promise<ScenarioResult> {
  if (!opts.systems.includes("switchyard")) throw new Error("scenario 9 measures switchyard, which is not in --systems");
  const clients = 8;
  const streams = 100;
  const cores = os.availableParallelism();
  const setup = await nginxBackends(2);
  try {
    // The admin server (and with it request telemetry) runs in the first worker only, so it is off
    // for both counts: every worker then runs the same code and the comparison stays like for like.
    const specs = WORKER_COUNTS.map((n) => ({
      id: "switchyard" as const,
      label: `Switchyard --workers ${n}`,
      switchyard: { extraArgs: ["--admin", "off", "--workers", String(n)] },
    }));
    const [systems] = await runSystems(
      opts,
      setup,
      (t) => ({ url: h2(t), clients, streams, durationSec: opts.durationSec }),
      {
        specs,
        beforeRuns: async (s, i) => {
          await waitForListeningWorkers(s.server!.process, WORKER_COUNTS[i]!);
          return [];
        },
        processRoles: (s) => switchyardProcessRoles(s.server!.pid),
      },
    );
    return {
      id: 9,
      key: "workers",
      title: "Switchyard --workers 1 vs --workers 2",
      description:
        `h2load -c ${clients} -m ${streams} -D ${opts.durationSec}; 2 nginx endpoints; run --to ... --balancer round-robin --admin off --workers N. ` +
        `CPU is summed over the whole process tree (node:cluster primary + workers); "CPU share" is each process's part of it, ` +
        `a proxy for its share of the requests (the primary only accepts connections and hands them to the workers in turn)`,
      date: new Date().toISOString(),
      runs: opts.runs,
      h2load: `-c ${clients} -m ${streams} -D ${opts.durationSec}`,
      systems: systems!,
      notes: [
        `This machine has ${cores} core${cores === 1 ? "" : "s"}, shared by h2load, nginx and Switchyard: the req/s ratio is capped by them ` +
          `(a scaling of 1.7x or more cannot show here). What the scenario can show: whether CPU per request rises with 2 workers ` +
          `(cross-worker overhead) and whether the load spreads over both workers.`,
      ],
    };
  } finally {
    await setup.stop();
  }
}

// ---------------------------------------------------------------- report

function find(systems: readonly SystemResult[], id: SystemId): SystemResult | undefined {
  const s = systems.find((x) => x.id === id);
  return s && !s.error ? s : undefined;
}

function status(s: SystemResult): string {
  if (s.error) return `FAILED: ${s.error.replace(/\|/g, "/").slice(0, 160)}`;
  return s.notes.length ? s.notes.join("; ").replace(/\|/g, "/") : "ok";
}

/**
 * One row per system: its label, the scenario's own columns (`cells` gets
 * `v`, which blanks a figure of a failed system), RSS idle and after, status.
 */
function systemsTable(
  systems: readonly SystemResult[],
  headers: readonly string[],
  cells: (s: SystemResult, v: (n: number) => number) => string[],
): string {
  const rows = systems.map((s) => {
    const v = (n: number) => (s.error ? NaN : n);
    return [s.label, ...cells(s, v), fmtMiB(s.rssIdleKb), fmtMiB(s.rssAfterKb), status(s)];
  });
  return table(["system", ...headers, "RSS idle", "RSS after", "status"], rows);
}

/** A rate (req/s, MiB/s), its ratio to direct and its ratio to HAProxy. */
function rateCells(value: number, direct: number | undefined, haproxy: number | undefined, digits: number): string[] {
  return [fmtNum(value, digits), fmtRatio(ratio(value, direct)), fmtRatio(ratio(value, haproxy))];
}

/** A cost (CPU per request, per MiB), its ratio to HAProxy's and HAProxy's to it ("per-core efficiency"); no ratios for direct. */
function costCells(s: SystemResult, value: number, haproxy: number | undefined, digits: number): string[] {
  if (s.id === "direct") return [fmtNum(value, digits), "-", "-"];
  return [fmtNum(value, digits), fmtRatio(ratio(value, haproxy)), fmtRatio(ratio(haproxy, value))];
}

function throughputTable(sc: ScenarioResult): string {
  const hap = find(sc.systems, "haproxy");
  const dir = find(sc.systems, "direct");
  return systemsTable(
    sc.systems,
    [
      "req/s",
      "req/s vs direct",
      "req/s vs HAProxy",
      "CPU us/req",
      "CPU/req vs HAProxy",
      "per-core eff. vs HAProxy",
      "CPU/req vs backend",
    ],
    (s, v) => [
      ...rateCells(v(s.reqPerSec), dir?.reqPerSec, hap?.reqPerSec, 0),
      ...costCells(s, v(s.cpuUsPerReq), hap?.cpuUsPerReq, 1),
      s.id === "direct" ? "-" : fmtRatio(ratio(v(s.cpuUsPerReq), dir?.cpuUsPerReq)),
    ],
  );
}

function largeTable(sc: ScenarioResult): string {
  const hap = find(sc.systems, "haproxy");
  const dir = find(sc.systems, "direct");
  return systemsTable(
    sc.systems,
    ["MiB/s", "vs direct", "vs HAProxy", "CPU ms/MiB", "CPU/MiB vs HAProxy", "per-core eff. vs HAProxy"],
    (s, v) => [
      ...rateCells(v(s.mbPerSec), dir?.mbPerSec, hap?.mbPerSec, 0),
      ...costCells(s, v(s.cpuMsPerMiB), hap?.cpuMsPerMiB, 2),
    ],
  );
}

function ratesTable(sc: ScenarioResult): string {
  const rows: string[][] = [];
  for (const r of sc.rates ?? []) {
    const dir = find(r.systems, "direct");
    const hap = find(r.systems, "haproxy");
    for (const s of r.systems) {
      const v = (n: number) => (s.error ? NaN : n);
      const plus = (a: number, b: number | undefined) =>
        s.id === "direct" || b === undefined || !Number.isFinite(a) ? "-" : `${a >= b ? "+" : "-"}${fmtUs(Math.abs(a - b))}`;
      rows.push([
        fmtNum(r.rate),
        s.label,
        fmtNum(v(s.reqPerSec)),
        fmtUs(v(s.p50Us)),
        fmtUs(v(s.p99Us)),
        fmtUs(v(s.p999Us)),
        plus(v(s.p50Us), dir?.p50Us),
        plus(v(s.p99Us), dir?.p99Us),
        plus(v(s.p999Us), dir?.p999Us),
        fmtNum(v(s.cpuUsPerReq), 1),
        s.id === "direct" ? "-" : fmtRatio(ratio(v(s.cpuUsPerReq), hap?.cpuUsPerReq)),
        status(s),
      ]);
    }
  }
  return table(
    [
      "target req/s",
      "system",
      "req/s",
      "p50",
      "p99",
      "p99.9",
      "p50 - direct",
      "p99 - direct",
      "p99.9 - direct",
      "CPU us/req",
      "CPU/req vs HAProxy",
      "status",
    ],
    rows,
  );
}

/** A system's CPU per request at `point` over its own at the sweep's first point. */
function growth(sw: Sweep, point: SweepPoint, id: SystemId): number {
  return ratio(find(point.systems, id)?.cpuUsPerReq, find(sw.points[0]!.systems, id)?.cpuUsPerReq);
}

function sweepTable(sw: Sweep): string {
  const rows = sw.points.flatMap((p) => {
    const hap = find(p.systems, "haproxy");
    return p.systems.map((s) => {
      const v = (n: number) => (s.error ? NaN : n);
      const againstHaproxy = (r: number) => (s.id === "haproxy" ? "-" : fmtRatio(r));
      return [
        fmtNum(p.value),
        p.detail,
        SYSTEM_LABEL[s.id],
        fmtNum(v(s.reqPerSec)),
        fmtNum(v(s.cpuUsPerReq), 1),
        fmtRatio(growth(sw, p, s.id)),
        againstHaproxy(ratio(v(s.cpuUsPerReq), hap?.cpuUsPerReq)),
        againstHaproxy(ratio(growth(sw, p, s.id), growth(sw, p, "haproxy"))),
        status(s),
      ];
    });
  });
  return table(
    [
      sw.valueHeader,
      sw.detailHeader,
      "system",
      "req/s",
      "CPU us/req",
      "CPU/req vs own first point",
      "CPU/req vs HAProxy",
      "growth vs HAProxy's growth",
      "status",
    ],
    rows,
  );
}

/** "0.97x-1.38x": the smallest and largest of the finite ratios ("-" when none is). */
function fmtRange(ratios: readonly number[]): string {
  const finite = ratios.filter((r) => Number.isFinite(r));
  if (finite.length === 0) return "-";
  return `${fmtRatio(Math.min(...finite))}-${fmtRatio(Math.max(...finite))}`;
}

/** Each system's CPU per request over the sweep against its first point, next to the 10% target. */
function sweepSummary(sw: Sweep): string {
  const ids = [...new Set(sw.points.flatMap((p) => p.systems.map((s) => s.id)))];
  const ranges = ids.map((id) => `${SYSTEM_LABEL[id]} ${fmtRange(sw.points.map((p) => growth(sw, p, id)))}`);
  const beyondHaproxy = fmtRange(sw.points.map((p) => ratio(growth(sw, p, "switchyard"), growth(sw, p, "haproxy"))));
  return (
    `CPU per request against the first point, range over the points: ${ranges.join(", ")}` +
    (beyondHaproxy === "-" ? "" : `; Switchyard's growth / HAProxy's growth: ${beyondHaproxy}`) +
    `. Target for Switchyard: within 0.90x-1.10x.`
  );
}

function sweepTables(sc: ScenarioResult): string {
  return (sc.sweeps ?? [])
    .map((sw) => [`#### ${sw.title}`, `${sw.description}.`, sweepTable(sw), sweepSummary(sw), ...sw.notes].join("\n\n"))
    .join("\n\n");
}

/** "primary 0.4%, worker 0 49.9%, ..." */
function fmtCpuShare(share: Record<string, number> | undefined): string {
  if (!share) return "-";
  return Object.entries(share)
    .map(([role, fraction]) => `${role} ${Number.isFinite(fraction) ? (fraction * 100).toFixed(1) : "-"}%`)
    .join(", ");
}

/** Scenario 9: every row against the first (one worker). */
function workersTable(sc: ScenarioResult): string {
  const first = sc.systems[0]?.error ? undefined : sc.systems[0];
  const against = first?.label ?? "first";
  return systemsTable(
    sc.systems,
    ["req/s", `req/s vs ${against}`, "CPU us/req", `CPU/req vs ${against}`, "CPU share per process"],
    (s, v) => [
      fmtNum(v(s.reqPerSec)),
      fmtRatio(ratio(v(s.reqPerSec), first?.reqPerSec)),
      fmtNum(v(s.cpuUsPerReq), 1),
      fmtRatio(ratio(v(s.cpuUsPerReq), first?.cpuUsPerReq)),
      fmtCpuShare(s.error ? undefined : s.cpuShare),
    ],
  );
}

/** Scenarios whose results do not fit the throughput table. */
const SCENARIO_TABLES: Partial<Record<number, (sc: ScenarioResult) => string>> = {
  3: ratesTable,
  5: largeTable,
  8: sweepTables,
  9: workersTable,
};

function scenarioText(sc: ScenarioResult): string {
  const body = (SCENARIO_TABLES[sc.id] ?? throughputTable)(sc);
  const notes = (sc.notes ?? []).map((n) => `\n${n}\n`).join("");
  return `### ${sc.id}. ${sc.title}\n\n${sc.description}. Medians of ${sc.runs} interleaved run(s); measured ${sc.date}.\n\n${body}\n${notes}`;
}

interface ResultsFile {
  bench: "proxies";
  machine: MachineInfo;
  command: string;
  scenarios: Record<string, ScenarioResult>;
}

function docMarkdown(res: ResultsFile): string {
  const scs = Object.values(res.scenarios).sort((a, b) => a.id - b.id);
  return `## Proxies: Switchyard vs HAProxy vs nginx

Machine (last run):

${machineMarkdown(res.machine)}

Command: \`${res.command}\`

How to read: "CPU us/req" is utime+stime of the system's process tree
(/proc/PID/stat) over a run divided by the requests completed; for "direct"
it is the backend's own CPU. "CPU/req vs HAProxy" is system / HAProxy (the
target for Switchyard is <= 1.25x); "per-core eff. vs HAProxy" is HAProxy /
system; "CPU/req vs backend" compares the proxy's CPU with what the backend
itself spends per request. req/s is capped by the shared CPUs. All proxies
run one thread (HAProxy nbthread 1, nginx 1 worker, master off), HTTP/2
cleartext on both sides; nginx proxies with grpc_pass (one upstream stream
per connection, upstream keepalive pool). Scenario 8 compares each system
with itself at the first point of a sweep (and that growth with HAProxy's);
scenario 9 compares Switchyard with two worker processes with itself with one.

${scs.map(scenarioText).join("\n")}`;
}

function printScenario(sc: ScenarioResult): void {
  process.stdout.write(`\n${scenarioText(sc)}\n`);
}

// ---------------------------------------------------------------- main

/** Every scenario by number (`--scenario N`); a run without --scenario does them all, in this order. */
const SCENARIOS: Record<number, (opts: Options) => Promise<ScenarioResult>> = {
  1: (opts) => scenarioConcurrency(opts, 1, 1),
  2: (opts) => scenarioConcurrency(opts, 2, 8),
  3: scenarioRates,
  4: scenarioGrpc,
  5: scenarioLarge,
  6: scenarioIdle,
  7: scenarioManyEndpoints,
  8: scenarioSweeps,
  9: scenarioWorkers,
};

function scenarioNumbers(): number[] {
  return Object.keys(SCENARIOS).map(Number);
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  requireTools([
    { name: "h2load", pkg: "nghttp2-client" },
    { name: "haproxy", pkg: "haproxy" },
    { name: "nginx", pkg: "nginx-light" },
  ]);
  const machine = await machineInfo();
  log(`machine: ${machine.cpuModel}, ${machine.cores} cores; node ${machine.node}; ${machine.haproxy}; ${machine.nginx}; ${machine.h2load}`);
  log(`runs per system: ${opts.runs}, duration ${opts.durationSec}s, scenarios ${opts.scenarios.join(",")}`);
  const t0 = Date.now();
  const results: ScenarioResult[] = [];
  for (const n of opts.scenarios) {
    log(`\nscenario ${n} ...`);
    try {
      const sc = await SCENARIOS[n]!(opts);
      results.push(sc);
      printScenario(sc);
    } catch (e) {
      log(`scenario ${n} failed: ${(e as Error).message ?? String(e)}`);
    }
    await stopAll();
  }
  log(`\ntotal time ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  if (!opts.write) return;

  const jsonFile = path.join(resultsDir, "latest.json");
  let previous: ResultsFile | undefined;
  if (existsSync(jsonFile)) {
    try {
      const p = JSON.parse(readFileSync(jsonFile, "utf8")) as ResultsFile;
      if (p.bench === "proxies" && p.scenarios) previous = p;
    } catch {
      // start afresh
    }
  }
  const merged: ResultsFile = {
    bench: "proxies",
    machine,
    command: commandLine("bench"),
    scenarios: { ...(previous?.scenarios ?? {}) },
  };
  for (const sc of results) merged.scenarios[String(sc.id)] = sc;
  writeJson(jsonFile, merged);
  updateDocSection("proxies", docMarkdown(merged));
  log(`wrote ${path.relative(repoRoot, jsonFile)} and ${path.relative(repoRoot, benchmarksDoc)}`);
}

runBenchMain(main);
