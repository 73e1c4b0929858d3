/**
 * Running the systems of a scenario: start each row (Switchyard once per
 * Node binary), warm each once, then measure them in interleaved order
 * (A,B,C,...,A,B,C,...) and summarize every row over its runs.
 */
import { groupsCpuMs, processUserMs, treesCpuMs } from "../lib/proc-cpu.js";
import { runH2load, type H2loadOptions, type H2loadResult } from "../lib/h2load.js";
import { sleep } from "../lib/processes.js";
import { fmtNum, fmtUs, log } from "../lib/report.js";
import {
  startSystem,
  systemDeath,
  type Endpoint,
  type SwitchyardLaunch,
  type SystemHandle,
  type SystemId,
  type Wire,
} from "../lib/systems.js";
import { switchyardLabel, type Options } from "./options.js";
import { summarize, type RunSample, type SystemResult } from "./results.js";

/**
 * One h2load run and the CPU spent meanwhile. `roles` (pid -> role), when
 * given, splits the system's CPU by process role.
 */
export async function measureRun(
  sys: SystemHandle,
  backendPids: readonly number[],
  load: H2loadOptions,
  roles?: ReadonlyMap<number, string>,
): Promise<RunSample> {
  const sampleCpu = () => ({
    system: treesCpuMs(sys.cpuPids),
    systemUser: treesCpuMs(sys.cpuPids, processUserMs),
    backend: treesCpuMs(backendPids),
    roles: roles && groupsCpuMs(roles),
  });
  let before = sampleCpu();
  const running = runH2load(load);
  if (load.warmupSec) {
    // h2load counts only the requests after its warm-up period (in which it also connects):
    // CPU is taken over the same window.
    await sleep(load.warmupSec * 1000);
    before = sampleCpu();
  }
  const r: H2loadResult = await running;
  const after = sampleCpu();
  const done = r.requests.done;
  const cpuMs = after.system - before.system;
  const userMs = after.systemUser - before.systemUser;
  const backendCpuMs = after.backend - before.backend;
  const sample: RunSample = {
    ok: r.ok,
    error: r.error,
    reqPerSec: r.reqPerSec,
    done,
    succeeded: r.requests.succeeded,
    nonSuccess: done - r.requests.succeeded,
    dataBytes: r.dataBytes,
    durationMs: r.durationMs,
    cpuMs,
    backendCpuMs,
    cpuUsPerReq: done > 0 ? (cpuMs * 1000) / done : NaN,
    userUsPerReq: done > 0 ? (userMs * 1000) / done : NaN,
    backendCpuUsPerReq: done > 0 ? (backendCpuMs * 1000) / done : NaN,
    p50Us: r.percentiles?.p50Us,
    p99Us: r.percentiles?.p99Us,
    p999Us: r.percentiles?.p999Us,
  };
  if (before.roles && after.roles) {
    const [r0, r1] = [before.roles, after.roles];
    sample.processCpuMs = Object.fromEntries(Object.keys(r1).map((role) => [role, r1[role]! - (r0[role] ?? 0)]));
  }
  if (sample.ok && done > 0 && r.requests.succeeded < done * 0.99) {
    sample.ok = false;
    sample.error = `${done - r.requests.succeeded} of ${done} responses were not 2xx`;
  }
  const death = systemDeath(sys);
  if (death) {
    sample.ok = false;
    sample.error = death;
  }
  return sample;
}

export interface ScenarioSetup {
  backends: Endpoint[];
  backendPids: number[];
  stop(): Promise<void>;
}

/** One system started for a scenario: which one, against which endpoints, launched how. */
export interface SystemSpec {
  id: SystemId;
  /** Unique row key (default: the id). */
  row?: string;
  /** Row label in progress lines and results (default: the system's own label). */
  label?: string;
  /** Endpoints for this system (default: all of the scenario's backends). */
  backends?: Endpoint[];
  /** Merged over the --switchyard-* options. */
  switchyard?: SwitchyardLaunch;
}

/**
 * The --systems selection among `ids` (default: all), each with the same
 * launch options; Switchyard once per --switchyard-nodes binary.
 */
export function selectedSystems(opts: Options, switchyard: SwitchyardLaunch = {}, ids?: readonly SystemId[]): SystemSpec[] {
  return opts.systems
    .filter((id) => !ids || ids.includes(id))
    .flatMap((id): SystemSpec[] =>
      id !== "switchyard"
        ? [{ id, switchyard }]
        : opts.nodes.map((node) => ({
            id,
            row: opts.nodes.length > 1 ? `switchyard@${node.version}` : "switchyard",
            label: switchyardLabel(opts, node),
            switchyard: { ...switchyard, ...(node.binary ? { nodeBinary: node.binary } : {}) },
          })),
    );
}

async function startSpec(opts: Options, setup: ScenarioSetup, spec: SystemSpec, maxConnections?: number, wire?: Wire): Promise<SystemHandle> {
  const s = await startSystem(spec.id, spec.backends ?? setup.backends, setup.backendPids, {
    switchyard: { ...opts.switchyard, ...spec.switchyard },
    maxConnections,
    wire,
    pin: opts.proxyPin,
  });
  if (spec.label) s.label = spec.label;
  if (s.error) log(`  ${s.label}: ${s.error}`);
  if (s.skipped) log(`  ${s.label}: skipped: ${s.skipped}`);
  return s;
}

/**
 * Starts every system (default: the --systems selection against all
 * backends), then runs `load` on each in interleaved order `runs` times
 * (after one short unmeasured warm-up each). Results come per load, each
 * in the order of the systems.
 */
export async function runSystems(
  opts: Options,
  setup: ScenarioSetup,
  load: (target: Endpoint) => H2loadOptions,
  extra: {
    specs?: SystemSpec[];
    warmup?: (target: Endpoint) => H2loadOptions;
    /** Called per started system with its position among the specs; returns notes, throws to fail it. */
    beforeRuns?: (sys: SystemHandle, index: number) => Promise<string[]>;
    afterRuns?: () => Promise<void>;
    maxConnections?: number;
    /** Several loads (e.g. target rates) measured in the same interleaving. */
    loads?: Array<(target: Endpoint) => H2loadOptions>;
    runs?: number;
    /** Splits each system's CPU by process role (pid -> role), read once before the measured runs. */
    processRoles?: (sys: SystemHandle) => Map<number, string>;
    /** What clients and backends speak (default h2c on both sides). */
    wire?: Wire;
  } = {},
): Promise<SystemResult[][]> {
  const systems: SystemHandle[] = [];
  const specs = extra.specs ?? selectedSystems(opts);
  for (const spec of specs) {
    systems.push(await startSpec(opts, setup, spec, extra.maxConnections, extra.wire));
  }
  try {
    await sleep(300);
    const rssIdle = systems.map((s) => (s.error || s.skipped ? NaN : s.rssKb()));
    const notes = systems.map((): string[] => []);
    for (const [i, s] of systems.entries()) {
      if (s.error || s.skipped || !s.target || !extra.beforeRuns) continue;
      try {
        notes[i]!.push(...(await extra.beforeRuns(s, i)));
      } catch (e) {
        s.error = (e as Error).message;
      }
    }
    // Warm-up (unmeasured): JIT, connection pools, caches.
    for (const s of systems) {
      if (s.error || s.skipped || !s.target) continue;
      const w = extra.warmup
        ? extra.warmup(s.target)
        : { ...load(s.target), durationSec: Math.min(1, opts.durationSec), percentiles: false };
      const r = await runH2load(w);
      const death = systemDeath(s);
      if (death) s.error = death;
      else if (!r.ok) log(`  ${s.label}: warm-up: ${r.error}`);
    }
    const roles = systems.map((s) => (s.error || s.skipped || !extra.processRoles ? undefined : extra.processRoles(s)));
    const loads = extra.loads ?? [load];
    const samples = loads.map(() => systems.map((): RunSample[] => []));
    const runs = extra.runs ?? opts.runs;
    for (let run = 0; run < runs; run++) {
      for (let li = 0; li < loads.length; li++) {
        for (const [i, s] of systems.entries()) {
          if (s.error || s.skipped || !s.target) continue;
          const sample = await measureRun(s, setup.backendPids, loads[li]!(s.target), roles[i]);
          samples[li]![i]!.push(sample);
          log(
            `  run ${run + 1}/${runs}${loads.length > 1 ? ` load ${li + 1}/${loads.length}` : ""} ` +
              `${s.label.padEnd(16)} ${fmtNum(sample.reqPerSec).padStart(8)} req/s ` +
              `${fmtNum(sample.cpuUsPerReq, 1).padStart(7)} us CPU/req` +
              (sample.p99Us !== undefined ? `  p50 ${fmtUs(sample.p50Us)} p99 ${fmtUs(sample.p99Us)}` : "") +
              (sample.ok ? "" : `  FAILED: ${sample.error}`),
          );
          if (!sample.ok && systemDeath(s)) s.error = systemDeath(s);
        }
      }
    }
    await extra.afterRuns?.();
    return loads.map((_, li) =>
      systems.map((s, i) =>
        summarize(s, specs[i]!.row ?? s.id, samples[li]![i]!, rssIdle[i]!, s.error || s.skipped ? NaN : s.rssKb(), [...notes[i]!]),
      ),
    );
  } finally {
    for (const s of systems) await s.stop();
  }
}

