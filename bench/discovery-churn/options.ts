/** Options of the discovery churn benchmark (`node dist/bench/discovery-churn.js --help`). */
import { atLeast, oneOf, parseRunArgs, type MeasureOptions, type RunShape } from "../lib/args.js";

export interface Options extends RunShape, MeasureOptions {
  rate: number;
  endpoints: number;
  mix: "rollout" | "conditions";
  /** Run h2load in each phase (false: --no-load, Switchyard's CPU per change alone). */
  load: boolean;
}

export const USAGE =
  "usage: node dist/bench/discovery-churn.js [--rounds N] [--seconds S] [--rate N] [--endpoints N] [--mix M]\n" +
  "       [--clients N] [--streams N] [--no-pin] [--no-load] [--max-foreign P] [--retries N]\n" +
  "       [--quiet-wait S] [--cpu-prof DIR] [--quick] [--no-write]\n" +
  "  --rounds N     baseline/churn pairs (default 5; --quick 3)\n" +
  "  --seconds S    h2load -D per phase (default 8; --quick 4)\n" +
  "  --rate N       endpoint changes per second during churn (default 50; 0: an A/A run)\n" +
  "  --endpoints N  endpoints of the Service, 100 per EndpointSlice (default 1000)\n" +
  "  --mix M        rollout (default: pods turn not-ready, terminating, are replaced) or\n" +
  "                 conditions (ready <-> terminating only: no connection opened or closed)\n" +
  "  --no-pin       do not pin Switchyard to core 0 and the rest to core 1\n" +
  "  --no-load      no h2load: measure Switchyard's CPU per endpoint change on its own\n" +
  "  --max-foreign P  measure a phase again when processes outside the bench took more than\n" +
  "                 P% of a core during it (default 10)\n" +
  "  --retries N    at most N more attempts per phase (default 2; 0: never), `rounds` in all\n" +
  "  --quiet-wait S before a phase, wait for the cores to be free of other processes, up to\n" +
  "                 S seconds over the whole bench (default 60; 0: never wait)\n" +
  "  --cpu-prof DIR start Switchyard with node --cpu-prof, profile written to DIR on exit\n";

export function parseArgs(argv: readonly string[]): Options {
  const o: Options = {
    rounds: 0,
    seconds: 0,
    rate: 50,
    endpoints: 1000,
    mix: "rollout",
    clients: 10,
    streams: 10,
    pin: true,
    load: true,
    maxForeign: 0.1,
    retries: 2,
    quietWaitSec: 60,
    cpuProfDir: undefined,
    write: true,
  };
  parseRunArgs(argv, USAGE, o, { rounds: [5, 3], seconds: [8, 4] }, (flag, value) => {
    switch (flag) {
      case "--rate":
        // 0: the "churn" phases change nothing (an A/A run: the noise floor).
        o.rate = Math.max(0, Math.floor(Number(value())) || 0);
        return true;
      case "--endpoints":
        o.endpoints = atLeast(value(), 20);
        return true;
      case "--mix":
        o.mix = oneOf(value(), ["rollout", "conditions"] as const, "--mix must be rollout or conditions");
        return true;
      case "--no-load":
        o.load = false;
        return true;
      default:
        return false;
    }
  });
  return o;
}
