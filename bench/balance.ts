/**
 * `npm run bench:balance` — how much traffic each balancing policy sends to
 * a bad backend, and what the client sees.
 *
 *   node dist/bench/balance.js [--quick] [--runs N] [--requests N] [--no-write]
 *        [--systems switchyard,haproxy,nginx] [--clients N] [--phases slow,fail-http,fail-grpc]
 *        [--policies round-robin,least-request,peak-ewma]
 *
 * Three h2c backends (bench/servers/delay-backend.ts, one Node process each)
 * on loopback. Phases:
 *   slow       backends A and B answer after 1 ms, C after 20 ms
 *   fail-http  C answers 503 at once (A, B: 1 ms), plain HTTP/2 GETs
 *   fail-grpc  C answers trailers-only grpc-status 14 at once, gRPC POSTs
 * Load: h2load -c C -m 20 -n N (C = --clients, default 2) through Switchyard (round-robin,
 * least-request, peak-ewma; `run --config`), HAProxy (roundrobin, leastconn;
 * nbthread 1) and nginx (grpc_pass; round-robin, least_conn). Each backend
 * counts what it served (HTTP/1.1 stats endpoint); latency percentiles come
 * from h2load --log-file. Medians of interleaved runs.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runH2load, type H2loadOptions } from "./lib/h2load.js";
import { startHaproxy } from "./lib/haproxy.js";
import { startNginxProxy } from "./lib/nginx.js";
import {
  freePort,
  freePorts,
  makeTempDir,
  requireTools,
  startProcess,
  stopProcess,
  waitForPort,
  type Tracked,
  type RunningServer,
} from "./lib/processes.js";
import {
  benchmarksDoc,
  commandLine,
  fmtNum,
  fmtUs,
  log,
  machineInfo,
  machineMarkdown,
  median,
  resultsDir,
  table,
  updateDocSection,
  writeJson,
  type MachineInfo,
} from "./lib/report.js";
import { parseBenchArgs } from "./lib/args.js";
import { runBenchMain } from "./lib/entry.js";
import { repoRoot, startSwitchyard, switchyardConfigYaml } from "./lib/switchyard.js";

interface Options {
  quick: boolean;
  runs: number;
  requests: number;
  systems: string[];
  write: boolean;
  clients: number;
  phases: string[];
  policies: string[];
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = {
    quick: false,
    runs: 0,
    requests: 0,
    systems: ["switchyard", "haproxy", "nginx"],
    write: true,
    clients: 2,
    phases: PHASES.map((p) => p.key),
    policies: [...SWITCHYARD_POLICIES],
  };
  const usage =
    "usage: node dist/bench/balance.js [--quick] [--runs N] [--requests N] [--systems switchyard,haproxy,nginx]\n" +
    "       [--clients N] [--phases slow,fail-http,fail-grpc] [--policies round-robin,least-request,peak-ewma] [--no-write]\n";
  parseBenchArgs(argv, usage, (flag, value) => {
    switch (flag) {
      case "--quick":
        o.quick = true;
        return true;
      case "--runs":
        o.runs = Math.max(1, Number(value()) || 1);
        return true;
      case "--requests":
        o.requests = Math.max(100, Number(value()) || 100);
        return true;
      case "--systems":
        o.systems = value().split(",");
        return true;
      case "--no-write":
        o.write = false;
        return true;
      case "--clients":
        o.clients = Math.max(1, Number(value()) || 1);
        return true;
      case "--phases":
        o.phases = value().split(",");
        return true;
      case "--policies":
        o.policies = value().split(",");
        return true;
      default:
        return false;
    }
  });
  if (!o.runs) o.runs = o.quick ? 1 : 3;
  if (!o.requests) o.requests = o.quick ? 1000 : 4000;
  return o;
}

// ---------------------------------------------------------------- backends

interface Backend {
  name: string;
  host: string;
  port: number;
  statsPort: number;
  proc: Tracked;
}

interface Counters {
  served: number;
  ok: number;
  failed: number;
}

const benchDist = path.dirname(fileURLToPath(import.meta.url));
const FAST_MS = 1;
const SLOW_MS = 20;

async function startBackends(): Promise<Backend[]> {
  const ports = await freePorts(6);
  const out: Backend[] = [];
  for (let i = 0; i < 3; i++) {
    const name = "ABC"[i]!;
    const port = ports[i * 2]!;
    const statsPort = ports[i * 2 + 1]!;
    const proc = startProcess(`backend-${name}`, process.execPath, [
      path.join(benchDist, "servers", "delay-backend.js"),
      "--port",
      String(port),
      "--stats-port",
      String(statsPort),
      "--delay",
      String(FAST_MS),
    ]);
    out.push({ name, host: "127.0.0.1", port, statsPort, proc });
  }
  for (const b of out) {
    await waitForPort(b.host, b.port, 10_000, b.proc);
    await waitForPort(b.host, b.statsPort, 10_000, b.proc);
  }
  return out;
}

async function statsCall(b: Backend, pathAndQuery: string, method = "GET"): Promise<unknown> {
  const res = await fetch(`http://${b.host}:${b.statsPort}${pathAndQuery}`, { method });
  return res.json();
}

const resetCounters = (bs: readonly Backend[]) => Promise.all(bs.map((b) => statsCall(b, "/reset", "POST")));
const readCounters = (bs: readonly Backend[]) => Promise.all(bs.map((b) => statsCall(b, "/stats") as Promise<Counters>));
const setMode = (b: Backend, mode: "ok" | "fail", delay: number) =>
  statsCall(b, `/mode?mode=${mode}&delay=${delay}`, "POST");

// ---------------------------------------------------------------- systems

interface SystemSpec {
  key: string;
  label: string;
  family: "switchyard" | "haproxy" | "nginx";
  policy: string;
  start(backends: readonly Backend[]): Promise<RunningServer>;
}

const SWITCHYARD_POLICIES = ["round-robin", "least-request", "peak-ewma"] as const;

function systemSpecs(families: readonly string[], policies: readonly string[]): SystemSpec[] {
  const eps = (bs: readonly Backend[]) => bs.map((b) => ({ host: b.host, port: b.port }));
  const specs: SystemSpec[] = [];
  for (const policy of policies) {
    specs.push({
      key: `switchyard-${policy}`,
      label: "Switchyard",
      family: "switchyard",
      policy,
      start: async (bs) => {
        const port = await freePort();
        return startSwitchyard({
          port,
          balancer: policy,
          configYaml: switchyardConfigYaml({ port, balancer: policy, backends: eps(bs), protocol: "http2" }),
        });
      },
    });
  }
  for (const policy of ["roundrobin", "leastconn"] as const) {
    specs.push({
      key: `haproxy-${policy}`,
      label: "HAProxy",
      family: "haproxy",
      policy,
      start: async (bs) => startHaproxy({ port: await freePort(), backends: eps(bs), balance: policy }),
    });
  }
  for (const policy of ["round-robin", "least_conn"] as const) {
    specs.push({
      key: `nginx-${policy}`,
      label: "nginx",
      family: "nginx",
      policy,
      start: async (bs) =>
        startNginxProxy({ port: await freePort(), backends: eps(bs), balance: policy, keepalive: 256 }),
    });
  }
  return specs.filter((s) => families.includes(s.family));
}

// ---------------------------------------------------------------- phases

interface Phase {
  key: "slow" | "fail-http" | "fail-grpc";
  title: string;
  badMode: "ok" | "fail";
  badDelay: number;
  grpc: boolean;
}

const PHASES: Phase[] = [
  { key: "slow", title: `C is 20x slower (A, B: ${FAST_MS} ms; C: ${SLOW_MS} ms)`, badMode: "ok", badDelay: SLOW_MS, grpc: false },
  { key: "fail-http", title: "C fails fast with HTTP 503 (A, B: 1 ms)", badMode: "fail", badDelay: 0, grpc: false },
  {
    key: "fail-grpc",
    title: "C fails fast with gRPC trailers-only grpc-status 14 (A, B: 1 ms)",
    badMode: "fail",
    badDelay: 0,
    grpc: true,
  },
];

interface RunSample {
  ok: boolean;
  error?: string;
  done: number;
  nonSuccess: number;
  reqPerSec: number;
  p50Us: number;
  p99Us: number;
  served: number[];
  badShare: number;
  badFailedServed: number;
}

interface SystemPhaseResult {
  key: string;
  label: string;
  policy: string;
  error?: string;
  runs: RunSample[];
  badShare: number;
  clientErrorShare: number;
  reqPerSec: number;
  p50Us: number;
  p99Us: number;
}

interface PhaseResult {
  key: string;
  title: string;
  date: string;
  h2load: string;
  systems: SystemPhaseResult[];
}

async function runPhase(
  opts: Options,
  phase: Phase,
  backends: readonly Backend[],
  specs: readonly SystemSpec[],
  grpcBody: string,
): Promise<PhaseResult> {
  await setMode(backends[0]!, "ok", FAST_MS);
  await setMode(backends[1]!, "ok", FAST_MS);
  await setMode(backends[2]!, phase.badMode, phase.badDelay);
  const load = (port: number, n: number, percentiles: boolean): H2loadOptions => ({
    url: `http://127.0.0.1:${port}${phase.grpc ? "/switchyard.bench.Ping/Ping" : "/"}`,
    clients: opts.clients,
    streams: 20,
    requests: n,
    percentiles,
    timeoutMs: 120_000,
    ...(phase.grpc ? { dataFile: grpcBody, headers: ["content-type: application/grpc", "te: trailers"] } : {}),
  });

  // Fresh proxies per phase, so no policy state carries over between phases.
  const running = new Map<string, RunningServer>();
  const errors = new Map<string, string>();
  for (const s of specs) {
    try {
      running.set(s.key, await s.start(backends));
    } catch (e) {
      errors.set(s.key, `failed to start: ${(e as Error).message}`);
      log(`  ${s.label} ${s.policy}: failed to start: ${(e as Error).message}`);
    }
  }
  const samples = new Map<string, RunSample[]>(specs.map((s) => [s.key, []]));
  try {
    for (const s of specs) {
      const srv = running.get(s.key);
      if (!srv) continue;
      const w = await runH2load(load(srv.port, Math.min(500, opts.requests), false));
      if (w.requests.done === 0) log(`  ${s.label} ${s.policy}: warm-up: ${w.error ?? "nothing completed"}`);
    }
    for (let run = 0; run < opts.runs; run++) {
      for (const s of specs) {
        const srv = running.get(s.key);
        if (!srv || errors.has(s.key)) continue;
        await resetCounters(backends);
        const r = await runH2load(load(srv.port, opts.requests, true));
        const counters = await readCounters(backends);
        const served = counters.map((c) => c.served);
        const total = served.reduce((a, b) => a + b, 0);
        const sample: RunSample = {
          ok: r.requests.done > 0 && !srv.process.hasExited(),
          error: srv.process.hasExited() ? `exited (${srv.process.exitStatus()})` : r.requests.done === 0 ? r.error : undefined,
          done: r.requests.done,
          nonSuccess: r.requests.done - r.requests.succeeded,
          reqPerSec: r.reqPerSec,
          p50Us: r.percentiles?.p50Us ?? NaN,
          p99Us: r.percentiles?.p99Us ?? NaN,
          served,
          badShare: total > 0 ? served[2]! / total : NaN,
          badFailedServed: counters[2]!.failed,
        };
        samples.get(s.key)!.push(sample);
        log(
          `  ${phase.key} run ${run + 1}/${opts.runs} ${`${s.label} ${s.policy}`.padEnd(26)} ` +
            `served A/B/C ${served.join("/")}  to C ${(sample.badShare * 100).toFixed(1)}%  ` +
            `non-2xx ${sample.nonSuccess}  p50 ${fmtUs(sample.p50Us)} p99 ${fmtUs(sample.p99Us)}` +
            (sample.ok ? "" : `  FAILED: ${sample.error}`),
        );
        if (srv.process.hasExited()) errors.set(s.key, sample.error ?? "exited");
      }
    }
  } finally {
    for (const srv of running.values()) await srv.stop();
  }
  return {
    key: phase.key,
    title: phase.title,
    date: new Date().toISOString(),
    h2load: `-c ${opts.clients} -m 20 -n ${opts.requests}${phase.grpc ? " -d <gRPC frame> -H 'content-type: application/grpc' -H 'te: trailers'" : ""}`,
    systems: specs.map((s) => {
      const runs = samples.get(s.key)!;
      const good = runs.filter((r) => r.ok);
      return {
        key: s.key,
        label: s.label,
        policy: s.policy,
        error: errors.get(s.key) ?? (good.length === 0 ? (runs[0]?.error ?? "no successful run") : undefined),
        runs,
        badShare: median(good.map((r) => r.badShare)),
        clientErrorShare: median(good.map((r) => (r.done > 0 ? r.nonSuccess / r.done : NaN))),
        reqPerSec: median(good.map((r) => r.reqPerSec)),
        p50Us: median(good.map((r) => r.p50Us)),
        p99Us: median(good.map((r) => r.p99Us)),
      };
    }),
  };
}

// ---------------------------------------------------------------- report

function pct(x: number): string {
  return Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : "-";
}

function phaseTable(p: PhaseResult): string {
  const grpc = p.key === "fail-grpc";
  return table(
    ["system", "policy", "share to C", grpc ? "client non-2xx (HTTP)" : "client non-2xx", "req/s", "p50", "p99", "status"],
    p.systems.map((s) => {
      const v = (n: number) => (s.error ? NaN : n);
      return [
        s.label,
        s.policy,
        pct(v(s.badShare)),
        pct(v(s.clientErrorShare)),
        fmtNum(v(s.reqPerSec)),
        fmtUs(v(s.p50Us)),
        fmtUs(v(s.p99Us)),
        s.error ? `FAILED: ${s.error.replace(/\|/g, "/").slice(0, 160)}` : "ok",
      ];
    }),
  );
}

function phaseText(p: PhaseResult, runs: number): string {
  return `### ${p.title}\n\nh2load ${p.h2load}; medians of ${runs} interleaved run(s); measured ${p.date}.\n\n${phaseTable(p)}\n`;
}

function docMarkdown(machine: MachineInfo, command: string, phases: PhaseResult[], runs: number): string {
  return `## Load balancing: share of traffic to a bad backend

Machine:

${machineMarkdown(machine)}

Command: \`${command}\`

Three h2c backends (Node, one process each). "share to C" is the fraction
of the requests the backends served that backend C served (counted by the
backends; retries would count twice). "client non-2xx" is what h2load saw;
in the gRPC phase failures are grpc-status 14 in HTTP 200 responses, which
h2load does not see, so the share to C is the failure rate there unless the
proxy retries. Round-robin sends 1/3 to C by construction. No health checks
are configured on HAProxy or nginx.

${phases.map((p) => phaseText(p, runs)).join("\n")}`;
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
  log(`machine: ${machine.cpuModel}, ${machine.cores} cores; node ${machine.node}`);
  const specs = systemSpecs(opts.systems, opts.policies);
  const dir = makeTempDir("balance");
  const grpcBody = path.join(dir, "empty-grpc-message.bin");
  writeFileSync(grpcBody, Buffer.from([0, 0, 0, 0, 0]));
  const backends = await startBackends();
  const phases: PhaseResult[] = [];
  try {
    for (const phase of PHASES.filter((p) => opts.phases.includes(p.key))) {
      log(`\nphase ${phase.key}: ${phase.title}`);
      const p = await runPhase(opts, phase, backends, specs, grpcBody);
      phases.push(p);
      process.stdout.write(`\n${phaseText(p, opts.runs)}\n`);
    }
  } finally {
    for (const b of backends) await stopProcess(b.proc);
  }
  if (!opts.write) return;
  const command = commandLine("bench:balance");
  const jsonFile = path.join(resultsDir, "balance.json");
  writeJson(jsonFile, { bench: "balance", machine, command, runs: opts.runs, requests: opts.requests, phases });
  updateDocSection("balance", docMarkdown(machine, command, phases, opts.runs));
  log(`wrote ${path.relative(repoRoot, jsonFile)} and ${path.relative(repoRoot, benchmarksDoc)}`);
}

runBenchMain(main);
