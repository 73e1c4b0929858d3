/** Options of the TLS benchmark (`node dist/bench/tls.js --help`). */
import path from "node:path";
import { measureFlag, parseBenchArgs, type MeasureOptions } from "../lib/args.js";

// ---------------------------------------------------------------- options

export type ScenarioId = "requests" | "handshakes" | "resumption";

export interface Options extends MeasureOptions {
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
}

export const USAGE =
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

export function parseArgs(argv: readonly string[]): Options {
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

/** -r / --rate-period for `rate` connections per second (h2load takes a whole number per period). */
export function rateArgs(rate: number): { args: string[]; effective: number } {
  if (rate >= 100) {
    const per = Math.round(rate / 100);
    return { args: ["-r", String(per), "--rate-period", "10ms"], effective: per * 100 };
  }
  const periodMs = Math.round(1000 / rate);
  return { args: ["-r", "1", "--rate-period", `${periodMs}ms`], effective: 1000 / periodMs };
}

