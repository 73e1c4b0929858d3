/**
 * Command line of `npm run bench` (dist/bench/proxies.js) and where its
 * processes run: the proxy under test on core 1, h2load and the backends on
 * core 0 (the bench process pins itself there; its children inherit it).
 */
import { execFileSync } from "node:child_process";
import os from "node:os";
import { parseBenchArgs } from "../lib/args.js";
import { pinProcess, type CpuPin } from "../lib/cores.js";
import { findExecutable } from "../lib/processes.js";
import { ALL_SYSTEMS, parseSystems, type SwitchyardLaunch, type SystemId } from "../lib/systems.js";

/** One Node binary Switchyard runs under, as its own row. */
export interface NodeVariant {
  /** Undefined: the Node running the bench. */
  binary?: string;
  /** "v24.11.0". */
  version: string;
}

export interface Options {
  quick: boolean;
  scenarios: number[];
  runs: number;
  durationSec: number;
  systems: SystemId[];
  switchyard: SwitchyardLaunch;
  /** Switchyard rows: one per Node binary. */
  nodes: NodeVariant[];
  pin: boolean;
  /** Where proxies run (undefined: unpinned). */
  proxyPin?: CpuPin;
  /** The pinning line of the report (with a warning when unpinned). */
  pinning: string;
  write: boolean;
}

export const DEFAULT_RUNS = 5;
export const DEFAULT_DURATION_SEC = 2;

const USAGE =
  "usage: node dist/bench/proxies.js [--quick] [--scenario N[,N]] [--runs N] [--duration S]\n" +
  `       [--systems ${ALL_SYSTEMS.join(",")}] (haproxy, nginx: both rows)\n` +
  "       [--switchyard-nodes PATH[,PATH]] [--switchyard-node PATH] [--switchyard-env KEY=VALUE]\n" +
  "       [--no-pin] [--no-write]\n";

/** `node --version` of a binary. */
function nodeVersion(binary: string): string {
  return execFileSync(binary, ["--version"], { encoding: "utf8", timeout: 10_000 }).trim();
}

function nodeVariants(list: string): NodeVariant[] {
  return list
    .split(",")
    .filter(Boolean)
    .map((binary) => {
      try {
        return { binary, version: nodeVersion(binary) };
      } catch (e) {
        process.stderr.write(`--switchyard-nodes: ${binary} does not run: ${(e as Error).message}\n`);
        process.exit(64);
      }
    });
}

export function parseArgs(argv: readonly string[], scenarioNumbers: readonly number[]): Options {
  const o: Options = {
    quick: false,
    scenarios: [...scenarioNumbers],
    runs: 0,
    durationSec: 0,
    systems: [...ALL_SYSTEMS],
    switchyard: { env: {} },
    nodes: [{ version: process.version }],
    pin: true,
    pinning: "",
    write: true,
  };
  parseBenchArgs(argv, USAGE, (flag, value) => {
    switch (flag) {
      case "--quick":
        o.quick = true;
        return true;
      case "--scenario":
      case "--scenarios":
        o.scenarios = value()
          .split(",")
          .map(Number)
          .filter((n) => scenarioNumbers.includes(n));
        return true;
      case "--runs":
        o.runs = Math.max(1, Number(value()) || 1);
        return true;
      case "--duration":
        o.durationSec = Math.max(1, Number(value()) || 1);
        return true;
      case "--systems":
        try {
          o.systems = parseSystems(value());
        } catch (e) {
          process.stderr.write(`${(e as Error).message}\n`);
          process.exit(64);
        }
        return true;
      case "--switchyard-node":
      case "--switchyard-nodes":
        o.nodes = nodeVariants(value());
        return true;
      case "--switchyard-env": {
        const kv = value();
        const eq = kv.indexOf("=");
        if (eq > 0) o.switchyard.env![kv.slice(0, eq)] = kv.slice(eq + 1);
        return true;
      }
      case "--no-pin":
        o.pin = false;
        return true;
      case "--no-write":
        o.write = false;
        return true;
      default:
        return false;
    }
  });
  if (o.scenarios.length === 0) {
    process.stderr.write(`--scenario: expected numbers among ${scenarioNumbers.join(",")}\n`);
    process.exit(64);
  }
  if (!o.runs) o.runs = o.quick ? 2 : DEFAULT_RUNS;
  if (!o.durationSec) o.durationSec = o.quick ? 1 : DEFAULT_DURATION_SEC;
  return o;
}

/**
 * Pins this process (and so h2load and the backends it starts) to core 0
 * and sets proxies to start on core 1. Without taskset or a second core, or
 * with --no-pin, everything runs unpinned and the pinning line says so.
 */
export function applyPinning(o: Options): void {
  const cores = os.availableParallelism();
  const taskset = findExecutable("taskset");
  let why: string | undefined;
  if (!o.pin) why = "--no-pin";
  else if (!taskset) why = "taskset not found (package util-linux)";
  else if (cores < 2) why = `${cores} core`;
  if (why || !taskset) {
    o.pinning = `WARNING: not pinned (${why}): proxies, h2load and backends share all cores; CPU figures are less comparable`;
    return;
  }
  pinProcess(taskset, process.pid, "0");
  o.proxyPin = { taskset, cpus: "1" };
  o.pinning = "pinned with taskset: each proxy under test on core 1; h2load, the backends and the bench on core 0";
}

/** Row label of Switchyard under `node` ("Switchyard node v24.11.0" when several Nodes are compared). */
export function switchyardLabel(o: Options, node: NodeVariant, base = "Switchyard"): string {
  return o.nodes.length > 1 ? `${base} node ${node.version}` : base;
}
