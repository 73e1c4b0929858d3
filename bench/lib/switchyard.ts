/**
 * Starts Switchyard from the compiled CLI (dist/src/cli/main.js). Readiness
 * is "the listen port accepts TCP connections".
 *
 *   node dist/src/cli/main.js run --listen 127.0.0.1:PORT --to H:P1,H:P2 \
 *        --balancer round-robin --protocol http2 --admin 127.0.0.1:0
 *   node dist/src/cli/main.js run --config FILE
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { pinnedCommand, type CpuPin } from "./cores.js";
import { processEnvVar, processTree } from "./proc-cpu.js";
import { describeOutput, makeTempDir, readyServer, removeTempDir, sleep, startProcess, stopProcess, type RunningServer, type Tracked } from "./processes.js";

/** Repository root (this file compiles to dist/bench/lib/switchyard.js). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

export const switchyardCli = path.join(repoRoot, "dist", "src", "cli", "main.js");

/**
 * The Node flags the `switchyard` program starts Node with: its shell prologue
 * (line 2 of the CLI) execs `node FLAGS "$0"`. The bench starts the CLI with
 * `node` directly, so it reads the flags from there to measure what users run.
 */
export function switchyardNodeFlags(): string[] {
  const prologue = readFileSync(switchyardCli, "utf8").split("\n", 2)[1] ?? "";
  const m = / node ((?:--\S+ ?)*)"\$0"/.exec(prologue);
  return m ? m[1]!.trim().split(/\s+/).filter(Boolean) : [];
}

export type SwitchyardBalancer = "round-robin" | "least-request" | "peak-ewma" | (string & {});

export interface SwitchyardOptions {
  host?: string;
  port: number;
  /** Endpoints for the `--to` form. Ignored when `configYaml` is given. */
  backends?: ReadonlyArray<{ host: string; port: number }>;
  balancer?: SwitchyardBalancer;
  protocol?: "http2" | "http1" | "grpc" | (string & {});
  /** `--upstream-protocol` (omitted: the CLI's default, http2). */
  upstreamProtocol?: "http2" | "http1";
  /** Only `--listen`, `--to` and `--admin 127.0.0.1:0`: the proxy as users start it, every other flag at its default. */
  userDefaults?: boolean;
  /** Run on these cores. */
  pin?: CpuPin;
  /** Run with `run --config FILE` using this YAML text instead of flags. */
  configYaml?: string;
  /** Extra environment (e.g. NODE_OPTIONS). */
  env?: Record<string, string>;
  /** Node binary (default: the one running the bench). */
  nodeBinary?: string;
  /** Extra Node flags after the CLI's own (e.g. --cpu-prof, which NODE_OPTIONS does not take). */
  nodeArgs?: readonly string[];
  /** Extra CLI arguments appended after `run ...`. */
  extraArgs?: readonly string[];
  readyTimeoutMs?: number;
}

/** Argument vector for the CLI (without the node binary). */
export function switchyardArgs(opts: SwitchyardOptions, configFile?: string): string[] {
  const host = opts.host ?? "127.0.0.1";
  if (configFile) return [switchyardCli, "run", "--config", configFile, ...(opts.extraArgs ?? [])];
  const to = (opts.backends ?? []).map((b) => `${b.host}:${b.port}`).join(",");
  // The admin port is the one flag changed from its default (127.0.0.1:9990), which may be taken.
  if (opts.userDefaults) return [switchyardCli, "run", "--listen", `${host}:${opts.port}`, "--to", to, "--admin", "127.0.0.1:0", ...(opts.extraArgs ?? [])];
  const upstream = opts.upstreamProtocol ? ["--upstream-protocol", opts.upstreamProtocol] : [];
  return [
    switchyardCli,
    "run",
    "--listen",
    `${host}:${opts.port}`,
    "--to",
    to,
    "--balancer",
    opts.balancer ?? "round-robin",
    "--protocol",
    opts.protocol ?? "http2",
    ...upstream,
    "--admin",
    "127.0.0.1:0",
    ...(opts.extraArgs ?? []),
  ];
}

/**
 * YAML for `run --config`: one listener, one service.
 * Endpoints are written as "host:port" strings.
 */
export function switchyardConfigYaml(opts: {
  host?: string;
  port: number;
  protocol?: string;
  balancer: string;
  backends: ReadonlyArray<{ host: string; port: number }>;
}): string {
  const host = opts.host ?? "127.0.0.1";
  const lines = [
    "admin:",
    '  listen: "127.0.0.1:0"',
    "listeners:",
    "  - name: bench",
    `    listen: "${host}:${opts.port}"`,
    `    protocol: ${opts.protocol ?? "http2"}`,
    "    service: s",
    "services:",
    "  - name: s",
    `    balancer: ${opts.balancer}`,
    "    endpoints:",
    ...opts.backends.map((b) => `      - "${b.host}:${b.port}"`),
    "",
  ];
  return lines.join("\n");
}

export async function startSwitchyard(opts: SwitchyardOptions): Promise<RunningServer> {
  const host = opts.host ?? "127.0.0.1";
  if (!existsSync(switchyardCli)) {
    throw new Error(`Switchyard CLI not built (${path.relative(repoRoot, switchyardCli)} missing; run npm run build)`);
  }
  let dir: string | undefined;
  let configFile: string | undefined;
  if (opts.configYaml !== undefined) {
    dir = makeTempDir("switchyard");
    configFile = path.join(dir, "switchyard.yaml");
    writeFileSync(configFile, opts.configYaml);
  }
  const name = `switchyard(${opts.balancer ?? (configFile ? "config" : "round-robin")})`;
  const [cmd, args] = pinnedCommand(opts.pin, opts.nodeBinary ?? process.execPath, [
    ...switchyardNodeFlags(),
    ...(opts.nodeArgs ?? []),
    ...switchyardArgs(opts, configFile),
  ]);
  const proc = startProcess(name, cmd, args, {
    cwd: repoRoot,
    env: { ...process.env, ...(opts.env ?? {}) },
  });
  const timeoutMs = opts.readyTimeoutMs ?? 15_000;
  if (opts.port !== 0) return readyServer(proc, { host, ports: [opts.port], timeoutMs, dir });
  // Port 0: the ports the listeners were given, in configuration order, from their "listening" lines.
  let ports: number[];
  try {
    ports = [...(await listeningPorts(proc, timeoutMs)).values()];
  } catch (e) {
    await stopProcess(proc);
    if (dir) removeTempDir(dir);
    throw e;
  }
  return readyServer(proc, { host, ports, timeoutMs, dir });
}

/**
 * The port of each listener (by name, in the order they were logged) from
 * the first "listening" line of each. A port picked beforehand (bound to 0,
 * read, released) can be taken by any other process before Switchyard binds
 * it, and with --workers that is a second or more later (primary start, fork,
 * worker start): on a machine where test suites bind ephemeral ports all the
 * time, such a start fails with EADDRINUSE. Listeners on port 0 cannot lose
 * their port that way.
 */
export async function listeningPorts(proc: Tracked, timeoutMs = 15_000): Promise<Map<string, number>> {
  const deadline = Date.now() + timeoutMs;
  const names = new Set<string>();
  for (;;) {
    const ports = new Map<string, number>();
    let logged = 0;
    for (const line of proc.stdout().split("\n")) {
      if (!line.includes('"msg":"listening"')) continue;
      const r = JSON.parse(line) as { listener?: string; address?: string };
      if (r.listener === undefined || r.address === undefined) continue;
      logged++;
      if (!ports.has(r.listener)) ports.set(r.listener, Number(r.address.slice(r.address.lastIndexOf(":") + 1)));
    }
    // One process logs all of its listeners together: the set is complete once a name repeats or the log goes quiet.
    if (ports.size > 0 && (logged > ports.size || ports.size === names.size)) return ports;
    for (const n of ports.keys()) names.add(n);
    if (proc.hasExited()) throw new Error(`Switchyard exited (${proc.exitStatus()}) before listening${describeOutput(proc)}`);
    if (Date.now() > deadline) throw new Error(`Switchyard logged no "listening" line within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/**
 * The role of each process in a Switchyard tree: "single process" without
 * --workers; with it, "primary" (the node:cluster primary, which only
 * accepts and hands connections on) and "worker N" (from the
 * SWITCHYARD_WORKER variable the primary gives each worker).
 */
export function switchyardProcessRoles(rootPid: number): Map<number, string> {
  const tree = processTree(rootPid);
  if (tree.length === 1) return new Map([[rootPid, "single process"]]);
  return new Map(
    tree.map((pid) => {
      if (pid === rootPid) return [pid, "primary"];
      const index = processEnvVar(pid, "SWITCHYARD_WORKER");
      return [pid, index === undefined ? `pid ${pid}` : `worker ${index}`];
    }),
  );
}

/**
 * Waits until `count` processes of a Switchyard run have logged "listening".
 * With --workers the port accepts connections as soon as the first worker
 * listens; a connection made before the others are up would all go to it.
 */
export async function waitForListeningWorkers(proc: Tracked, count: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const listening = () => proc.stdout().split("\n").filter((line) => line.includes('"msg":"listening"')).length;
  while (listening() < count) {
    if (proc.hasExited()) throw new Error(`Switchyard exited (${proc.exitStatus()}) before ${count} workers listened`);
    if (Date.now() > deadline) throw new Error(`only ${listening()} of ${count} workers listened within ${timeoutMs} ms`);
    await sleep(50);
  }
}
