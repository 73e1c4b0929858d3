/**
 * A Node process that does nothing but measure how late its own event loop
 * runs (perf_hooks.monitorEventLoopDelay, 1 ms resolution) for a while, then
 * prints one JSON line and exits. Run beside a load on the same machine, it
 * shows the scheduling jitter any process gets there — the floor under a
 * proxy's tail latency on a shared machine.
 *
 *   node dist/bench/servers/loop-delay-probe.js SECONDS
 */
import { monitorEventLoopDelay } from "node:perf_hooks";

export interface LoopDelay {
  /** Lateness of a 1 ms timer, microseconds (the 1 ms itself subtracted). */
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  samples: number;
}

const seconds = Number(process.argv[2] ?? "3");
const histogram = monitorEventLoopDelay({ resolution: 1 });
histogram.enable();
setTimeout(() => {
  histogram.disable();
  const late = (ns: number) => Math.max(0, Math.round(ns / 1000 - 1000));
  const result: LoopDelay = {
    p50Us: late(histogram.percentile(50)),
    p99Us: late(histogram.percentile(99)),
    p999Us: late(histogram.percentile(99.9)),
    maxUs: late(histogram.max),
    samples: histogram.count,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}, seconds * 1000);
