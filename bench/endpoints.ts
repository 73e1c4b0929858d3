/**
 * Many endpoints: CPU per request and memory against the endpoint count.
 *
 * One nginx process listens on N loopback ports (N endpoints of one
 * service). For each N, Switchyard (`run --config`, optionally a second
 * build given with --before) and HAProxy (same servers, roundrobin) take
 * `h2load -c 8 -m 100 -n REQUESTS` in interleaved rounds; the proxy is
 * pinned to one core, nginx and h2load to the other. Printed per system
 * and N: CPU µs per request (min/median/max over the rounds, from
 * /proc/PID/stat), RSS idle with the upstream connections up, RSS and
 * RssAnon after load, and the growth of CPU per request from the smallest N.
 *
 *   npm run bench:endpoints -- [--counts 10,100,1000] [--runs 3] [--requests 100000]
 *     [--balancer round-robin] [--before /path/to/other/checkout] [--no-haproxy]
 *     [--cpu-prof DIR] [--idle-ms 2000]
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { clockTicksPerSecond } from "./lib/proc-cpu.js";
import { pinProcess } from "./lib/cores.js";
import { runBenchMain } from "./lib/entry.js";
import { runH2load } from "./lib/h2load.js";
import { haproxyBinary, startHaproxy } from "./lib/haproxy.js";
import { startNginxBackend } from "./lib/nginx.js";
import { freePort, freePorts, makeTempDir, readyServer, sleep, startProcess, type RunningServer } from "./lib/processes.js";
import { fmtNum, log, median, table } from "./lib/report.js";
import { repoRoot, switchyardConfigYaml, switchyardNodeFlags } from "./lib/switchyard.js";

interface Options {
  counts: number[];
  runs: number;
  requests: number;
  balancer: string;
  before: string | undefined;
  haproxy: boolean;
  cpuProf: string | undefined;
  idleMs: number;
}

function parse(argv: readonly string[]): Options {
  const o: Options = { counts: [10, 100, 1000], runs: 3, requests: 100_000, balancer: "round-robin", before: undefined, haproxy: true, cpuProf: undefined, idleMs: 2000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = (): string => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value`);
      return x;
    };
    if (a === "--counts") o.counts = v().split(",").map(Number);
    else if (a === "--runs") o.runs = Number(v());
    else if (a === "--requests") o.requests = Number(v());
    else if (a === "--balancer") o.balancer = v();
    else if (a === "--before") o.before = path.resolve(v());
    else if (a === "--no-haproxy") o.haproxy = false;
    else if (a === "--cpu-prof") o.cpuProf = path.resolve(v());
    else if (a === "--idle-ms") o.idleMs = Number(v());
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

/** utime + stime of one process in ms (fields 14 and 15 of /proc/PID/stat). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(f[11]) + Number(f[12])) * 1000) / clockTicksPerSecond();
}

function memKb(pid: number): { rss: number; anon: number } {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const get = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(s)?.[1] ?? 0);
  return { rss: get("VmRSS"), anon: get("RssAnon") };
}

interface System {
  label: string;
  n: number;
  server: RunningServer;
  cpu: number[];
  idle: { rss: number; anon: number };
  after: { rss: number; anon: number };
}

async function startSwitchyardAt(root: string, n: number, backends: { host: string; port: number }[], o: Options, tag: string): Promise<RunningServer> {
  const port = await freePort();
  const dir = makeTempDir("switchyard-endpoints");
  const cfg = path.join(dir, "switchyard.yaml");
  writeFileSync(cfg, switchyardConfigYaml({ port, balancer: o.balancer, backends }));
  const cli = path.join(root, "dist", "src", "cli", "main.js");
  const prof = o.cpuProf === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${path.join(o.cpuProf, `${tag}-${n}`)}`];
  const proc = startProcess(`switchyard-${tag}-${n}`, process.execPath, [...switchyardNodeFlags(), ...prof, cli, "run", "--config", cfg], { cwd: root });
  return readyServer(proc, { host: "127.0.0.1", ports: [port], timeoutMs: 20_000, dir });
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  const taskset = "taskset";
  pinProcess(taskset, process.pid, "0");
  const max = Math.max(...o.counts);
  const ports = await freePorts(max);
  const nginx = await startNginxBackend({ ports, maxConnections: 16_384 });
  pinProcess(taskset, nginx.pid, "0");
  const backends = ports.map((port) => ({ host: "127.0.0.1", port }));
  const systems: System[] = [];
  const kinds: Array<{ label: string; start: (n: number) => Promise<RunningServer> }> = [
    { label: "switchyard", start: (n) => startSwitchyardAt(repoRoot, n, backends.slice(0, n), o, "new") },
  ];
  if (o.before !== undefined) {
    const before = o.before;
    kinds.push({ label: "before", start: (n) => startSwitchyardAt(before, n, backends.slice(0, n), o, "before") });
  }
  if (o.haproxy && haproxyBinary() !== undefined) {
    kinds.push({ label: "haproxy", start: async (n) => startHaproxy({ port: await freePort(), backends: backends.slice(0, n), balance: "roundrobin", maxConnections: 16_384 }) });
  }
  try {
    // One system alive at a time per (kind, N) would lose the interleaving; all stay up instead (idle ones cost nothing).
    for (const n of o.counts) {
      for (const k of kinds) {
        const server = await k.start(n);
        pinProcess(taskset, server.pid, "1");
        systems.push({ label: k.label, n, server, cpu: [], idle: { rss: 0, anon: 0 }, after: { rss: 0, anon: 0 } });
      }
    }
    await sleep(o.idleMs);
    for (const s of systems) s.idle = memKb(s.server.pid);
    const url = (s: System) => `http://127.0.0.1:${s.server.port}/`;
    for (const s of systems) await runH2load({ url: url(s), clients: 8, streams: 100, requests: Math.min(o.requests, 20_000) });
    for (let r = 0; r < o.runs; r++) {
      for (const s of systems) {
        const c0 = cpuMs(s.server.pid);
        const res = await runH2load({ url: url(s), clients: 8, streams: 100, requests: o.requests, timeoutMs: 120_000 });
        const c1 = cpuMs(s.server.pid);
        const done = res.requests.succeeded;
        if (!res.ok || done < o.requests * 0.99) log(`  ${s.label}/${s.n}: ${res.error ?? `${done} of ${o.requests} succeeded`}`);
        s.cpu.push(((c1 - c0) * 1000) / Math.max(1, done));
        log(`  run ${r + 1}/${o.runs} ${`${s.label}/${s.n}`.padEnd(18)} ${fmtNum(res.reqPerSec).padStart(7)} req/s ${fmtNum(s.cpu.at(-1), 1).padStart(6)} us CPU/req`);
      }
    }
    for (const s of systems) s.after = memKb(s.server.pid);
  } finally {
    for (const s of systems) await s.server.stop();
    await nginx.stop();
  }
  const base = new Map<string, number>();
  for (const s of systems) if (s.n === Math.min(...o.counts)) base.set(s.label, median(s.cpu));
  const mib = (kb: number) => fmtNum(kb / 1024, 1);
  const rows = systems.map((s) => {
    const sorted = [...s.cpu].sort((a, b) => a - b);
    const med = median(s.cpu);
    const spread = sorted.length > 0 ? (sorted.at(-1)! - sorted[0]!) / med : 0;
    return [
      s.label, String(s.n),
      `${fmtNum(sorted[0], 1)} / ${fmtNum(med, 1)} / ${fmtNum(sorted.at(-1), 1)}${spread > 0.2 ? " (spread > 20%)" : ""}`,
      `${fmtNum(med / base.get(s.label)!, 2)}x`,
      mib(s.idle.rss), mib(s.after.rss), mib(s.after.anon),
    ];
  });
  log("");
  log(`h2load -c 8 -m 100 -n ${o.requests}; balancer ${o.balancer}; ${o.runs} interleaved rounds; proxy on core 1, nginx + h2load on core 0`);
  log(table(["system", "endpoints", "CPU us/req min / median / max", "growth", "RSS idle MiB", "RSS after MiB", "RssAnon after MiB"], rows));
}

runBenchMain(main);
