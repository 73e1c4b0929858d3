/**
 * Scenario 12: resident memory of Switchyard as users start it (`switchyard
 * run --listen ... --to ...`, every other flag at its default; the admin
 * server on an ephemeral port), idle and after load. Each run is a fresh
 * process: idle 1 s after the port accepts, then h2c and HTTP/1.1 load, then
 * 1 s at rest. One row per Node binary, the rows interleaved.
 */
import { runH2load } from "../lib/h2load.js";
import { processMemoryKb } from "../lib/proc-cpu.js";
import { freePort, sleep } from "../lib/processes.js";
import { log } from "../lib/report.js";
import { spreadOf } from "../lib/stats.js";
import { startSwitchyard } from "../lib/switchyard.js";
import { h2, nginxBackends } from "./backends.js";
import { switchyardLabel, type Options } from "./options.js";
import type { MemoryResult, ScenarioResult } from "./results.js";

interface MemorySample {
  idle: { rss: number; anon: number; file: number };
  after: { rss: number; anon: number; file: number };
  requests: number;
}

/** Time at rest before each reading: long enough for start-up work and a load's last responses to settle. */
const SETTLE_MS = 1000;

export async function scenarioMemory(opts: Options): Promise<ScenarioResult> {
  if (!opts.systems.includes("switchyard")) throw new Error("scenario 12 measures switchyard, which is not in --systems");
  const duration = Math.min(opts.durationSec, 2);
  const setup = await nginxBackends(2);
  const samples = opts.nodes.map((): MemorySample[] => []);
  const errors = opts.nodes.map((): string | undefined => undefined);
  try {
    for (let run = 0; run < opts.runs; run++) {
      for (const [i, node] of opts.nodes.entries()) {
        const port = await freePort();
        let server;
        try {
          server = await startSwitchyard({
            port,
            backends: setup.backends,
            userDefaults: true,
            nodeBinary: node.binary,
            env: opts.switchyard.env,
            pin: opts.proxyPin,
          });
        } catch (e) {
          errors[i] = `failed to start: ${(e as Error).message}`;
          continue;
        }
        try {
          await sleep(SETTLE_MS);
          const idle = processMemoryKb(server.pid);
          const url = h2({ host: server.host, port: server.port });
          const a = await runH2load({ url, clients: 8, streams: 100, durationSec: duration });
          const b = await runH2load({ url, clients: 10, streams: 1, durationSec: duration, extraArgs: ["--h1"] });
          await sleep(SETTLE_MS);
          const after = processMemoryKb(server.pid);
          if (!a.ok || !b.ok) errors[i] = `load failed: ${a.error ?? b.error}`;
          const requests = a.requests.succeeded + b.requests.succeeded;
          samples[i]!.push({ idle, after, requests });
          log(
            `  run ${run + 1}/${opts.runs} ${switchyardLabel(opts, node).padEnd(16)} RSS idle ${(idle.rss / 1024).toFixed(1)} MiB, ` +
              `after ${requests} requests ${(after.rss / 1024).toFixed(1)} MiB`,
          );
        } finally {
          await server.stop();
        }
      }
    }
  } finally {
    await setup.stop();
  }
  const memory: MemoryResult[] = opts.nodes.map((node, i) => {
    const s = samples[i]!;
    const of = (f: (x: MemorySample) => number) => spreadOf(s.map(f));
    return {
      label: switchyardLabel(opts, node),
      error: s.length === 0 ? (errors[i] ?? "no run") : errors[i],
      idleRss: of((x) => x.idle.rss),
      idleAnon: of((x) => x.idle.anon),
      idleFile: of((x) => x.idle.file),
      afterRss: of((x) => x.after.rss),
      afterAnon: of((x) => x.after.anon),
      afterFile: of((x) => x.after.file),
      requests: of((x) => x.requests),
    };
  });
  return {
    id: 12,
    key: "memory-as-started",
    title: "Switchyard's resident memory as users start it",
    description:
      `switchyard run --listen 127.0.0.1:P --to A,B --admin 127.0.0.1:0 (the CLI with its own Node flags, every other flag at its default), ` +
      `a fresh process per run: VmRSS / RssAnon / RssFile of /proc/PID/status ${SETTLE_MS} ms after the port accepts ("idle"), ` +
      `then h2load -c 8 -m 100 -D ${duration} (h2c) and h2load --h1 -c 10 -D ${duration}, and ${SETTLE_MS} ms later ("after load"). ` +
      `Targets: idle <= 45 MB, after load <= 64 MB`,
    date: new Date().toISOString(),
    runs: opts.runs,
    h2load: `-c 8 -m 100 -D ${duration}; --h1 -c 10 -D ${duration}`,
    memory,
    systems: [],
  };
}
