/**
 * The systems under test in the proxy benchmark, behind one interface:
 * "direct" (the client talks to the backend itself), HAProxy and nginx
 * (each default and tuned) and Switchyard. A system that fails to start is returned with `error` set
 * instead of throwing, so the bench can report it and go on.
 */
import type { CpuPin } from "./cores.js";
import { startHaproxy } from "./haproxy.js";
import { startNginxProxy } from "./nginx.js";
import { freePort, type RunningServer } from "./processes.js";
import { processRssKb, treeRssKb } from "./proc-cpu.js";
import { startSwitchyard, switchyardConfigYaml } from "./switchyard.js";

export type SystemKind = "direct" | "haproxy" | "nginx" | "switchyard";

/**
 * One row of the tables. HAProxy and nginx come twice: "default" as users
 * deploy them from the documentation, "tuned" with the settings a benchmark
 * tunes; ratios are taken against HAProxy tuned.
 */
export type SystemId = "direct" | "haproxy-default" | "haproxy-tuned" | "nginx-default" | "nginx-tuned" | "switchyard";
export const ALL_SYSTEMS: readonly SystemId[] = [
  "direct",
  "haproxy-default",
  "haproxy-tuned",
  "nginx-default",
  "nginx-tuned",
  "switchyard",
];
export const SYSTEM_LABEL: Record<SystemId, string> = {
  direct: "direct",
  "haproxy-default": "HAProxy default",
  "haproxy-tuned": "HAProxy tuned",
  "nginx-default": "nginx default",
  "nginx-tuned": "nginx tuned",
  switchyard: "Switchyard",
};

/** The row every ratio is taken against. */
export const BASELINE: SystemId = "haproxy-tuned";

export function systemKind(id: SystemId): SystemKind {
  return id.startsWith("haproxy") ? "haproxy" : id.startsWith("nginx") ? "nginx" : (id as SystemKind);
}

/**
 * The rows a `--systems` list names: row ids, or a kind ("haproxy",
 * "nginx") for both of its rows. Throws on an unknown name.
 */
export function parseSystems(list: string): SystemId[] {
  const out = new Set<SystemId>();
  for (const name of list.split(",").map((x) => x.trim()).filter(Boolean)) {
    const rows = ALL_SYSTEMS.filter((id) => id === name || systemKind(id) === name);
    if (rows.length === 0) throw new Error(`--systems: unknown system "${name}" (expected ${ALL_SYSTEMS.join(", ")}, haproxy or nginx)`);
    for (const r of rows) out.add(r);
  }
  return ALL_SYSTEMS.filter((id) => out.has(id));
}

export interface Endpoint {
  host: string;
  port: number;
}

/** What the clients and the backends of a scenario speak. */
export interface Wire {
  client: "h2" | "http1";
  upstream: "h2" | "http1";
}

export const H2C_BOTH_SIDES: Wire = { client: "h2", upstream: "h2" };

export interface SystemHandle {
  id: SystemId;
  label: string;
  /** Where the load generator connects. */
  target?: Endpoint;
  /** Process trees whose CPU is "the system's" CPU. */
  cpuPids: number[];
  /** The proxy process, when there is one. */
  server?: RunningServer;
  error?: string;
  /** Why this row is not measured in this scenario (the system cannot do what it asks). */
  skipped?: string;
  /** RSS in KiB (the proxy tree; for direct the backend tree). */
  rssKb(): number;
  stop(): Promise<void>;
}

export interface SwitchyardLaunch {
  nodeBinary?: string;
  env?: Record<string, string>;
  /** Use `run --config` with a generated YAML instead of `--to`. */
  useConfig?: boolean;
  /** Extra `run` arguments (e.g. `--workers 2`); a flag given twice takes the last value. */
  extraArgs?: readonly string[];
}

/** A row that is not measured: `reason` says why. */
function skippedSystem(id: SystemId, reason: string): SystemHandle {
  return { id, label: SYSTEM_LABEL[id], cpuPids: [], skipped: reason, rssKb: () => NaN, stop: async () => {} };
}

export async function startSystem(
  id: SystemId,
  backends: readonly Endpoint[],
  backendPids: readonly number[],
  opts: {
    balance?: "rr" | "least";
    switchyard?: SwitchyardLaunch;
    maxConnections?: number;
    /** Default: h2c on both sides. */
    wire?: Wire;
    /** Cores for the proxy (none for direct: the backends are placed by whoever starts them). */
    pin?: CpuPin;
  } = {},
): Promise<SystemHandle> {
  const label = SYSTEM_LABEL[id];
  const wire = opts.wire ?? H2C_BOTH_SIDES;
  if (id === "direct") {
    if (wire.client !== wire.upstream) return skippedSystem(id, "the client and the backends speak different protocols");
    return {
      id,
      label,
      target: backends[0],
      cpuPids: [...backendPids],
      rssKb: () => backendPids.reduce((a, p) => a + processRssKb(p), 0),
      stop: async () => {},
    };
  }
  const least = opts.balance === "least";
  try {
    const port = await freePort();
    let server: RunningServer;
    const kind = systemKind(id);
    const tuned = id.endsWith("-tuned");
    if (kind === "nginx" && wire.client === "http1" && wire.upstream === "h2") {
      return skippedSystem(id, "nginx speaks h2c to upstreams only through grpc_pass, which needs an HTTP/2 client");
    }
    if (kind === "haproxy") {
      server = await startHaproxy({
        port,
        backends,
        balance: least ? "leastconn" : "roundrobin",
        maxConnections: opts.maxConnections,
        tuned,
        frontend: wire.client,
        servers: wire.upstream,
        pin: opts.pin,
        // An HTTP/2 response has no reason phrase and HAProxy relays none ("HTTP/1.1 200 "), which
        // h2load --h1 counts as failed: one rule gives the 200s theirs back.
        backendExtra: wire.client === "http1" && wire.upstream === "h2" ? ["http-response set-status 200 reason OK if { status 200 }"] : undefined,
      });
    } else if (kind === "nginx") {
      server = await startNginxProxy({
        port,
        backends,
        balance: least ? "least_conn" : "round-robin",
        keepalive: Math.max(1024, backends.length * 2),
        maxConnections: opts.maxConnections,
        tuned,
        frontend: wire.client,
        upstream: wire.upstream,
        pin: opts.pin,
      });
    } else {
      const balancer = least ? "least-request" : "round-robin";
      const sy = opts.switchyard ?? {};
      server = await startSwitchyard({
        port,
        backends,
        balancer,
        protocol: wire.client === "http1" ? "http1" : "http2",
        upstreamProtocol: wire.upstream === "http1" ? "http1" : undefined,
        nodeBinary: sy.nodeBinary,
        env: sy.env,
        extraArgs: sy.extraArgs,
        configYaml: sy.useConfig ? switchyardConfigYaml({ port, balancer, backends, protocol: "http2" }) : undefined,
        pin: opts.pin,
      });
    }
    return {
      id,
      label,
      target: { host: server.host, port: server.port },
      cpuPids: [server.pid],
      server,
      rssKb: () => treeRssKb(server.pid),
      stop: () => server.stop(),
    };
  } catch (e) {
    return {
      id,
      label,
      cpuPids: [],
      error: `failed to start: ${(e as Error).message}`,
      rssKb: () => NaN,
      stop: async () => {},
    };
  }
}

/** Non-empty when the system's process has died since it started. */
export function systemDeath(s: SystemHandle): string | undefined {
  const p = s.server?.process;
  if (p && p.hasExited()) {
    const tail = (p.stderr().trim() || p.stdout().trim()).split("\n").slice(-3).join(" | ").slice(0, 400);
    return `exited (${p.exitStatus()})${tail ? `: ${tail}` : ""}`;
  }
  return undefined;
}
