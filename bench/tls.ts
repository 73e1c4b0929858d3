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
import { ForeignMeter, pinProcess, processCpuPreciseMs } from "./lib/cores.js";
import { runBenchMain } from "./lib/entry.js";
import { runHandshakeLoad } from "./tls/handshake-load.js";
import { parseArgs, rateArgs, type Options, type ScenarioId } from "./tls/options.js";
import { cellOf, docMarkdown, pct, render, summarize, type Result } from "./tls/report.js";
import { CIPHER, LABEL, MODE_LABEL, REQUEST_MODES, RESUMPTION_MODES, SYSTEMS, type Mode, type RunSample, type SystemId, type Variant } from "./tls/types.js";
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
  log,
  machineInfo,
  ratio,
  resultsDir,
  updateDocSection,
  writeJson,
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
} from "./lib/tls-setup.js";

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
