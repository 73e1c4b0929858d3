/** Options of the TLS benchmark (`node dist/bench/tls.js --help`). */
import { atLeast, oneOf, parseRunArgs, type MeasureOptions, type RunShape } from "../lib/args.js";

// ---------------------------------------------------------------- options

const SCENARIOS = ["requests", "handshakes", "resumption"] as const;
export type ScenarioId = (typeof SCENARIOS)[number];

export interface Options extends RunShape, MeasureOptions {
  warmupSec: number;
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
  const quick = parseRunArgs(argv, USAGE, o, { rounds: [5, 2], seconds: [3, 2] }, (flag, value) => {
    switch (flag) {
      case "--rate":
        o.rate = atLeast(value(), 1);
        return true;
      case "--connections":
        o.connections = atLeast(value(), 10);
        return true;
      case "--scenario":
      case "--scenarios": {
        const list = value().split(",");
        for (const s of list) oneOf(s, SCENARIOS, "--scenario: expected requests, handshakes or resumption (comma list)");
        o.scenarios = list as ScenarioId[];
        return true;
      }
      case "--no-mtls":
        o.mtls = false;
        return true;
      default:
        return false;
    }
  });
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

