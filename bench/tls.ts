/**
 * `npm run bench:tls` — what terminating TLS costs Switchyard, beside HAProxy
 * terminating the same TLS: the same certificate (ECDSA P-256), TLS 1.3 with
 * TLS_AES_128_GCM_SHA256 and X25519, ALPN h2, the same h2c backends; and the
 * same proxies over h2c as the reference, in the same run.
 *
 *   node dist/bench/tls.js [--rounds N] [--seconds S] [--rate N] [--connections N]
 *        [--scenario requests,handshakes,resumption] [--no-mtls] [--no-pin] [--cpu-prof DIR]
 *        [--quick] [--no-write]
 *
 * - requests: long-lived connections, h2load -c 10 -m 10 -D S after a
 *   warm-up in which it connects: CPU per request of each proxy, TLS and h2c.
 * - handshakes: new connections at a fixed rate, each making one request
 *   and closing (h2load -c N -n N -m 1 -r ...): every connection is one full
 *   handshake (h2load keeps no sessions to resume; checked on HAProxy's
 *   counters and Switchyard's). Handshakes per CPU-second = connections /
 *   proxy CPU seconds. With client certificates (mTLS) through a relay,
 *   since h2load cannot present one (see lib/tls-setup.ts).
 * - resumption: TLS handshakes alone (no request) from a Node client,
 *   full, then with every connection offering the last session ticket
 *   (tls/handshake-client.ts): full and resumed handshakes per CPU-second.
 * - requests also runs HTTP/1.1 clients over TLS (h2load --h1, ALPN
 *   http/1.1) against an http1 listener and an HTTP/1.1 HAProxy frontend.
 * - Proxy CPU is the run time of its threads (schedstat), not utime+stime
 *   rounded to 10 ms ticks: a handshake run holds a few hundred ms of it.
 * - Pinning (default with 2 or more cores): both proxies on core 1; this
 *   process, nginx, the relay, h2load and the handshake client on core 0. Runs interleave the
 *   variants (forward, then backward, then forward ...); a run disturbed by
 *   other processes on the machine is measured again (bounded).
 */
import path from "node:path";
import { measureFlag, parseBenchArgs } from "./lib/args.js";
import { ForeignMeter, pinProcess, processCpuPreciseMs } from "./lib/cores.js";
import { runBenchMain } from "./lib/entry.js";
import { runHandshakeLoad } from "./tls/handshake-load.js";
import { h2loadBinary, runH2load, type H2loadOptions, type H2loadResult } from "./lib/h2load.js";
import { haproxyFrontendStats, startHaproxy } from "./lib/haproxy.js";
import { startNginxBackend } from "./lib/nginx.js";
import { treeCpuMs, treeRssKb } from "./lib/proc-cpu.js";
import {
  freePorts,
  makeTempDir,
  requireTools,
  runToCompletion,
  sleep,
  stopProcess,
  waitForPort,
  type RunningServer,
} from "./lib/processes.js";
import {
  benchmarksDoc,
  commandLine,
  fmtMiB,
  fmtNum,
  fmtRatio,
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
import { repoRoot, startSwitchyard } from "./lib/switchyard.js";
import {
  makeBenchCertificates,
  metricSum,
  parseH2loadTls,
  probeTls,
  startTlsRelay,
  switchyardMetrics,
  switchyardTlsConfigYaml,
  type TicketProbe,
  type TlsParams,
} from "./lib/tls-setup.js";

const CIPHER = "TLS_AES_128_GCM_SHA256";

// ---------------------------------------------------------------- options

type ScenarioId = "requests" | "handshakes" | "resumption";

interface Options {
  rounds: number;
  seconds: number;
  warmupSec: number;
  clients: number;
  streams: number;
  /** New connections per second in the handshake scenario. */
  rate: number;
  /** Connections per handshake run. */
  connections: number;
  scenarios: ScenarioId[];
  mtls: boolean;
  pin: boolean;
  maxForeign: number;
  retries: number;
  quietWaitSec: number;
  cpuProfDir: string | undefined;
  write: boolean;
}

const USAGE =
  "usage: node dist/bench/tls.js [--rounds N] [--seconds S] [--clients N] [--streams N] [--rate N]\n" +
  "       [--connections N] [--scenario requests,handshakes,resumption] [--no-mtls] [--no-pin]\n" +
  "       [--max-foreign P] [--retries N] [--quiet-wait S] [--cpu-prof DIR] [--quick] [--no-write]\n" +
  "  --rounds N       interleaved rounds of every variant (default 5; --quick 2)\n" +
  "  --seconds S      requests: h2load -D per run, after a 1 s warm-up (default 3; --quick 2)\n" +
  "  --clients N      requests: h2load -c (default 10)\n" +
  "  --streams N      requests: h2load -m (default 10)\n" +
  "  --rate N         handshakes: new connections per second (default 400)\n" +
  "  --connections N  handshakes: connections per run, one request each (default 1200; --quick 500)\n" +
  "  --scenario S     only these scenarios (requests, handshakes, resumption; default all)\n" +
  "  --no-mtls        handshakes: skip the runs with client certificates (and the relay)\n" +
  "  --no-pin         do not pin the proxies to core 1 and the rest to core 0\n" +
  "  --max-foreign P  measure a run again when processes outside the bench took more than\n" +
  "                   P% of a core during it (default 10)\n" +
  "  --retries N      at most N more attempts per run (default 2; 0: never), 2 x rounds in all\n" +
  "  --quiet-wait S   before runs, wait for the cores to be free of other processes, up to\n" +
  "                   S seconds over the whole bench (default 45; 0: never wait)\n" +
  "  --cpu-prof DIR   start Switchyard with node --cpu-prof, profile written to DIR on exit\n";

function parseArgs(argv: readonly string[]): Options {
  const o: Options = {
    rounds: 0,
    seconds: 0,
    warmupSec: 1,
    clients: 10,
    streams: 10,
    rate: 400,
    connections: 0,
    scenarios: ["requests", "handshakes", "resumption"],
    mtls: true,
    pin: true,
    maxForeign: 0.1,
    retries: 2,
    quietWaitSec: 45,
    cpuProfDir: undefined,
    write: true,
  };
  let quick = false;
  const positive = (v: string, min: number): number => Math.max(min, Math.floor(Number(v)) || min);
  parseBenchArgs(argv, USAGE, (flag, value) => {
    switch (flag) {
      case "--quick":
        quick = true;
        return true;
      case "--rounds":
      case "--runs":
        o.rounds = positive(value(), 1);
        return true;
      case "--seconds":
      case "--duration":
        o.seconds = positive(value(), 1);
        return true;
      case "--clients":
        o.clients = positive(value(), 1);
        return true;
      case "--streams":
        o.streams = positive(value(), 1);
        return true;
      case "--rate":
        o.rate = positive(value(), 1);
        return true;
      case "--connections":
        o.connections = positive(value(), 10);
        return true;
      case "--scenario":
      case "--scenarios": {
        const list = value().split(",");
        if (!list.every((s) => s === "requests" || s === "handshakes" || s === "resumption")) {
          process.stderr.write("--scenario: expected requests, handshakes or resumption (comma list)\n");
          process.exit(64);
        }
        o.scenarios = list as ScenarioId[];
        return true;
      }
      case "--no-mtls":
        o.mtls = false;
        return true;
      default:
        return measureFlag(o, flag, value, (d) => path.resolve(d));
    }
  });
  if (!o.rounds) o.rounds = quick ? 2 : 5;
  if (!o.seconds) o.seconds = quick ? 2 : 3;
  if (!o.connections) o.connections = quick ? 500 : 1200;
  return o;
}

// ---------------------------------------------------------------- systems and variants

type SystemId = "switchyard" | "haproxy";
const SYSTEMS: readonly SystemId[] = ["switchyard", "haproxy"];
const LABEL: Record<SystemId, string> = { switchyard: "Switchyard", haproxy: "HAProxy" };

/**
 * How clients reach the proxy: h2c; TLS from h2load itself; TLS or mTLS
 * from the relay (h2load speaks h2c to it; it opens one TLS connection to
 * the proxy per connection h2load makes).
 */
/** Modes of the requests scenario: h2 over TLS, HTTP/1.1 over TLS, and h2c as the reference. */
const REQUEST_MODES = ["tls", "tls-h1", "h2c"] as const;
/** Modes of the resumption scenario: full handshakes, then every client offering its last ticket. */
const RESUMPTION_MODES = ["tls", "resumed"] as const;
type Mode = "h2c" | "tls" | "tls-h1" | "h1" | "resumed" | "relay-tls" | "relay-mtls";
const MODE_LABEL: Record<Mode, string> = {
  h2c: "h2c",
  tls: "TLS",
  "tls-h1": "TLS, HTTP/1.1",
  h1: "HTTP/1.1",
  resumed: "TLS, resumed",
  "relay-tls": "TLS via relay",
  "relay-mtls": "mTLS via relay",
};

interface Variant {
  system: SystemId;
  mode: Mode;
  url: string;
  /** Listener (Switchyard) or frontend (HAProxy) the connections arrive on. */
  entry: string;
  port: number;
}

interface Counters {
  /** Connections the proxy accepted on the entry. */
  connections: number;
  /** Handshakes completed on the entry (TLS modes). */
  handshakes: number;
  /** Of them, resumed sessions (HAProxy only: Switchyard does not count them apart). */
  resumed: number | undefined;
}

interface Ctx {
  opts: Options;
  switchyard: RunningServer;
  haproxy: RunningServer;
  adminPort: number;
  statsSocket: string;
  meter: ForeignMeter;
  tlsArgs: string[];
}

function proxyPid(ctx: Ctx, s: SystemId): number {
  return s === "switchyard" ? ctx.switchyard.pid : ctx.haproxy.pid;
}

async function counters(ctx: Ctx, v: Variant): Promise<Counters> {
  if (v.system === "switchyard") {
    const text = await switchyardMetrics(ctx.adminPort);
    return {
      connections: metricSum(text, "switchyard_client_connections_total", { listener: v.entry }),
      handshakes: metricSum(text, "switchyard_tls_handshakes_total", { listener: v.entry, result: "ok" }),
      resumed: undefined,
    };
  }
  const f = (await haproxyFrontendStats(ctx.statsSocket)).get(v.entry);
  if (!f) throw new Error(`HAProxy frontend ${v.entry} missing from show stat`);
  return {
    connections: Number(f.conn_tot ?? f.stot ?? NaN),
    handshakes: Number(f.ssl_sess ?? 0),
    resumed: Number(f.ssl_reused_sess ?? 0),
  };
}

// ---------------------------------------------------------------- runs

interface RunSample {
  scenario: ScenarioId;
  system: SystemId;
  mode: Mode;
  round: number;
  ok: boolean;
  error?: string;
  reqPerSec: number;
  /** Requests completed in the measured window. */
  done: number;
  /** handshakes: connections h2load made (= requests, one each). */
  connections: number;
  /** handshakes: connections per second achieved, against the rate asked for. */
  connPerSec: number;
  /** Proxy CPU over the measured window (schedstat run time of its threads). */
  cpuMs: number;
  /** The same from utime + stime (clock ticks), for comparison. */
  cpuTicksMs: number;
  cpuUsPerReq: number;
  /** handshakes: proxy CPU per connection. */
  cpuUsPerConn: number;
  handshakesPerCpuSec: number;
  /** Proxy CPU over the wall time of the run (1 = one core). */
  proxyShare: number;
  coreBusy: number[];
  foreign: number;
  /** Counter deltas over the run. */
  accepted: number;
  handshakes: number;
  resumed: number | undefined;
  tls: TlsParams;
  attempts: number;
}

/** -r / --rate-period for `rate` connections per second (h2load takes a whole number per period). */
function rateArgs(rate: number): { args: string[]; effective: number } {
  if (rate >= 100) {
    const per = Math.round(rate / 100);
    return { args: ["-r", String(per), "--rate-period", "10ms"], effective: per * 100 };
  }
  const periodMs = Math.round(1000 / rate);
  return { args: ["-r", "1", "--rate-period", `${periodMs}ms`], effective: 1000 / periodMs };
}

function loadFor(ctx: Ctx, scenario: ScenarioId, v: Variant, scale = 1): H2loadOptions {
  const { opts } = ctx;
  const tlsArgs = v.mode === "tls" || v.mode === "tls-h1" ? ctx.tlsArgs : [];
  if (scenario === "requests") {
    return {
      url: v.url,
      clients: opts.clients,
      streams: opts.streams,
      durationSec: Math.max(1, Math.round(opts.seconds * scale)),
      warmupSec: opts.warmupSec,
      extraArgs: v.mode === "tls-h1" ? ["--h1", ...tlsArgs] : tlsArgs,
    };
  }
  const n = Math.max(10, Math.round(opts.connections * scale));
  return {
    url: v.url,
    clients: n,
    requests: n,
    streams: 1,
    extraArgs: [...rateArgs(opts.rate).args, ...tlsArgs],
    timeoutMs: (n / opts.rate) * 1000 * 3 + 20_000,
  };
}

/** The resumption scenario's load in h2load's terms: one "request" per handshake; `resumed` counted by the client. */
async function handshakeRun(ctx: Ctx, v: Variant, scale: number): Promise<H2loadResult & { resumed: number }> {
  const h = await runHandshakeLoad({
    port: v.port,
    connections: Math.max(10, Math.round(ctx.opts.connections * scale)),
    concurrency: 4,
    resume: v.mode === "resumed",
    ciphers: CIPHER,
  });
  return {
    ok: h.ok,
    error: h.error,
    requests: { done: h.done, succeeded: h.done },
    reqPerSec: h.wallMs > 0 ? h.done / (h.wallMs / 1000) : 0,
    durationMs: h.wallMs,
    stdout: "",
    resumed: h.resumed,
  } as unknown as H2loadResult & { resumed: number };
}

async function runOnce(ctx: Ctx, scenario: ScenarioId, v: Variant, round: number, scale = 1): Promise<RunSample> {
  const pid = proxyPid(ctx, v.system);
  const load = loadFor(ctx, scenario, v, scale);
  const c0 = await counters(ctx, v);
  const whole = ctx.meter.mark();
  const cpu = () => ({ precise: processCpuPreciseMs(pid), ticks: treeCpuMs(pid) });
  let cpu0 = cpu();
  let t0 = performance.now();
  const running = scenario === "resumption" ? handshakeRun(ctx, v, scale) : runH2load(load);
  if (load.warmupSec) {
    // h2load counts only the requests after its warm-up (in which it connects): CPU over the same window.
    await sleep(load.warmupSec * 1000);
    cpu0 = cpu();
    t0 = performance.now();
  }
  const r: H2loadResult = await running;
  const cpu1 = cpu();
  const cpuMs = cpu1.precise - cpu0.precise;
  const wallMs = performance.now() - t0;
  const machine = ctx.meter.since(whole);
  const c1 = await counters(ctx, v);
  const done = r.requests.done;
  const connections = scenario === "requests" ? 0 : done;
  let error = r.ok ? undefined : r.error;
  // h2load --h1 records a status only when the status line has a reason phrase, and HAProxy sends none ("HTTP/1.1 200 ")
  // for responses from h2 servers: there, a request done without a stream or connection error counts as served.
  const served = v.mode === "tls-h1" ? done - r.requests.errored - r.requests.timeout : r.requests.succeeded;
  if (!error && served < done) error = `${done - served} of ${done} requests failed`;
  const proxy = v.system === "switchyard" ? ctx.switchyard : ctx.haproxy;
  if (proxy.process.hasExited()) error = `${LABEL[v.system]} exited (${proxy.process.exitStatus()})`;
  return {
    scenario,
    system: v.system,
    mode: v.mode,
    round,
    ok: error === undefined,
    error,
    reqPerSec: r.reqPerSec,
    done,
    connections,
    connPerSec: scenario !== "requests" && r.durationMs > 0 ? done / (r.durationMs / 1000) : NaN,
    cpuMs,
    cpuTicksMs: cpu1.ticks - cpu0.ticks,
    cpuUsPerReq: done > 0 ? (cpuMs * 1000) / done : NaN,
    cpuUsPerConn: connections > 0 ? (cpuMs * 1000) / connections : NaN,
    handshakesPerCpuSec: connections > 0 && cpuMs > 0 ? connections / (cpuMs / 1000) : NaN,
    proxyShare: cpuMs / wallMs,
    coreBusy: machine.coreBusy,
    foreign: machine.foreign,
    accepted: c1.connections - c0.connections,
    handshakes: c1.handshakes - c0.handshakes,
    resumed: "resumed" in r ? (r.resumed as number) : c1.resumed === undefined || c0.resumed === undefined ? undefined : c1.resumed - c0.resumed,
    tls: v.mode === "tls" || v.mode === "tls-h1" ? parseH2loadTls(r.stdout) : {},
    attempts: 1,
  };
}

// ---------------------------------------------------------------- report

interface Cell {
  system: SystemId;
  mode: Mode;
  runs: number;
  reqPerSec: number;
  cpuUsPerReq: number;
  cpuUsPerConn: number;
  /** Lowest and highest of the runs' CPU per request (requests) or per connection (handshakes). */
  cpuMin: number;
  cpuMax: number;
  handshakesPerCpuSec: number;
  connPerSec: number;
  proxyShare: number;
  foreign: number;
  accepted: number;
  handshakes: number;
  resumed: number | undefined;
  connections: number;
  tls: TlsParams;
  errors: string[];
}

function summarize(samples: readonly RunSample[], scenario: ScenarioId, system: SystemId, mode: Mode): Cell {
  const all = samples.filter((x) => x.scenario === scenario && x.system === system && x.mode === mode);
  const s = all.filter((x) => x.ok);
  const resumed = s.map((x) => x.resumed);
  const perUnit = s.map((x) => (scenario === "requests" ? x.cpuUsPerReq : x.cpuUsPerConn));
  return {
    system,
    mode,
    runs: s.length,
    reqPerSec: median(s.map((x) => x.reqPerSec)),
    cpuUsPerReq: median(s.map((x) => x.cpuUsPerReq)),
    cpuUsPerConn: median(s.map((x) => x.cpuUsPerConn)),
    cpuMin: Math.min(...perUnit),
    cpuMax: Math.max(...perUnit),
    // The median of a ratio is the ratio of the median: keep the two consistent.
    handshakesPerCpuSec: 1e6 / median(s.map((x) => x.cpuUsPerConn)),
    connPerSec: median(s.map((x) => x.connPerSec)),
    proxyShare: median(s.map((x) => x.proxyShare)),
    foreign: median(s.map((x) => x.foreign)),
    accepted: s.reduce((n, x) => n + x.accepted, 0),
    handshakes: s.reduce((n, x) => n + x.handshakes, 0),
    resumed: resumed.every((x) => x !== undefined) ? resumed.reduce((n, x) => n + x!, 0) : undefined,
    connections: s.reduce((n, x) => n + x.connections, 0),
    tls: s.find((x) => x.tls.cipher)?.tls ?? {},
    errors: all.filter((x) => !x.ok).map((x) => x.error ?? "failed"),
  };
}

const pct = (x: number): string => (Number.isFinite(x) ? `${(x * 100).toFixed(0)}%` : "-");
const status = (c: Cell): string =>
  c.errors.length === 0 ? "ok" : `${c.runs === 0 ? "FAILED" : `${c.errors.length} run(s) failed`}: ${c.errors[0]!.replace(/\|/g, "/").slice(0, 100)}`;
const spanUs = (r: [number, number]): string => (Number.isFinite(r[0]) ? `${fmtNum(r[0])}-${fmtNum(r[1])}` : "-");
/** Runs further apart than this ((max - min) / median) are flagged: the machine disturbed them, the median is less sure. */
const SPREAD_FLAG = 0.2;
const range = (c: Cell, digits: number): string => {
  if (c.runs === 0) return "-";
  const mid = [c.cpuUsPerReq, c.cpuUsPerConn].find((x) => Number.isFinite(x)) ?? NaN;
  const spread = (c.cpuMax - c.cpuMin) / mid;
  return `${fmtNum(c.cpuMin, digits)}-${fmtNum(c.cpuMax, digits)}${spread > SPREAD_FLAG ? ` (spread ${pct(spread)}!)` : ""}`;
};
const tlsText = (t: TlsParams): string => (t.cipher ? `${t.protocol ?? "?"} ${t.cipher}, ${t.tempKey ?? "?"}, ALPN ${t.alpn ?? "-"}` : "-");

interface Result {
  requests?: { cells: Cell[]; tlsVsHaproxy: number; h2cVsHaproxy: number; tlsOverH2c: Record<SystemId, number>; tlsH1VsHaproxy: number };
  resumption?: { cells: Cell[]; fullVsHaproxy: number; resumedVsHaproxy: number };
  handshakes?: {
    cells: Cell[];
    tlsVsHaproxy: number;
    h2cVsHaproxy: number;
    /** Proxy CPU per connection, TLS minus h2c: the handshake and the record layer of one request. */
    handshakeUs: Record<SystemId, number>;
    /** The same difference within each round (the runs of a round are minutes apart at most): lowest and highest. */
    handshakeUsRange: Record<SystemId, [number, number]>;
    handshakeVsHaproxy: number;
    mtlsVsHaproxy: number;
    /** mTLS minus TLS through the same relay: verifying the client certificate. */
    clientCertUs: Record<SystemId, number>;
  };
  probes: Record<string, TicketProbe>;
}

function cellOf(cells: readonly Cell[], system: SystemId, mode: Mode): Cell | undefined {
  return cells.find((c) => c.system === system && c.mode === mode);
}

function renderRequests(opts: Options, r: NonNullable<Result["requests"]>): string {
  const rows = r.cells.map((c) => {
    const hap = cellOf(r.cells, "haproxy", c.mode);
    const h2c = cellOf(r.cells, c.system, "h2c");
    return [
      LABEL[c.system],
      MODE_LABEL[c.mode],
      fmtNum(c.reqPerSec),
      fmtNum(c.cpuUsPerReq, 2),
      range(c, 2),
      fmtRatio(ratio(c.cpuUsPerReq, hap?.cpuUsPerReq)),
      c.mode === "h2c" ? "-" : fmtRatio(ratio(c.cpuUsPerReq, h2c?.cpuUsPerReq)),
      pct(c.proxyShare),
      pct(c.foreign),
      tlsText(c.tls),
      status(c),
    ];
  });
  return [
    `h2load -c ${opts.clients} -m ${opts.streams} -D ${opts.seconds} --warm-up-time=${opts.warmupSec}; CPU from the end of the warm-up (connections and handshakes are made in it) to h2load's exit. Medians of ${opts.rounds} interleaved round(s).`,
    "",
    table(["system", "clients", "req/s", "CPU us/req", "min-max", "CPU/req vs HAProxy", "CPU/req TLS vs h2c", "proxy CPU", "foreign CPU", "negotiated (h2load)", "status"], rows),
    "",
    `- CPU per request, Switchyard / HAProxy: TLS **${fmtRatio(r.tlsVsHaproxy)}**, h2c ${fmtRatio(r.h2cVsHaproxy)}`,
    `- CPU per request, TLS / h2c: Switchyard **${fmtRatio(r.tlsOverH2c.switchyard)}**, HAProxy ${fmtRatio(r.tlsOverH2c.haproxy)}`,
    `- CPU per request with HTTP/1.1 clients over TLS (h2load --h1, keep-alive), Switchyard / HAProxy: **${fmtRatio(r.tlsH1VsHaproxy)}**`,
  ].join("\n");
}

function renderHandshakes(opts: Options, r: NonNullable<Result["handshakes"]>): string {
  const effective = rateArgs(opts.rate).effective;
  const rows = r.cells.map((c) => {
    const hap = cellOf(r.cells, "haproxy", c.mode);
    return [
      LABEL[c.system],
      MODE_LABEL[c.mode],
      fmtNum(c.connPerSec),
      fmtNum(c.cpuUsPerConn, 1),
      range(c, 0),
      fmtNum(c.handshakesPerCpuSec),
      fmtRatio(ratio(c.handshakesPerCpuSec, hap?.handshakesPerCpuSec)),
      pct(c.proxyShare),
      pct(c.foreign),
      `${fmtNum(c.connections)} / ${fmtNum(c.accepted)} / ${c.mode === "h2c" ? "-" : fmtNum(c.handshakes)} / ${c.resumed === undefined || c.mode === "h2c" ? "-" : fmtNum(c.resumed)}`,
      status(c),
    ];
  });
  const lines = [
    `h2load -c ${fmtNum(opts.connections)} -n ${fmtNum(opts.connections)} -m 1 at ${fmtNum(effective)} new connections/s (${rateArgs(opts.rate).args.join(" ")}): each connection makes one request and closes. "per CPU-second" = connections / proxy CPU seconds over the run (handshake, HTTP/2 setup, one proxied request, close). Medians of ${opts.rounds} interleaved round(s).`,
    "",
    table(
      ["system", "clients", "conn/s", "CPU us/conn", "min-max", "conn per CPU-second", "vs HAProxy", "proxy CPU", "foreign CPU", "made / accepted / handshakes / resumed", "status"],
      rows,
    ),
    "",
    `- Handshakes per CPU-second (TLS, one request each), Switchyard / HAProxy: **${fmtRatio(r.tlsVsHaproxy)}**; the same connections over h2c: ${fmtRatio(r.h2cVsHaproxy)}`,
    `- The handshake alone (CPU per TLS connection minus per h2c connection, medians): Switchyard ${fmtNum(r.handshakeUs.switchyard)} us, HAProxy ${fmtNum(r.handshakeUs.haproxy)} us (**${fmtRatio(r.handshakeVsHaproxy)}**), i.e. ${fmtNum(1e6 / r.handshakeUs.switchyard)} and ${fmtNum(1e6 / r.handshakeUs.haproxy)} handshakes per CPU-second; the same difference within each round: Switchyard ${spanUs(r.handshakeUsRange.switchyard)} us, HAProxy ${spanUs(r.handshakeUsRange.haproxy)} us`,
  ];
  if (Number.isFinite(r.mtlsVsHaproxy)) {
    lines.push(
      `- With client certificates (mTLS, through the relay), Switchyard / HAProxy: **${fmtRatio(r.mtlsVsHaproxy)}**; verifying the client certificate (mTLS minus TLS through the relay): Switchyard ${fmtNum(r.clientCertUs.switchyard)} us, HAProxy ${fmtNum(r.clientCertUs.haproxy)} us per connection`,
    );
  }
  return lines.join("\n");
}

function renderResumption(opts: Options, r: NonNullable<Result["resumption"]>): string {
  const rows = r.cells.map((c) => {
    const hap = cellOf(r.cells, "haproxy", c.mode);
    return [
      LABEL[c.system],
      MODE_LABEL[c.mode],
      fmtNum(c.connPerSec),
      fmtNum(c.cpuUsPerConn, 1),
      range(c, 0),
      fmtNum(c.handshakesPerCpuSec),
      fmtRatio(ratio(c.handshakesPerCpuSec, hap?.handshakesPerCpuSec)),
      `${fmtNum(c.connections)} / ${c.resumed === undefined ? "-" : fmtNum(c.resumed)}`,
      status(c),
    ];
  });
  return [
    `${fmtNum(opts.connections)} TLS 1.3 connections per run, 4 at a time, from a Node client (tls/handshake-client.ts) that closes each one when the first session ticket arrives, no request; "resumed": every connection offers the last ticket received. Medians of ${opts.rounds} interleaved round(s).`,
    "",
    table(["system", "handshakes", "conn/s", "CPU us/conn", "min-max", "per CPU-second", "vs HAProxy", "made / resumed", "status"], rows),
    "",
    `- Full handshakes per CPU-second, Switchyard / HAProxy: **${fmtRatio(r.fullVsHaproxy)}**; resumed: **${fmtRatio(r.resumedVsHaproxy)}**`,
  ].join("\n");
}

function render(opts: Options, result: Result, samples: readonly RunSample[]): string {
  const parts: string[] = [];
  if (result.requests) parts.push("### Long-lived connections: CPU per request", "", renderRequests(opts, result.requests), "");
  if (result.handshakes) parts.push("### New connections: handshakes per CPU-second", "", renderHandshakes(opts, result.handshakes), "");
  if (result.resumption) parts.push("### Session resumption: full and resumed handshakes per CPU-second", "", renderResumption(opts, result.resumption), "");
  const probes = Object.entries(result.probes).map(([name, p]) =>
    `${name}: ${p.ok ? `${p.protocol} ${p.cipher}, ${p.group ?? "?"}, ALPN ${p.alpn ?? "-"}, ${p.tickets} session ticket(s) per handshake` : `probe failed: ${p.error}`}`,
  );
  parts.push(`Session tickets (one connection per TLS port, Node's client offering ${CIPHER} only): ${probes.join("; ")}.`, "");
  parts.push(
    "Per run:",
    "",
    table(
      ["scenario", "round", "system", "clients", "req/s", "CPU us/req", "CPU us/conn", "proxy CPU", "core busy (0 / 1)", "foreign CPU", "attempts", "status"],
      samples.map((x) => [
        x.scenario,
        String(x.round),
        LABEL[x.system],
        MODE_LABEL[x.mode],
        fmtNum(x.reqPerSec),
        x.scenario === "requests" ? fmtNum(x.cpuUsPerReq, 2) : "-",
        x.scenario !== "requests" ? fmtNum(x.cpuUsPerConn, 1) : "-",
        pct(x.proxyShare),
        x.coreBusy.map(pct).join(" / "),
        pct(x.foreign),
        String(x.attempts),
        x.ok ? "ok" : `FAILED: ${(x.error ?? "").replace(/\|/g, "/").slice(0, 100)}`,
      ]),
    ),
  );
  return parts.join("\n");
}

function docMarkdown(machine: MachineInfo, command: string, opts: Options, pinned: string, body: string): string {
  return `## TLS: Switchyard vs HAProxy terminating the same TLS

Machine:

${machineMarkdown(machine)}

Command: \`${command}\`

What it measures: the CPU each proxy spends terminating TLS, beside the same
proxy serving h2c, in one run. Both proxies present one ECDSA P-256
certificate (made with openssl at the start, signed by a CA made with it),
accept TLS 1.3 only and negotiate ALPN h2; h2load offers only
${CIPHER} (\`--tls13-ciphers\`, HAProxy also allows only that suite:
\`ciphersuites\`), and both pick X25519, which the table shows as h2load
reports it. Switchyard: \`run --config\`, listeners \`protocol: http2\` with
\`tls: { cert, key, minVersion: TLSv1.3, alpn: [h2] }\` (and \`clientCa\` for
mTLS), one h2c listener, the admin server on. HAProxy: \`nbthread 1\`, one
frontend per kind of client (\`bind ... ssl crt PEM alpn h2 ssl-min-ver
TLSv1.3 ciphersuites ${CIPHER} proto h2\`, mTLS with \`ca-file ... verify
required\`), the settings of the proxy benchmark otherwise. Both proxy h2c to
the same nginx (2 ports, "ok"), round-robin. ${pinned}.

- CPU of a proxy: the run time of its threads over the measured window, from
  \`/proc/PID/task/*/schedstat\` (the time utime+stime count, without their
  rounding to 10 ms ticks, which would be several percent of a run here; the
  JSON results keep utime+stime beside it).
- Long-lived connections: CPU per request (proxy CPU over the measured
  window / requests), TLS and h2c. h2load and nginx share one core and
  each proxy has the other, so req/s is capped by whichever saturates first
  ("proxy CPU" shows how close each proxy came): CPU per request is the
  figure, req/s is context.
- New connections: every connection does one full handshake. h2load keeps
  no session to resume (HAProxy's \`ssl_reused_sess\` stays 0 for the same
  clients; Switchyard counts handshakes, \`switchyard_tls_handshakes_total\`,
  not resumptions apart), and both proxies issue session tickets after each
  handshake, which nobody uses: that work is in the figures, as it is for
  real clients. "made / accepted / handshakes / resumed" are h2load's
  connections and the proxy's own counters over the runs. h2load cannot
  present a client certificate, so mTLS runs go through a relay: HAProxy on
  core 1 as a TLS client (one TLS connection to the proxy per h2c connection
  from h2load, \`no-ssl-reuse\`, \`http-reuse never\`, the client certificate
  from the same CA). The relay's TLS without a client certificate is measured
  too, so the cost of the client certificate is a difference between two runs
  with the same client.
- "foreign CPU": CPU the cores gave to processes outside the bench during a
  run (\`/proc/stat\` busy time minus the bench's processes), in share of one
  core. A run above ${pct(opts.maxForeign)} is measured again (at most ${opts.retries} more times
  per run, ${opts.rounds * 2} in all), keeping the least disturbed attempt.

${body}
`;
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const tools = requireTools([
    { name: "h2load", pkg: "nghttp2-client" },
    { name: "haproxy", pkg: "haproxy" },
    { name: "nginx", pkg: "nginx-light" },
    { name: "openssl", pkg: "openssl" },
    ...(opts.pin ? [{ name: "taskset", pkg: "util-linux" }] : []),
  ]);
  // Before pinning: from then on this process sees one core.
  const machine = await machineInfo();
  let pinned = "Not pinned (--no-pin)";
  if (opts.pin && machine.cores < 2) {
    opts.pin = false;
    pinned = `Not pinned (${machine.cores} core)`;
  }
  if (opts.pin) {
    pinProcess(tools.taskset!, process.pid, "0");
    pinned = "Both proxies are pinned to core 1; h2load, the handshake client, nginx, the relay and the bench process to core 0";
  }
  const help = await runToCompletion("h2load", h2loadBinary(), ["--help"], 5000);
  const tlsArgs = /--tls13-ciphers/.test(help.stdout + help.stderr) ? [`--tls13-ciphers=${CIPHER}`] : [];
  if (tlsArgs.length === 0) log(`this h2load has no --tls13-ciphers: the cipher is whatever the proxies prefer`);
  log(`machine: ${machine.cpuModel}, ${machine.cores} cores; node ${machine.node}; ${machine.haproxy}; ${machine.h2load}; ${pinned}`);

  const certs = makeBenchCertificates();
  process.on("exit", () => certs.cleanup());
  const dir = makeTempDir("tls");
  const statsSocket = path.join(dir, "haproxy.sock");
  const [b1, b2, syPlain, syTls, syMtls, adminPort, hPlain, hTls, hMtls, rSyTls, rSyMtls, rHTls, rHMtls, syTlsH1, hTlsH1] = await freePorts(15);
  const backends = [
    { host: "127.0.0.1", port: b1! },
    { host: "127.0.0.1", port: b2! },
  ];
  const nginx = await startNginxBackend({ ports: [b1!, b2!] });

  const serverTls = { cert: certs.server.cert, key: certs.server.key, minVersion: "TLSv1.3" as const, alpn: ["h2"] };
  const switchyard = await startSwitchyard({
    port: syPlain!,
    nodeArgs: opts.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${opts.cpuProfDir}`] : [],
    configYaml: switchyardTlsConfigYaml({
      adminPort: adminPort!,
      backends,
      listeners: [
        { name: "plain", port: syPlain! },
        { name: "tls", port: syTls!, tls: serverTls },
        { name: "mtls", port: syMtls!, tls: { ...serverTls, clientCa: certs.ca.cert } },
        { name: "tlsh1", port: syTlsH1!, protocol: "http1", tls: { ...serverTls, alpn: ["http/1.1"] } },
      ],
    }),
  });
  for (const p of [syTls!, syMtls!, syTlsH1!, adminPort!]) await waitForPort("127.0.0.1", p, 15_000, switchyard.process);
  const haproxyTls = { pem: certs.serverPem, alpn: ["h2"], minVersion: "TLSv1.3" as const, ciphersuites: CIPHER };
  const haproxy = await startHaproxy({
    port: hPlain!,
    backends,
    balance: "roundrobin",
    statsSocket,
    frontends: [
      { name: "tls", port: hTls!, tls: haproxyTls },
      { name: "mtls", port: hMtls!, tls: { ...haproxyTls, clientCa: certs.ca.cert } },
      { name: "tlsh1", port: hTlsH1!, http1: true, tls: { ...haproxyTls, alpn: ["http/1.1"] } },
    ],
  });
  if (opts.pin) for (const pid of [switchyard.pid, haproxy.pid]) pinProcess(tools.taskset!, pid, "1");
  const wantRelay = opts.mtls && opts.scenarios.includes("handshakes");
  const relay = wantRelay
    ? await startTlsRelay([
        { port: rSyTls!, target: { host: "127.0.0.1", port: syTls! }, ciphersuites: CIPHER },
        { port: rSyMtls!, target: { host: "127.0.0.1", port: syMtls! }, ciphersuites: CIPHER, clientPem: certs.clientPem },
        { port: rHTls!, target: { host: "127.0.0.1", port: hTls! }, ciphersuites: CIPHER },
        { port: rHMtls!, target: { host: "127.0.0.1", port: hMtls! }, ciphersuites: CIPHER, clientPem: certs.clientPem },
      ])
    : undefined;
  log(`Switchyard (admin http://127.0.0.1:${adminPort}), HAProxy${relay ? ", relay" : ""} and nginx started`);

  const probes: Record<string, TicketProbe> = {
    "Switchyard TLS": await probeTls("127.0.0.1", syTls!, { ciphers: CIPHER }),
    "HAProxy TLS": await probeTls("127.0.0.1", hTls!, { ciphers: CIPHER }),
    "Switchyard mTLS": await probeTls("127.0.0.1", syMtls!, { ciphers: CIPHER, cert: certs.client.certPem, key: certs.client.keyPem }),
    "HAProxy mTLS": await probeTls("127.0.0.1", hMtls!, { ciphers: CIPHER, cert: certs.client.certPem, key: certs.client.keyPem }),
  };
  for (const [name, p] of Object.entries(probes)) log(`  ${name}: ${p.ok ? `${p.protocol} ${p.cipher} ${p.group} ALPN ${p.alpn}, ${p.tickets} ticket(s)` : `FAILED: ${p.error}`}`);

  const ours = () => [switchyard.pid, haproxy.pid, nginx.pid, ...(relay ? [relay.pid] : [])];
  const ctx: Ctx = { opts, switchyard, haproxy, adminPort: adminPort!, statsSocket, meter: new ForeignMeter(ours), tlsArgs };

  const variant = (system: SystemId, mode: Mode): Variant => {
    const port =
      system === "switchyard"
        ? { h2c: syPlain, tls: syTls, "tls-h1": syTlsH1, h1: undefined, resumed: syTls, "relay-tls": rSyTls, "relay-mtls": rSyMtls }[mode]
        : { h2c: hPlain, tls: hTls, "tls-h1": hTlsH1, h1: undefined, resumed: hTls, "relay-tls": rHTls, "relay-mtls": rHMtls }[mode];
    const entry = { h2c: system === "switchyard" ? "plain" : "fe", tls: "tls", "tls-h1": "tlsh1", h1: "", resumed: "tls", "relay-tls": "tls", "relay-mtls": "mtls" }[mode];
    const https = mode === "tls" || mode === "tls-h1" || mode === "resumed";
    return { system, mode, url: `${https ? "https" : "http"}://127.0.0.1:${port}/`, entry, port: port! };
  };
  const plan: Array<{ scenario: ScenarioId; variants: Variant[] }> = [];
  if (opts.scenarios.includes("requests")) {
    plan.push({ scenario: "requests", variants: REQUEST_MODES.flatMap((m) => SYSTEMS.map((s) => variant(s, m))) });
  }
  if (opts.scenarios.includes("handshakes")) {
    const modes: Mode[] = ["tls", "h2c", ...(relay ? (["relay-tls", "relay-mtls"] as const) : [])];
    plan.push({ scenario: "handshakes", variants: modes.flatMap((m) => SYSTEMS.map((s) => variant(s, m))) });
  }
  if (opts.scenarios.includes("resumption")) {
    plan.push({ scenario: "resumption", variants: RESUMPTION_MODES.flatMap((m) => SYSTEMS.map((s) => variant(s, m))) });
  }

  // Warm-up, not measured: JIT, pools, the upstream connections, every path once.
  log("warm-up (not measured)");
  for (const { scenario, variants } of plan) {
    for (const v of variants) {
      const w = await runOnce(ctx, scenario, v, 0, scenario === "requests" ? 0.25 : 0.2);
      if (!w.ok) log(`  warm-up ${scenario} ${LABEL[v.system]} ${MODE_LABEL[v.mode]}: ${w.error}`);
    }
  }

  const samples: RunSample[] = [];
  let retryBudget = opts.retries > 0 ? opts.rounds * 2 : 0;
  let remeasured = 0;
  let quietWaitMs = 0;
  const quietBudget = () => Math.max(0, opts.quietWaitSec * 1000 - quietWaitMs);
  const waitQuiet = async () => {
    // A short look first: most of the time the cores are free and waiting a whole second per run adds up.
    if (quietBudget() === 0 || (await ctx.meter.sample(300)) <= opts.maxForeign) return;
    quietWaitMs += await ctx.meter.waitQuiet(opts.maxForeign, quietBudget(), (f) =>
      log(`  waiting for other processes to leave the cores (${pct(f)} of a core now)`),
    );
  };
  for (const { scenario, variants } of plan) {
    for (let round = 1; round <= opts.rounds; round++) {
      // Forward in odd rounds, backward in even ones: a drift of the machine weighs on all variants alike.
      const order = round % 2 === 1 ? variants : [...variants].reverse();
      for (const v of order) {
        await waitQuiet();
        let s = await runOnce(ctx, scenario, v, round);
        for (let attempt = 1; s.ok && s.foreign > opts.maxForeign && attempt <= opts.retries && retryBudget > 0; attempt++) {
          retryBudget--;
          remeasured++;
          log(`  ${scenario} ${round}/${opts.rounds} ${LABEL[v.system]} ${MODE_LABEL[v.mode]} disturbed (foreign CPU ${pct(s.foreign)} of a core): measuring again`);
          await waitQuiet();
          const again = await runOnce(ctx, scenario, v, round);
          s = { ...(again.ok && again.foreign < s.foreign ? again : s), attempts: attempt + 1 };
        }
        samples.push(s);
        log(
          `  ${scenario} ${round}/${opts.rounds} ${LABEL[v.system].padEnd(10)} ${MODE_LABEL[v.mode].padEnd(14)} ${fmtNum(s.reqPerSec).padStart(7)} req/s ` +
            (scenario === "requests" ? `${fmtNum(s.cpuUsPerReq, 2).padStart(6)} us/req` : `${fmtNum(s.cpuUsPerConn, 1).padStart(7)} us/conn`) +
            ` proxy ${pct(s.proxyShare).padStart(4)} cores ${s.coreBusy.map(pct).join("/")} foreign ${pct(s.foreign)}` +
            (scenario !== "requests" ? ` accepted ${s.accepted} handshakes ${s.handshakes}${s.resumed === undefined ? "" : ` resumed ${s.resumed}`}` : "") +
            (s.ok ? "" : `  FAILED: ${s.error}`),
        );
      }
    }
  }
  const rss = { switchyard: treeRssKb(switchyard.pid), haproxy: treeRssKb(haproxy.pid) };
  if (opts.cpuProfDir) {
    await stopProcess(switchyard.process, 30_000);
    log(`CPU profile written to ${opts.cpuProfDir}`);
  }

  const result: Result = { probes };
  if (opts.scenarios.includes("requests")) {
    const cells = REQUEST_MODES.flatMap((m) => SYSTEMS.map((s) => summarize(samples, "requests", s, m)));
    const c = (s: SystemId, m: Mode) => cellOf(cells, s, m)?.cpuUsPerReq;
    result.requests = {
      cells,
      tlsVsHaproxy: ratio(c("switchyard", "tls"), c("haproxy", "tls")),
      h2cVsHaproxy: ratio(c("switchyard", "h2c"), c("haproxy", "h2c")),
      tlsOverH2c: { switchyard: ratio(c("switchyard", "tls"), c("switchyard", "h2c")), haproxy: ratio(c("haproxy", "tls"), c("haproxy", "h2c")) },
      tlsH1VsHaproxy: ratio(c("switchyard", "tls-h1"), c("haproxy", "tls-h1")),
    };
  }
  if (opts.scenarios.includes("resumption")) {
    const cells = RESUMPTION_MODES.flatMap((m) => SYSTEMS.map((s) => summarize(samples, "resumption", s, m)));
    const u = (s: SystemId, m: Mode) => cellOf(cells, s, m)?.cpuUsPerConn ?? NaN;
    result.resumption = {
      cells,
      fullVsHaproxy: ratio(u("haproxy", "tls"), u("switchyard", "tls")),
      resumedVsHaproxy: ratio(u("haproxy", "resumed"), u("switchyard", "resumed")),
    };
  }
  if (opts.scenarios.includes("handshakes")) {
    const modes: Mode[] = ["tls", "h2c", ...(relay ? (["relay-tls", "relay-mtls"] as const) : [])];
    const cells = modes.flatMap((m) => SYSTEMS.map((s) => summarize(samples, "handshakes", s, m)));
    const u = (s: SystemId, m: Mode) => cellOf(cells, s, m)?.cpuUsPerConn ?? NaN;
    const handshakeUs = { switchyard: u("switchyard", "tls") - u("switchyard", "h2c"), haproxy: u("haproxy", "tls") - u("haproxy", "h2c") };
    const perRound = (system: SystemId): [number, number] => {
      const d: number[] = [];
      for (let round = 1; round <= opts.rounds; round++) {
        const at = (mode: Mode) => samples.find((x) => x.scenario === "handshakes" && x.system === system && x.mode === mode && x.round === round && x.ok);
        const tls = at("tls");
        const h2c = at("h2c");
        if (tls && h2c) d.push(tls.cpuUsPerConn - h2c.cpuUsPerConn);
      }
      return d.length ? [Math.min(...d), Math.max(...d)] : [NaN, NaN];
    };
    result.handshakes = {
      cells,
      handshakeUsRange: { switchyard: perRound("switchyard"), haproxy: perRound("haproxy") },
      tlsVsHaproxy: ratio(u("haproxy", "tls"), u("switchyard", "tls")),
      h2cVsHaproxy: ratio(u("haproxy", "h2c"), u("switchyard", "h2c")),
      handshakeUs,
      handshakeVsHaproxy: ratio(handshakeUs.switchyard, handshakeUs.haproxy),
      mtlsVsHaproxy: ratio(u("haproxy", "relay-mtls"), u("switchyard", "relay-mtls")),
      clientCertUs: {
        switchyard: u("switchyard", "relay-mtls") - u("switchyard", "relay-tls"),
        haproxy: u("haproxy", "relay-mtls") - u("haproxy", "relay-tls"),
      },
    };
  }
  const disturbed = samples.filter((x) => x.foreign > opts.maxForeign).length;
  const body = [
    `Measured ${new Date().toISOString()}; ${pinned.toLowerCase()}; runs measured again for foreign CPU above ${pct(opts.maxForeign)}: ${remeasured}, kept above it: ${disturbed}; waited ${fmtNum(quietWaitMs / 1000)} s for quiet cores. RSS after the runs: Switchyard ${fmtMiB(rss.switchyard)}, HAProxy ${fmtMiB(rss.haproxy)}.`,
    "",
    render(opts, result, samples),
  ].join("\n");
  process.stdout.write(`\n${body}\n`);
  if (samples.every((x) => !x.ok)) throw new Error("no run could be measured");
  if (!opts.write) return;
  const command = commandLine("bench:tls");
  const jsonFile = path.join(resultsDir, "tls.json");
  writeJson(jsonFile, { bench: "tls", machine, command, options: opts, result, samples });
  updateDocSection("tls", docMarkdown(machine, command, opts, pinned, body));
  log(`wrote ${path.relative(repoRoot, jsonFile)} and ${path.relative(repoRoot, benchmarksDoc)}`);
}

runBenchMain(main);
