/**
 * `npm run bench` — Switchyard against HAProxy and nginx (each default and
 * tuned) and a direct connection to the backends, on loopback.
 *
 *   node dist/bench/proxies.js [--quick] [--scenario N[,N...]] [--runs N]
 *        [--duration S] [--systems direct,haproxy-default,haproxy-tuned,...]
 *        [--switchyard-nodes PATH[,PATH]] [--switchyard-env KEY=VALUE]...
 *        [--no-pin] [--no-write]
 *
 * Scenarios 1-7 compare the systems under one h2c load each; 8 sweeps the
 * number of endpoints and of client connections; 9 compares Switchyard with
 * one and two worker processes; 10 and 11 are HTTP/1.1 clients to HTTP/1.1
 * and to h2c backends; 12 is Switchyard's memory as users start it.
 *
 * Each proxy under test runs on core 1 (taskset), h2load and the backends on
 * core 0. The per-core figure is CPU time per request: utime+stime of the
 * measured process tree over a run divided by the requests h2load
 * completed, as median (min-max) of interleaved runs; ratios are against
 * HAProxy tuned, measured in the same run.
 */
import path from "node:path";
import { existsSync, readFileSync } from "node:fs";
import { runBenchMain } from "./lib/entry.js";
import { requireTools, stopAll } from "./lib/processes.js";
import { benchmarksDoc, commandLine, log, machineInfo, resultsDir, updateDocSection, writeJson } from "./lib/report.js";
import { repoRoot } from "./lib/switchyard.js";
import { applyPinning, parseArgs, type Options } from "./proxies/options.js";
import type { ScenarioResult } from "./proxies/results.js";
import { scenarioH1Clients } from "./proxies/scenario-h1-clients.js";
import { scenarioMemory } from "./proxies/scenario-memory.js";
import { scenarioRates } from "./proxies/scenario-rates.js";
import { scenarioSweeps } from "./proxies/scenario-sweeps.js";
import { scenarioWorkers } from "./proxies/scenario-workers.js";
import {
  scenarioConcurrency,
  scenarioGrpc,
  scenarioIdle,
  scenarioLarge,
  scenarioManyEndpoints,
} from "./proxies/scenarios-throughput.js";
import { docMarkdown, scenarioText, type ResultsFile } from "./proxies/tables.js";

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
  10: (opts) => scenarioH1Clients(opts, 10, "http1"),
  11: (opts) => scenarioH1Clients(opts, 11, "h2"),
  12: scenarioMemory,
};

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2), Object.keys(SCENARIOS).map(Number));
  requireTools([
    { name: "h2load", pkg: "nghttp2-client" },
    { name: "haproxy", pkg: "haproxy" },
    { name: "nginx", pkg: "nginx-light" },
  ]);
  // Before pinning, which leaves this process (and what it reads as the core count) one core.
  const machine = await machineInfo();
  applyPinning(opts);
  log(`machine: ${machine.cpuModel}, ${machine.cores} cores; node ${machine.node}; ${machine.haproxy}; ${machine.nginx}; ${machine.h2load}`);
  log(opts.pinning);
  log(
    `runs per system: ${opts.runs}, duration ${opts.durationSec}s, scenarios ${opts.scenarios.join(",")}; ` +
      `Switchyard under node ${opts.nodes.map((n) => n.version).join(", ")}`,
  );
  process.stdout.write(`Cores: ${opts.pinning}\n`);
  const t0 = Date.now();
  const results: ScenarioResult[] = [];
  for (const n of opts.scenarios) {
    log(`\nscenario ${n} ...`);
    const t = Date.now();
    try {
      const sc = await SCENARIOS[n]!(opts);
      results.push(sc);
      process.stdout.write(`\n${scenarioText(sc)}\n`);
    } catch (e) {
      log(`scenario ${n} failed: ${(e as Error).message ?? String(e)}`);
    }
    await stopAll();
    log(`scenario ${n}: ${((Date.now() - t) / 1000).toFixed(0)} s`);
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
    pinning: opts.pinning,
    scenarios: { ...(previous?.scenarios ?? {}) },
  };
  for (const sc of results) merged.scenarios[String(sc.id)] = sc;
  writeJson(jsonFile, merged);
  updateDocSection("proxies", docMarkdown(merged));
  log(`wrote ${path.relative(repoRoot, jsonFile)} and ${path.relative(repoRoot, benchmarksDoc)}`);
}

runBenchMain(main);
