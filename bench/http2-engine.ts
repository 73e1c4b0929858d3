/**
 * `npm run bench:http2` — CPU per request of Switchyard's HTTP/2 engine
 * against a bare node:http2 server, under the same h2load load
 * (-c 1 -m 100, tiny responses), in one run with interleaved repetitions.
 *
 *   node dist/bench/http2-engine.js [--quick] [--runs N] [--duration S] [--no-write]
 *
 * Servers (separate processes, port from argv, listen on 127.0.0.1):
 *   dist/bench/servers/engine-server.js      Switchyard HTTP/2 engine
 *   dist/bench/servers/node-http2-server.js  node:http2 createServer
 * Target: the engine spends >= 4x less CPU per request than node:http2.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runH2load } from "./lib/h2load.js";
import { processRssKb, treeCpuMs } from "./lib/proc-cpu.js";
import {
  freePort,
  requireTools,
  sleep,
  startProcess,
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
  log,
  machineInfo,
  machineMarkdown,
  median,
  ratio,
  resultsDir,
  table,
  updateDocSection,
  writeJson,
} from "./lib/report.js";
import { parseBenchArgs } from "./lib/args.js";
import { runBenchMain } from "./lib/entry.js";
import { repoRoot } from "./lib/switchyard.js";

interface Options {
  quick: boolean;
  runs: number;
  durationSec: number;
  write: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { quick: false, runs: 0, durationSec: 0, write: true };
  parseBenchArgs(argv, "usage: node dist/bench/http2-engine.js [--quick] [--runs N] [--duration S] [--no-write]\n", (flag, value) => {
    switch (flag) {
      case "--quick":
        o.quick = true;
        return true;
      case "--runs":
        o.runs = Math.max(1, Number(value()) || 1);
        return true;
      case "--duration":
        o.durationSec = Math.max(1, Number(value()) || 1);
        return true;
      case "--no-write":
        o.write = false;
        return true;
      default:
        return false;
    }
  });
  if (!o.runs) o.runs = o.quick ? 3 : 5;
  if (!o.durationSec) o.durationSec = o.quick ? 1 : 4;
  return o;
}

interface ServerSpec {
  key: "engine" | "node-http2";
  label: string;
  script: string;
}

const serversDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "servers");
const SERVERS: ServerSpec[] = [
  { key: "engine", label: "Switchyard engine", script: path.join(serversDir, "engine-server.js") },
  { key: "node-http2", label: "node:http2", script: path.join(serversDir, "node-http2-server.js") },
];

interface Sample {
  ok: boolean;
  error?: string;
  reqPerSec: number;
  done: number;
  cpuMs: number;
  cpuUsPerReq: number;
}

interface ServerResult {
  key: string;
  label: string;
  error?: string;
  runs: Sample[];
  reqPerSec: number;
  cpuUsPerReq: number;
  rssAfterKb: number;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  requireTools([{ name: "h2load", pkg: "nghttp2-client" }]);
  const machine = await machineInfo();
  log(`machine: ${machine.cpuModel}, ${machine.cores} cores; node ${machine.node}; ${machine.h2load}`);
  const load = (port: number) => ({
    url: `http://127.0.0.1:${port}/`,
    clients: 1,
    streams: 100,
    durationSec: opts.durationSec,
  });

  const procs = new Map<string, { proc: Tracked; port: number }>();
  const errors = new Map<string, string>();
  for (const s of SERVERS) {
    if (!existsSync(s.script)) {
      errors.set(s.key, `failed to start: ${path.relative(repoRoot, s.script)} not found`);
      log(`  ${s.label}: ${errors.get(s.key)}`);
      continue;
    }
    const port = await freePort();
    const proc = startProcess(s.key, process.execPath, [s.script, String(port)], { cwd: repoRoot });
    try {
      await waitForPort("127.0.0.1", port, 10_000, proc);
      procs.set(s.key, { proc, port });
    } catch (e) {
      errors.set(s.key, `failed to start: ${(e as Error).message}`);
      log(`  ${s.label}: ${errors.get(s.key)}`);
      await stopProcess(proc);
    }
  }

  const samples = new Map<string, Sample[]>(SERVERS.map((s) => [s.key, []]));
  const rss = new Map<string, number>();
  try {
    // Unmeasured warm-up (JIT).
    for (const s of SERVERS) {
      const p = procs.get(s.key);
      if (p) await runH2load({ ...load(p.port), durationSec: 1 });
    }
    await sleep(200);
    for (let run = 0; run < opts.runs; run++) {
      for (const s of SERVERS) {
        const p = procs.get(s.key);
        if (!p || errors.has(s.key)) continue;
        const c0 = treeCpuMs(p.proc.pid);
        const r = await runH2load(load(p.port));
        const cpuMs = treeCpuMs(p.proc.pid) - c0;
        const done = r.requests.done;
        let error = r.ok ? undefined : r.error;
        if (!error && r.requests.succeeded < done * 0.99) error = `${done - r.requests.succeeded} non-2xx responses`;
        if (p.proc.hasExited()) error = `exited (${p.proc.exitStatus()})`;
        const sample: Sample = {
          ok: !error,
          error,
          reqPerSec: r.reqPerSec,
          done,
          cpuMs,
          cpuUsPerReq: done > 0 ? (cpuMs * 1000) / done : NaN,
        };
        samples.get(s.key)!.push(sample);
        log(
          `  run ${run + 1}/${opts.runs} ${s.label.padEnd(18)} ${fmtNum(sample.reqPerSec).padStart(8)} req/s ` +
            `${fmtNum(sample.cpuUsPerReq, 2).padStart(7)} us CPU/req${sample.ok ? "" : `  FAILED: ${error}`}`,
        );
        if (p.proc.hasExited()) errors.set(s.key, error!);
      }
    }
    for (const [k, p] of procs) rss.set(k, processRssKb(p.proc.pid));
  } finally {
    for (const p of procs.values()) await stopProcess(p.proc);
  }

  const results: ServerResult[] = SERVERS.map((s) => {
    const runs = samples.get(s.key)!;
    const good = runs.filter((r) => r.ok);
    return {
      key: s.key,
      label: s.label,
      error: errors.get(s.key) ?? (good.length === 0 ? (runs[0]?.error ?? "no successful run") : undefined),
      runs,
      reqPerSec: median(good.map((r) => r.reqPerSec)),
      cpuUsPerReq: median(good.map((r) => r.cpuUsPerReq)),
      rssAfterKb: rss.get(s.key) ?? NaN,
    };
  });
  const engine = results.find((r) => r.key === "engine")!;
  const node = results.find((r) => r.key === "node-http2")!;
  const advantage = ratio(node.error ? NaN : node.cpuUsPerReq, engine.error ? NaN : engine.cpuUsPerReq);
  const text = table(
    ["server", "req/s", "CPU us/req", "CPU/req vs node:http2", "RSS after", "status"],
    results.map((r) => {
      const v = (n: number) => (r.error ? NaN : n);
      return [
        r.label,
        fmtNum(v(r.reqPerSec)),
        fmtNum(v(r.cpuUsPerReq), 2),
        fmtRatio(ratio(v(r.cpuUsPerReq), node.error ? NaN : node.cpuUsPerReq)),
        fmtMiB(v(r.rssAfterKb)),
        r.error ? `FAILED: ${r.error.replace(/\|/g, "/").slice(0, 160)}` : "ok",
      ];
    }),
  );
  const verdict = Number.isFinite(advantage)
    ? `node:http2 / engine CPU per request = ${advantage.toFixed(2)}x (target >= 4x): ${advantage >= 4 ? "met" : "NOT met"}`
    : "ratio unavailable (a server failed)";
  const body = `h2load -c 1 -m 100 -D ${opts.durationSec}, GET / answered 200 "ok"; medians of ${opts.runs} interleaved run(s); measured ${new Date().toISOString()}.\n\n${text}\n\n${verdict}\n`;
  process.stdout.write(`\n${body}\n`);
  if (!opts.write) return;
  const command = commandLine("bench:http2");
  const jsonFile = path.join(resultsDir, "http2-engine.json");
  writeJson(jsonFile, { bench: "http2-engine", machine, command, runs: opts.runs, durationSec: opts.durationSec, advantage, results });
  updateDocSection(
    "http2-engine",
    `## HTTP/2 engine vs node:http2 (bare servers)\n\nMachine:\n\n${machineMarkdown(machine)}\n\nCommand: \`${command}\`\n\n${body}`,
  );
  log(`wrote ${path.relative(repoRoot, jsonFile)} and ${path.relative(repoRoot, benchmarksDoc)}`);
}

runBenchMain(main);
