/**
 * Resident memory of `switchyard run` as users start it: idle, after the
 * proxy benchmark's scenario 1 load, after 1 MiB responses, and over minutes
 * of client connection churn; and what each dependency costs on its own.
 *
 *   npm run bench:memory -- [--churn-minutes N] [--modules] [--node BIN]
 *
 * The proxy is the compiled CLI started as its own program (its shell
 * prologue execs Node with the program's flags), quick mode, two nginx h2c
 * backends, admin server on (an ephemeral port instead of 9990). It is pinned
 * to core 1; nginx, h2load and this script to core 0.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import { parseBenchArgs } from "./lib/args.js";
import { pinProcess } from "./lib/cores.js";
import { runBenchMain } from "./lib/entry.js";
import { runH2load, type H2loadOptions } from "./lib/h2load.js";
import { startNginxBackend } from "./lib/nginx.js";
import { findExecutable, readyServer, sleep, startProcess, stopProcess } from "./lib/processes.js";
import { log, table } from "./lib/report.js";
import { repoRoot, switchyardCli, switchyardNodeFlags } from "./lib/switchyard.js";

const USAGE = `Usage: npm run bench:memory -- [options]
  --churn-minutes N   connection churn time (default 10; 0 skips it; fractions allowed)
  --churn-clients N   new h2 connections per round (default 20)
  --churn-requests N  requests per connection in a round (default 250)
  --settle S          seconds of quiet before the second reading of each state (default 30):
                      V8's memory reducer shrinks the heap after ~10-30 s without load
  --modules           also measure each dependency imported alone into a bare node
  --node BIN          start the proxy with this node binary and the program's flags
                      (default: run the program itself, whose prologue finds node on PATH)
  --no-pin            do not pin processes to cores
  --json              print the figures as one JSON object at the end
`;

interface Memory {
  rssKb: number;
  anonKb: number;
  fileKb: number;
}

function memoryOf(pid: number): Memory {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
  return { rssKb: kb("VmRSS"), anonKb: kb("RssAnon"), fileKb: kb("RssFile") + kb("RssShmem") };
}

const mib = (kb: number): string => (kb / 1024).toFixed(1);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function load(opts: H2loadOptions, what: string): Promise<number> {
  const r = await runH2load(opts);
  if (!r.ok) throw new Error(`${what}: ${r.error}`);
  return r.requests.succeeded;
}

/** RSS of a bare node after importing `spec` (and a GC settle), to cost each dependency alone. */
function moduleCost(node: string, spec: string | undefined): Memory {
  const code = `${spec ? `await import(${JSON.stringify(spec)});` : ""}
    await new Promise((r) => setTimeout(r, 500));
    const t = (await import("node:fs")).readFileSync("/proc/self/status", "utf8");
    const kb = (n) => Number(new RegExp("^" + n + ":\\\\s+(\\\\d+) kB", "m").exec(t)?.[1] ?? 0);
    process.stdout.write(JSON.stringify({ rssKb: kb("VmRSS"), anonKb: kb("RssAnon"), fileKb: kb("RssFile") + kb("RssShmem") }));`;
  const out = execFileSync(node, ["--input-type=module", "-e", code], { cwd: repoRoot, encoding: "utf8" });
  return JSON.parse(out) as Memory;
}

const MODULES: ReadonlyArray<[string, string | undefined]> = [
  ["bare node", undefined],
  ["pino", "pino"],
  ["prom-client", "prom-client"],
  ["zod", "zod"],
  ["yaml", "yaml"],
  ["undici", "undici"],
  ["config (zod schema)", "./dist/src/config/index.js"],
  ["proxy (engine, pools, balancers)", "./dist/src/proxy/proxy.js"],
  ["telemetry", "./dist/src/telemetry/telemetry.js"],
  ["admin server", "./dist/src/telemetry/admin-server.js"],
  ["run command (all of the above)", "./dist/src/cli/run.js"],
];

async function main(): Promise<void> {
  let churnMinutes = 10;
  let churnClients = 20;
  let churnRequests = 250;
  let settle = 30;
  let modules = false;
  let node: string | undefined;
  let pin = true;
  let json = false;
  parseBenchArgs(process.argv.slice(2), USAGE, (flag, value) => {
    if (flag === "--churn-minutes") churnMinutes = Math.max(0, Number(value()) || 0);
    else if (flag === "--churn-clients") churnClients = Math.max(1, Number(value()) || 20);
    else if (flag === "--churn-requests") churnRequests = Math.max(1, Number(value()) || 250);
    else if (flag === "--settle") settle = Math.max(0, Number(value()) || 0);
    else if (flag === "--modules") modules = true;
    else if (flag === "--node") node = value();
    else if (flag === "--no-pin") pin = false;
    else if (flag === "--json") json = true;
    else return false;
    return true;
  });
  const results: Record<string, unknown> = {};
  const taskset = pin ? findExecutable("taskset") : undefined;
  if (taskset) pinProcess(taskset, process.pid, "0");

  if (modules) {
    const bin = node ?? process.execPath;
    const bare = moduleCost(bin, undefined);
    const rows = MODULES.map(([name, spec]) => {
      const m = spec === undefined ? bare : moduleCost(bin, spec);
      return [name, mib(m.rssKb), mib(m.anonKb), mib(m.fileKb), spec === undefined ? "" : `+${mib(m.rssKb - bare.rssKb)}`];
    });
    results.modules = rows;
    log(`\nImported alone into a bare node (MiB):\n${table(["module", "VmRSS", "RssAnon", "RssFile", "over bare"], rows)}`);
  }

  const [b1, b2, port] = [await freePort(), await freePort(), await freePort()];
  const backend = await startNginxBackend({ ports: [b1, b2], bigResponseBytes: 1 << 20 });
  const args = ["run", "--listen", `127.0.0.1:${port}`, "--to", `127.0.0.1:${b1},127.0.0.1:${b2}`, "--admin", "127.0.0.1:0"];
  const [cmd, argv] = node === undefined ? [switchyardCli, args] : [node, [...switchyardNodeFlags(), switchyardCli, ...args]];
  const proxy = startProcess("switchyard", cmd, argv, { cwd: repoRoot });
  // The prologue's exec keeps the pid: pinning it now covers the Node process and its threads.
  if (taskset) pinProcess(taskset, proxy.pid, "1");
  await readyServer(proxy, { host: "127.0.0.1", ports: [port], timeoutMs: 15_000 });
  const url = `http://127.0.0.1:${port}/`;
  const rows: string[][] = [];
  /** Two readings of a state: 2 s after it began, and after `settle` s more of quiet. */
  const record = async (name: string): Promise<void> => {
    await sleep(2000);
    const m = memoryOf(proxy.pid);
    await sleep(settle * 1000);
    const s = memoryOf(proxy.pid);
    rows.push([name, mib(m.rssKb), mib(m.anonKb), mib(s.rssKb), mib(s.anonKb), mib(s.fileKb)]);
    results[name] = { at2s: m, settled: s };
  };
  try {
    await record("idle");
    await load({ url, clients: 1, streams: 100, durationSec: 4 }, "scenario 1");
    await record("after h2load -c 1 -m 100 -D 4");
    await load({ url: `${url}big`, clients: 1, streams: 10, requests: 300 }, "1 MiB responses");
    await record("after 300 × 1 MiB (-c 1 -m 10)");
    log(`\nswitchyard run (pid ${proxy.pid}, ${node === undefined ? "as installed" : node}), MiB:\n${table(["when", "VmRSS at 2 s", "RssAnon at 2 s", `VmRSS at ${settle + 2} s`, `RssAnon at ${settle + 2} s`, "RssFile"], rows)}`);

    if (churnMinutes > 0) {
      const perMinute: Memory[] = [];
      const start = performance.now();
      let next = start + 60_000;
      let rounds = 0;
      const endAt = start + churnMinutes * 60_000;
      log(`\nchurn: rounds of ${churnClients} new connections × ${churnRequests} requests (-m 10) for ${churnMinutes} min`);
      while (performance.now() < endAt) {
        await load({ url, clients: churnClients, streams: 10, requests: churnClients * churnRequests }, `churn round ${rounds + 1}`);
        rounds++;
        if (performance.now() >= next || performance.now() >= endAt) {
          const m = memoryOf(proxy.pid);
          perMinute.push(m);
          log(`  minute ${perMinute.length}: ${rounds} rounds, VmRSS ${mib(m.rssKb)} MiB (RssAnon ${mib(m.anonKb)}, RssFile ${mib(m.fileKb)})`);
          next += 60_000;
        }
      }
      const second = perMinute[Math.min(1, perMinute.length - 1)]!;
      const last = perMinute[perMinute.length - 1]!;
      const ratio = last.rssKb / second.rssKb;
      const peak = Math.max(...perMinute.map((m) => m.rssKb));
      const pass = ratio <= 1.1 && peak <= 64 * 1024;
      results.churn = { rounds, perMinute, lastOverSecond: ratio, peakKb: peak, pass };
      log(`churn: last/second minute ${ratio.toFixed(3)} (≤ 1.1), peak ${mib(peak)} MiB (≤ 64): ${pass ? "pass" : "FAIL"}`);
    }
  } finally {
    await stopProcess(proxy);
    await backend.stop();
  }
  if (json) process.stdout.write(`${JSON.stringify(results)}\n`);
}

runBenchMain(main);
