/**
 * Child-process helpers for the benchmarks: spawn a tracked child in its own
 * process group, wait for a TCP port, stop whole trees, free ports and temp
 * directories. Everything spawned or created here is torn down when the
 * benchmark exits, including on SIGINT/SIGTERM and uncaught errors.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

/** Last bytes of a child's stdout/stderr, kept for error messages. */
const OUTPUT_TAIL_BYTES = 16 * 1024;

export interface Tracked {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code (or signal name) once the child has exited. */
  readonly exited: Promise<number | string>;
  /** Resolves once the child has exited and its stdio pipes are closed. */
  readonly closed: Promise<void>;
  /** True once the child has exited. */
  hasExited(): boolean;
  /** The exit code / signal once exited. */
  exitStatus(): number | string | undefined;
  /** Tail of what the child wrote to stdout. */
  stdout(): string;
  /** Tail of what the child wrote to stderr. */
  stderr(): string;
  /** Registers a callback for each stdout chunk (text). */
  onStdout(fn: (chunk: string) => void): void;
}

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Keep all stdout instead of a tail (for children whose output is parsed). */
  keepAllStdout?: boolean;
}

const live = new Set<Tracked>();
const tempDirs = new Set<string>();
let hooksInstalled = false;

function appendTail(buf: string, chunk: string, keepAll: boolean): string {
  const next = buf + chunk;
  if (keepAll || next.length <= OUTPUT_TAIL_BYTES) return next;
  return next.slice(next.length - OUTPUT_TAIL_BYTES);
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Synchronous last-resort cleanup: SIGKILL every tracked group, remove temp dirs. */
export function cleanupNow(): void {
  for (const t of live) {
    if (!t.hasExited()) killGroup(t.pid, "SIGKILL");
  }
  live.clear();
  for (const d of tempDirs) {
    try {
      rmSync(d, { recursive: true, force: true });
    } catch {
      // ignore
    }
  }
  tempDirs.clear();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", cleanupNow);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(sig, () => {
      process.stderr.write(`\nbench: received ${sig}, stopping child processes\n`);
      cleanupNow();
      process.exit(130);
    });
  }
  process.on("uncaughtException", (err) => {
    process.stderr.write(`bench: uncaught exception: ${err?.stack ?? String(err)}\n`);
    cleanupNow();
    process.exit(1);
  });
  process.on("unhandledRejection", (err) => {
    process.stderr.write(`bench: unhandled rejection: ${(err as Error)?.stack ?? String(err)}\n`);
    cleanupNow();
    process.exit(1);
  });
}

/**
 * Spawns `cmd args` in a new process group (so the whole tree can be killed)
 * and tracks it for cleanup.
 */
export function startProcess(name: string, cmd: string, args: readonly string[], opts: SpawnOptions = {}): Tracked {
  installHooks();
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  let status: number | string | undefined;
  let spawnError: Error | undefined;
  const listeners: Array<(chunk: string) => void> = [];
  child.stdout?.setEncoding("utf8");
  child.stderr?.setEncoding("utf8");
  child.stdout?.on("data", (c: string) => {
    out = appendTail(out, c, opts.keepAllStdout === true);
    for (const l of listeners) l(c);
  });
  child.stderr?.on("data", (c: string) => {
    err = appendTail(err, c, false);
  });
  const exited = new Promise<number | string>((resolve) => {
    child.on("error", (e) => {
      spawnError = e;
      if (status === undefined) {
        status = `spawn error: ${e.message}`;
        resolve(status);
      }
    });
    child.on("exit", (code, signal) => {
      if (status === undefined) {
        status = code ?? signal ?? "unknown";
        resolve(status);
      }
    });
  });
  const closed = new Promise<void>((resolve) => {
    child.on("close", () => resolve());
    child.on("error", () => resolve());
  });
  const tracked: Tracked = {
    name,
    child,
    pid: child.pid ?? -1,
    exited,
    closed,
    hasExited: () => status !== undefined,
    exitStatus: () => status,
    stdout: () => out,
    stderr: () => (spawnError ? `${err}\n${spawnError.message}` : err),
    onStdout: (fn) => listeners.push(fn),
  };
  live.add(tracked);
  void exited.then(() => {
    // The group may still hold grandchildren; make sure they go too.
    if (tracked.pid > 0) killGroup(tracked.pid, "SIGKILL");
    live.delete(tracked);
  });
  return tracked;
}

/** Stops a tracked child: SIGTERM to its group, then SIGKILL after `graceMs`. */
export async function stopProcess(t: Tracked | undefined, graceMs = 3000): Promise<void> {
  if (!t) return;
  if (t.pid <= 0 || t.hasExited()) {
    live.delete(t);
    return;
  }
  killGroup(t.pid, "SIGTERM");
  const timer = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), graceMs).unref());
  if ((await Promise.race([t.exited, timer])) === "timeout") {
    killGroup(t.pid, "SIGKILL");
    await Promise.race([t.exited, new Promise((r) => setTimeout(r, 2000).unref())]);
  }
  live.delete(t);
}

/** A server process the bench started and owns. */
export interface RunningServer {
  readonly name: string;
  readonly pid: number;
  readonly process: Tracked;
  readonly host: string;
  readonly port: number;
  /** All ports served (a backend may serve several endpoints). */
  readonly ports: readonly number[];
  readonly dir?: string;
  stop(): Promise<void>;
}

/**
 * Waits until `proc` accepts connections on each of `waitPorts` (default:
 * all of `ports`) and returns it as a RunningServer whose stop() ends the
 * process and removes `dir`. If it never gets ready, the process is stopped
 * and `dir` removed before the error is rethrown.
 */
export async function readyServer(
  proc: Tracked,
  spec: { host: string; ports: readonly number[]; waitPorts?: readonly number[]; timeoutMs: number; dir?: string },
): Promise<RunningServer> {
  const stop = async () => {
    await stopProcess(proc);
    if (spec.dir) removeTempDir(spec.dir);
  };
  try {
    for (const p of spec.waitPorts ?? spec.ports) await waitForPort(spec.host, p, spec.timeoutMs, proc);
  } catch (e) {
    await stop();
    throw e;
  }
  return { name: proc.name, pid: proc.pid, process: proc, host: spec.host, port: spec.ports[0]!, ports: spec.ports, dir: spec.dir, stop };
}

/** Stops every tracked child (in parallel). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((t) => stopProcess(t)));
}

function tryConnect(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok: boolean) => {
      sock.removeAllListeners();
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once("connect", () => done(true));
    sock.once("error", () => done(false));
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export { sleep };

/**
 * Polls until `host:port` accepts a TCP connection. Fails early if `owner`
 * exits, and after `timeoutMs` otherwise.
 */
export async function waitForPort(
  host: string,
  port: number,
  timeoutMs = 10_000,
  owner?: Tracked,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (owner?.hasExited()) {
      throw new Error(
        `${owner.name} exited (${owner.exitStatus()}) before ${host}:${port} accepted connections` +
          describeOutput(owner),
      );
    }
    if (await tryConnect(host, port, 500)) return;
    if (Date.now() > deadline) {
      throw new Error(
        `${host}:${port} did not accept connections within ${timeoutMs} ms` + (owner ? describeOutput(owner) : ""),
      );
    }
    await sleep(50);
  }
}

/** Short description of a child's output for error messages. */
export function describeOutput(t: Tracked): string {
  const all = (t.stderr().trim() || t.stdout().trim()).split("\n").filter((l) => l.trim());
  // Prefer the lines that say what went wrong.
  const important = all.filter((l) => /alert|emerg|error|fatal|cannot|failed/i.test(l));
  const lines = (important.length ? important : all).slice(-3).join(" | ");
  return lines ? `: ${lines.slice(0, 600)}` : "";
}

/**
 * The first port of the kernel's ephemeral range (Linux; 49152, the IANA range, elsewhere).
 * `listen(0)` and outgoing connections take their ports from that range, so
 * a port below it, once found free, is not taken by someone else between
 * this check and the caller's own bind (a port the kernel picked and then
 * released can be: by the next outgoing connection of any process).
 */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 12_000) return low;
  } catch {
    // not Linux: the IANA range
  }
  return 49_152;
}

const PORT_FLOOR = 10_000;
let portSpan: number | undefined;
let nextPort = 0;

function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

/**
 * `count` ports free right now on `host`, for programs that need their port
 * up front (HAProxy, nginx, a README's commands), taken below the ephemeral
 * range. Each process walks that span from its own offset (by PID), so
 * concurrent test files and benchmarks rarely try the same port.
 */
export async function freePorts(count: number, host = "127.0.0.1"): Promise<number[]> {
  if (portSpan === undefined) {
    portSpan = ephemeralLow() - PORT_FLOOR;
    nextPort = (process.pid * 7919) % portSpan;
  }
  const out: number[] = [];
  for (let tries = 0; out.length < count; tries++) {
    if (tries >= count + 500) throw new Error(`no ${count} free ports between ${PORT_FLOOR} and ${PORT_FLOOR + portSpan}`);
    const port = PORT_FLOOR + (nextPort++ % portSpan);
    if (await bindable(port, host)) out.push(port);
  }
  return out;
}

/** One port, as freePorts. */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  return (await freePorts(1, host))[0]!;
}

/** Creates a temp directory under os.tmpdir(), removed when the bench exits. */
export function makeTempDir(prefix: string): string {
  installHooks();
  const dir = mkdtempSync(path.join(os.tmpdir(), `switchyard-bench-${prefix}-`));
  tempDirs.add(dir);
  return dir;
}

/** Removes a temp directory now. */
export function removeTempDir(dir: string): void {
  tempDirs.delete(dir);
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // ignore
  }
}

/** Finds an executable in PATH or in the extra directories (e.g. /usr/sbin). */
export function findExecutable(name: string, extraDirs: readonly string[] = ["/usr/sbin", "/usr/local/sbin", "/sbin"]): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(path.delimiter).filter(Boolean), ...extraDirs];
  for (const d of dirs) {
    const p = path.join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

/** Soft RLIMIT_NOFILE of this process (children inherit it). */
export function openFileLimit(): number {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    if (m && m[1] !== "unlimited") return Number(m[1]);
  } catch {
    // fall through
  }
  return 1_048_576;
}

/** Exit code for "a required tool is missing". */
export const EXIT_MISSING_TOOL = 2;

/**
 * Resolves required executables or prints a clear message and exits with
 * code 2 (the CI script installs them via apt: nghttp2-client, haproxy,
 * nginx-light).
 */
export function requireTools(tools: ReadonlyArray<{ name: string; pkg: string }>): Record<string, string> {
  const found: Record<string, string> = {};
  const missing: string[] = [];
  for (const t of tools) {
    const p = findExecutable(t.name);
    if (p) found[t.name] = p;
    else missing.push(`${t.name} (Debian/Ubuntu package: ${t.pkg})`);
  }
  if (missing.length > 0) {
    process.stderr.write(
      `bench: required tool(s) not found in PATH or /usr/sbin:\n  ${missing.join("\n  ")}\n` +
        `install them, e.g.: sudo apt-get install -y ${tools
          .filter((t) => !found[t.name])
          .map((t) => t.pkg)
          .join(" ")}\n`,
    );
    process.exit(EXIT_MISSING_TOOL);
  }
  return found;
}

/** Runs a command to completion and returns its output (bounded by `timeoutMs`). */
export async function runToCompletion(
  name: string,
  cmd: string,
  args: readonly string[],
  timeoutMs: number,
  opts: SpawnOptions = {},
): Promise<{ code: number | string; stdout: string; stderr: string; timedOut: boolean }> {
  const t = startProcess(name, cmd, args, { ...opts, keepAllStdout: true });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void stopProcess(t, 1000);
  }, timeoutMs);
  const code = await t.exited;
  clearTimeout(timer);
  // Let the pipes drain (bounded: a leftover grandchild could hold them open).
  await Promise.race([t.closed, sleep(2000)]);
  return { code, stdout: t.stdout(), stderr: t.stderr(), timedOut };
}
