/**
 * `npm run bench` — Switchyard against HAProxy, nginx and a direct
 * connection to the backends, over h2c on loopback.
 *
 *   node dist/bench/proxies.js [--quick] [--scenario N[,N...]] [--runs N]
 *        [--duration S] [--systems direct,haproxy,nginx,switchyard]
 *        [--switchyard-node PATH] [--switchyard-env KEY=VALUE]... [--no-write]
 *
 * The per-core figure is CPU time per request: utime+stime of the measured
 * process tree over a run divided by the requests h2load completed. Every
 * result is a ratio to a baseline measured in the same run (HAProxy, or the
 * direct connection), each figure the median of interleaved runs
 * (A,B,C,D,A,B,C,D,...).
 */
import http2 from "node:http2";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { h2loadSupportsRps, runH2load, type H2loadOptions, type H2loadResult } from "./lib/h2load.js";
import { openIdleClients, type IdleClients } from "./lib/idle-clients.js";
import { startNginxBackend, type RunningServer } from "./lib/nginx.js";
import { treesCpuMs } from "./lib/proc-cpu.js";
import {
  freePorts,
  makeTempDir,
  requireTools,
  sleep,
  startProcess,
  stopAll,
  stopProcess,
  waitForPort,
  type Tracked,
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
import {
  ALL_SYSTEMS,
  startSystem,
  systemDeath,
  type Endpoint,
  type SwitchyardLaunch,
  type SystemHandle,
  type SystemId,
} from "./lib/systems.js";
import { repoRoot } from "./lib/switchyard.js";

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
    scenarios: [1, 2, 3, 4, 5, 6, 7],
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
          .filter((n) => n >= 1 && n <= 7);
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
    process.stderr.write("--scenario: expected numbers 1..7\n");
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
  /** Extra per-scenario facts (e.g. a gRPC status check). */
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
  systems: SystemResult[];
}

async function measureRun(sys: SystemHandle, backendPids: readonly number[], load: H2loadOptions): Promise<RunSample> {
  const cpu0 = treesCpuMs(sys.cpuPids);
  const b0 = treesCpuMs(backendPids);
  const r: H2loadResult = await runH2load(load);
  const cpu1 = treesCpuMs(sys.cpuPids);
  const b1 = treesCpuMs(backendPids);
  const done = r.requests.done;
  const cpuMs = cpu1 - cpu0;
  const backendCpuMs = b1 - b0;
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
    notes,
  };
}

interface ScenarioSetup {
  backends: Endpoint[];
  backendPids: number[];
  stop(): Promise<void>;
}

/**
 * Starts every system against the backends, then runs `load` on each in
 * interleaved order `runs` times (after one short unmeasured warm-up each).
 */
async function runSystems(
  opts: Options,
  setup: ScenarioSetup,
  load: (target: Endpoint) => H2loadOptions,
  extra: {
    warmup?: (target: Endpoint) => H2loadOptions;
    beforeRuns?: (sys: SystemHandle) => Promise<string[]>;
    afterRuns?: () => Promise<void>;
    maxConnections?: number;
    useConfig?: boolean;
    /** Several loads (e.g. target rates) measured in the same interleaving. */
    loads?: Array<(target: Endpoint) => H2loadOptions>;
    runs?: number;
  } = {},
): Promise<SystemResult[][]> {
  const systems: SystemHandle[] = [];
  for (const id of opts.systems) {
    const s = await startSystem(id, setup.backends, setup.backendPids, {
      switchyard: { ...opts.switchyard, useConfig: extra.useConfig ?? opts.switchyard.useConfig },
      maxConnections: extra.maxConnections,
    });
    if (s.error) log(`  ${s.label}: ${s.error}`);
    systems.push(s);
  }
  try {
    await sleep(300);
    const rssIdle = new Map<SystemId, number>();
    const notes = new Map<SystemId, string[]>();
    for (const s of systems) {
      rssIdle.set(s.id, s.error ? NaN : s.rssKb());
      notes.set(s.id, []);
    }
    for (const s of systems) {
      if (s.error || !s.target || !extra.beforeRuns) continue;
      try {
        notes.get(s.id)!.push(...(await extra.beforeRuns(s)));
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
    const loads = extra.loads ?? [load];
    const samples = loads.map(() => new Map<SystemId, RunSample[]>(systems.map((s) => [s.id, []])));
    const runs = extra.runs ?? opts.runs;
    for (let run = 0; run < runs; run++) {
      for (let li = 0; li < loads.length; li++) {
        for (const s of systems) {
          if (s.error || !s.target) continue;
          const sample = await measureRun(s, setup.backendPids, loads[li]!(s.target));
          samples[li]!.get(s.id)!.push(sample);
          log(
            `  run ${run + 1}/${runs} ${s.label.padEnd(10)} ${fmtNum(sample.reqPerSec).padStart(8)} req/s ` +
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
      systems.map((s) =>
        summarize(s, samples[li]!.get(s.id)!, rssIdle.get(s.id)!, s.error ? NaN : s.rssKb(), [...notes.get(s.id)!]),
      ),
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
    };
  } finally {
    await setup.stop();
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
      { maxConnections: 16_384, useConfig: true },
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

// ---------------------------------------------------------------- report

function find(systems: readonly SystemResult[], id: SystemId): SystemResult | undefined {
  const s = systems.find((x) => x.id === id);
  return s && !s.error ? s : undefined;
}

function status(s: SystemResult): string {
  if (s.error) return `FAILED: ${s.error.replace(/\|/g, "/").slice(0, 160)}`;
  return s.notes.length ? s.notes.join("; ").replace(/\|/g, "/") : "ok";
}

function throughputTable(sc: ScenarioResult): string {
  const hap = find(sc.systems, "haproxy");
  const dir = find(sc.systems, "direct");
  const rows = sc.systems.map((s) => {
    const ok = !s.error;
    const v = (n: number) => (ok ? n : NaN);
    return [
      s.label,
      fmtNum(v(s.reqPerSec)),
      fmtRatio(ratio(v(s.reqPerSec), dir?.reqPerSec)),
      fmtRatio(ratio(v(s.reqPerSec), hap?.reqPerSec)),
      fmtNum(v(s.cpuUsPerReq), 1),
      s.id === "direct" ? "-" : fmtRatio(ratio(v(s.cpuUsPerReq), hap?.cpuUsPerReq)),
      s.id === "direct" ? "-" : fmtRatio(ratio(hap?.cpuUsPerReq, v(s.cpuUsPerReq))),
      s.id === "direct" ? "-" : fmtRatio(ratio(v(s.cpuUsPerReq), dir?.cpuUsPerReq)),
      fmtMiB(s.rssIdleKb),
      fmtMiB(s.rssAfterKb),
      status(s),
    ];
  });
  return table(
    [
      "system",
      "req/s",
      "req/s vs direct",
      "req/s vs HAProxy",
      "CPU us/req",
      "CPU/req vs HAProxy",
      "per-core eff. vs HAProxy",
      "CPU/req vs backend",
      "RSS idle",
      "RSS after",
      "status",
    ],
    rows,
  );
}

function largeTable(sc: ScenarioResult): string {
  const hap = find(sc.systems, "haproxy");
  const dir = find(sc.systems, "direct");
  const rows = sc.systems.map((s) => {
    const v = (n: number) => (s.error ? NaN : n);
    return [
      s.label,
      fmtNum(v(s.mbPerSec)),
      fmtRatio(ratio(v(s.mbPerSec), dir?.mbPerSec)),
      fmtRatio(ratio(v(s.mbPerSec), hap?.mbPerSec)),
      fmtNum(v(s.cpuMsPerMiB), 2),
      s.id === "direct" ? "-" : fmtRatio(ratio(v(s.cpuMsPerMiB), hap?.cpuMsPerMiB)),
      s.id === "direct" ? "-" : fmtRatio(ratio(hap?.cpuMsPerMiB, v(s.cpuMsPerMiB))),
      fmtMiB(s.rssIdleKb),
      fmtMiB(s.rssAfterKb),
      status(s),
    ];
  });
  return table(
    [
      "system",
      "MiB/s",
      "vs direct",
      "vs HAProxy",
      "CPU ms/MiB",
      "CPU/MiB vs HAProxy",
      "per-core eff. vs HAProxy",
      "RSS idle",
      "RSS after",
      "status",
    ],
    rows,
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

function scenarioText(sc: ScenarioResult): string {
  const body = sc.id === 3 ? ratesTable(sc) : sc.id === 5 ? largeTable(sc) : throughputTable(sc);
  return `### ${sc.id}. ${sc.title}\n\n${sc.description}. Medians of ${sc.runs} interleaved run(s); measured ${sc.date}.\n\n${body}\n`;
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
per connection, upstream keepalive pool).

${scs.map(scenarioText).join("\n")}`;
}

function printScenario(sc: ScenarioResult): void {
  process.stdout.write(`\n${scenarioText(sc)}\n`);
}

// ---------------------------------------------------------------- main

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
  const scenarioRunners: Record<number, () => Promise<ScenarioResult>> = {
    1: () => scenarioConcurrency(opts, 1, 1),
    2: () => scenarioConcurrency(opts, 2, 8),
    3: () => scenarioRates(opts),
    4: () => scenarioGrpc(opts),
    5: () => scenarioLarge(opts),
    6: () => scenarioIdle(opts),
    7: () => scenarioManyEndpoints(opts),
  };
  for (const n of opts.scenarios) {
    log(`\nscenario ${n} ...`);
    try {
      const sc = await scenarioRunners[n]!();
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

main().then(
  async () => {
    await stopAll();
    process.exit(0);
  },
  async (e) => {
    log(`bench failed: ${(e as Error).stack ?? String(e)}`);
    await stopAll();
    process.exit(1);
  },
);
