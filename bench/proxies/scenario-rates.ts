/**
 * Scenario 3: fixed request rates over 10 connections, latency percentiles
 * and CPU per request of each system, with the machine's own scheduling
 * jitter as a reference line.
 */
import path from "node:path";
import { h2loadSupportsRps, runH2load } from "../lib/h2load.js";
import { pinnedCommand, type CpuPin } from "../lib/cores.js";
import { startProcess, stopProcess } from "../lib/processes.js";
import { fmtNum, fmtUs } from "../lib/report.js";
import { repoRoot } from "../lib/switchyard.js";
import type { Endpoint } from "../lib/systems.js";
import type { LoopDelay } from "../servers/loop-delay-probe.js";
import { h2, nginxBackends } from "./backends.js";
import type { Options } from "./options.js";
import type { ScenarioResult } from "./results.js";
import { runSystems } from "./run-systems.js";

export async function scenarioRates(opts: Options): Promise<ScenarioResult> {
  const rates = [1000, 2000, 5000];
  const clients = 10;
  const duration = Math.min(opts.durationSec, 3);
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
    const jitter = await machineJitter(setup.backends[0]!, 2000, clients, duration, opts.proxyPin);
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
 * reference for the tail columns: an idle Node process on the proxies' core
 * measures how late its 1 ms timer fires while h2load drives a backend
 * directly at `rate` req/s.
 * Whatever a proxy adds at p99 on a shared machine sits on top of this.
 */
async function machineJitter(
  backend: Endpoint,
  rate: number,
  clients: number,
  durationSec: number,
  pin: CpuPin | undefined,
): Promise<string> {
  const probeScript = path.join(repoRoot, "dist", "bench", "servers", "loop-delay-probe.js");
  const [cmd, args] = pinnedCommand(pin, process.execPath, [probeScript, String(durationSec)]);
  const probe = startProcess("loop-delay-probe", cmd, args);
  try {
    await runH2load({ url: h2(backend), clients, streams: 100, durationSec, rpsPerClient: rate / clients });
    await probe.exited;
    const d = JSON.parse(probe.stdout().trim().split("\n").pop() ?? "{}") as Partial<LoopDelay>;
    if (d.p99Us === undefined) return `Machine jitter reference: the probe printed nothing (${probe.stderr().trim()}).`;
    return (
      `Machine jitter reference: an idle Node process${pin ? ` on the proxies' core ${pin.cpus}` : " on the same machine"}, while h2load sent ${fmtNum(rate)} req/s ` +
      `straight to the backend for ${durationSec} s, saw its 1 ms timer fire late by p50 ${fmtUs(d.p50Us)}, ` +
      `p99 ${fmtUs(d.p99Us)}, p99.9 ${fmtUs(d.p999Us)}, max ${fmtUs(d.maxUs)}: scheduling delay any process gets here, ` +
      `under every proxy's p99 and p99.9.`
    );
  } finally {
    await stopProcess(probe);
  }
}

