/**
 * CPU time and resident memory of a process tree, read from /proc (Linux only).
 *
 * CPU time is utime + stime (fields 14 and 15 of /proc/PID/stat, in clock
 * ticks) summed over the process and every live descendant. Descendants are
 * found by scanning /proc/* /stat for their parent pid, which works whether or
 * not the kernel exposes /proc/PID/task/TID/children.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

let clockTicks: number | undefined;

/** Clock ticks per second (sysconf(_SC_CLK_TCK)); 100 on practically every Linux. */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    clockTicks = 100;
    try {
      const out = execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim();
      const n = Number(out);
      if (Number.isFinite(n) && n > 0) clockTicks = n;
    } catch {
      // keep the default
    }
  }
  return clockTicks;
}

interface StatFields {
  pid: number;
  ppid: number;
  utime: number;
  stime: number;
}

function readStat(pid: number): StatFields | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may contain spaces or
  // parentheses itself, so split after the last ")".
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const rest = text.slice(close + 2).split(" ");
  // rest[0] is field 3 (state); field N is rest[N - 3].
  return {
    pid,
    ppid: Number(rest[4 - 3]),
    utime: Number(rest[14 - 3]),
    stime: Number(rest[15 - 3]),
  };
}

/** Pids of all live descendants of `root` (not including `root`). */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(Number(name));
    if (!st) continue;
    const list = children.get(st.ppid);
    if (list) list.push(st.pid);
    else children.set(st.ppid, [st.pid]);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const p = queue.shift()!;
    for (const c of children.get(p) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

/** The pid followed by its descendants. */
export function processTree(pid: number): number[] {
  return [pid, ...descendants(pid)];
}

/** CPU time (user + system) in milliseconds of one process (not its children). */
export function processCpuMs(pid: number): number {
  const st = readStat(pid);
  if (!st) return 0;
  return ((st.utime + st.stime) * 1000) / clockTicksPerSecond();
}

/**
 * User-mode CPU time (utime) in milliseconds of one process: the share of
 * processCpuMs spent in the program's own code. The rest (stime) is the
 * kernel's work for it, mostly system calls, whose cost per call varies
 * between machines (a virtual machine pays more for each): two programs that
 * make different numbers of calls compare differently on another machine,
 * and the user part shows by how much.
 */
export function processUserMs(pid: number): number {
  const st = readStat(pid);
  return st ? (st.utime * 1000) / clockTicksPerSecond() : 0;
}

/** CPU time (user + system, or `perProcess`) in milliseconds of `pid` and all its live descendants. */
export function treeCpuMs(pid: number, perProcess: (pid: number) => number = processCpuMs): number {
  let total = 0;
  for (const p of processTree(pid)) total += perProcess(p);
  return total;
}

/** CPU time in milliseconds summed over several process trees (as treeCpuMs). */
export function treesCpuMs(pids: readonly number[], perProcess: (pid: number) => number = processCpuMs): number {
  let total = 0;
  for (const p of pids) total += treeCpuMs(p, perProcess);
  return total;
}

/** CPU time in milliseconds per named group of processes (pid -> group name, e.g. "worker 0"). */
export function groupsCpuMs(groups: ReadonlyMap<number, string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [pid, group] of groups) out[group] = (out[group] ?? 0) + processCpuMs(pid);
  return out;
}

/** One variable of a process's initial environment (/proc/PID/environ); undefined if unset or unreadable. */
export function processEnvVar(pid: number, name: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/environ`, "utf8");
  } catch {
    return undefined;
  }
  const prefix = `${name}=`;
  return text
    .split("\0")
    .find((entry) => entry.startsWith(prefix))
    ?.slice(prefix.length);
}

/** VmRSS of one process in KiB (0 if it is gone or is a kernel thread). */
export function processRssKb(pid: number): number {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return 0;
  }
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** Resident memory of one process in KiB: VmRSS and its anonymous and file-backed parts (0 when gone). */
export function processMemoryKb(pid: number): { rss: number; anon: number; file: number } {
  let text = "";
  try {
    text = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    // gone: zeros
  }
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, "m").exec(text)?.[1] ?? 0);
  return { rss: field("VmRSS"), anon: field("RssAnon"), file: field("RssFile") };
}

/** VmRSS in KiB summed over `pid` and its live descendants. */
export function treeRssKb(pid: number): number {
  let total = 0;
  for (const p of processTree(pid)) total += processRssKb(p);
  return total;
}

/** Measures the CPU a set of process trees spends while `fn` runs. */
export async function measureCpu<T>(
  pids: readonly number[],
  fn: () => Promise<T>,
): Promise<{ result: T; cpuMs: number; wallMs: number }> {
  const before = treesCpuMs(pids);
  const t0 = process.hrtime.bigint();
  const result = await fn();
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const after = treesCpuMs(pids);
  return { result, cpuMs: after - before, wallMs };
}
