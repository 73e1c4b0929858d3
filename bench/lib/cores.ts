/**
 * Cores as a shared resource: pinning processes with taskset, each core's
 * busy time from /proc/stat, and the CPU that processes outside a bench take
 * meanwhile ("foreign" CPU: other tenants of a shared machine).
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { clockTicksPerSecond, treeCpuMs, treesCpuMs } from "./proc-cpu.js";
import { sleep } from "./processes.js";

export interface CoreTime {
  busy: number;
  total: number;
}

/** Busy and total jiffies of each CPU (`cpuN` lines; idle and iowait count as not busy). */
export function coreTimes(): CoreTime[] {
  const out: CoreTime[] = [];
  for (const line of readFileSync("/proc/stat", "utf8").split("\n")) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    out[Number(m[1])] = { busy: total - f[3]! - f[4]!, total };
  }
  return out;
}

/** Each core's busy share between two readings. */
export function coreBusy(before: readonly CoreTime[], after: readonly CoreTime[]): number[] {
  return after.map((a, i) => {
    const b = before[i] ?? { busy: 0, total: 0 };
    const total = a.total - b.total;
    return total > 0 ? (a.busy - b.busy) / total : NaN;
  });
}

/** Busy milliseconds summed over all cores between two readings. */
export function busyMs(before: readonly CoreTime[], after: readonly CoreTime[]): number {
  return after.reduce((n, c, i) => n + c.busy - (before[i]?.busy ?? 0), 0) * (1000 / clockTicksPerSecond());
}

/** CPU ms of this process and of the children it has reaped (finished h2load runs), from /proc/self/stat. */
export function selfAndReapedCpuMs(): number {
  const text = readFileSync("/proc/self/stat", "utf8");
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // Fields 14-17: utime, stime, cutime, cstime; f[0] is field 3.
  const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  return (ticks * 1000) / clockTicksPerSecond();
}

/**
 * CPU time of one process in ms with nanosecond resolution: the run time of
 * each of its live threads (first field of /proc/PID/task/TID/schedstat, the
 * scheduler's sum_exec_runtime, which utime + stime split and round to clock
 * ticks of 10 ms). A run of a few hundred ms of CPU would otherwise carry
 * errors of several percent. Threads that have exited are not counted: fine
 * for processes whose threads live as long as they do (HAProxy's, Node's).
 * Falls back to utime + stime of the tree without schedstat.
 */
export function processCpuPreciseMs(pid: number): number {
  let ns = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // the thread has just exited
      }
    }
  } catch {
    return treeCpuMs(pid);
  }
  return Number.isFinite(ns) && ns > 0 ? ns / 1e6 : treeCpuMs(pid);
}

/**
 * Pins every thread of `pid` to `cpus` (taskset list syntax). Threads it
 * creates later inherit the mask, so pinning a process right after it starts
 * covers it whole; pinning this process covers what it spawns from then on.
 */
export function pinProcess(taskset: string, pid: number, cpus: string): void {
  execFileSync(taskset, ["-a", "-p", "-c", cpus, String(pid)], { stdio: "ignore" });
}

/**
 * Measures what the bench's own processes and everything else take from the
 * cores. `ours` lists the process trees of the bench (proxies, backends,
 * relays); this process and the h2load runs it has reaped count too.
 */
export class ForeignMeter {
  constructor(private readonly ours: () => readonly number[]) {}

  /** A reading to pass to `since`. */
  mark(): { cores: CoreTime[]; oursMs: number; t: number } {
    return { cores: coreTimes(), oursMs: treesCpuMs(this.ours()) + selfAndReapedCpuMs(), t: performance.now() };
  }

  /**
   * Since `m`: the CPU other processes took (share of one core), and each
   * core's busy share. Call it after the h2load run was reaped, so that its
   * CPU is counted as the bench's.
   */
  since(m: ReturnType<ForeignMeter["mark"]>): { foreign: number; coreBusy: number[]; wallMs: number } {
    const cores = coreTimes();
    const oursMs = treesCpuMs(this.ours()) + selfAndReapedCpuMs() - m.oursMs;
    const wallMs = performance.now() - m.t;
    return { foreign: Math.max(0, busyMs(m.cores, cores) - oursMs) / wallMs, coreBusy: coreBusy(m.cores, cores), wallMs };
  }

  /** Foreign CPU over the next `ms` (the bench's processes idle meanwhile). */
  async sample(ms: number): Promise<number> {
    const m = this.mark();
    await sleep(ms);
    return this.since(m).foreign;
  }

  /**
   * Waits, at most `budgetMs`, for a second in which other processes take
   * less than `max` of a core. Returns the time waited (ms).
   */
  async waitQuiet(max: number, budgetMs: number, onWait?: (foreign: number) => void): Promise<number> {
    const t0 = Date.now();
    let said = false;
    while (Date.now() - t0 < budgetMs) {
      const f = await this.sample(1000);
      if (f <= max) break;
      if (!said) onWait?.(f);
      said = true;
    }
    return Date.now() - t0;
  }
}

/** Where a spawned process is to run: `taskset -c CPUS` before its command. */
export interface CpuPin {
  taskset: string;
  /** taskset list syntax, e.g. "1". */
  cpus: string;
}

/**
 * The command and arguments that start `cmd args` on `pin`'s cores (taskset
 * execs the command, so the pid stays the process's own and every thread it
 * makes inherits the mask); unchanged without a pin.
 */
export function pinnedCommand(pin: CpuPin | undefined, cmd: string, args: readonly string[]): [string, string[]] {
  return pin ? [pin.taskset, ["-c", pin.cpus, cmd, ...args]] : [cmd, [...args]];
}
