/**
 * The systems under test in the proxy benchmark, behind one interface:
 * "direct" (the client talks to the backend itself), HAProxy, nginx and
 * Switchyard. A system that fails to start is returned with `error` set
 * instead of throwing, so the bench can report it and go on.
 */
import { startHaproxy } from "./haproxy.js";
import { startNginxProxy } from "./nginx.js";
import { freePort, type RunningServer } from "./processes.js";
import { processRssKb, treeRssKb } from "./proc-cpu.js";
import { startSwitchyard, switchyardConfigYaml } from "./switchyard.js";

export type SystemId = "direct" | "haproxy" | "nginx" | "switchyard";
export const ALL_SYSTEMS: readonly SystemId[] = ["direct", "haproxy", "nginx", "switchyard"];
export const SYSTEM_LABEL: Record<SystemId, string> = {
  direct: "direct",
  haproxy: "HAProxy",
  nginx: "nginx",
  switchyard: "Switchyard",
};

export interface Endpoint {
  host: string;
  port: number;
}

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

export async function startSystem(
  id: SystemId,
  backends: readonly Endpoint[],
  backendPids: readonly number[],
  opts: { balance?: "rr" | "least"; switchyard?: SwitchyardLaunch; maxConnections?: number } = {},
): Promise<SystemHandle> {
  const label = SYSTEM_LABEL[id];
  if (id === "direct") {
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
    if (id === "haproxy") {
      server = await startHaproxy({
        port,
        backends,
        balance: least ? "leastconn" : "roundrobin",
        maxConnections: opts.maxConnections,
      });
    } else if (id === "nginx") {
      server = await startNginxProxy({
        port,
        backends,
        balance: least ? "least_conn" : "round-robin",
        keepalive: Math.max(1024, backends.length * 2),
        maxConnections: opts.maxConnections,
      });
    } else {
      const balancer = least ? "least-request" : "round-robin";
      const sy = opts.switchyard ?? {};
      server = await startSwitchyard({
        port,
        backends,
        balancer,
        protocol: "http2",
        nodeBinary: sy.nodeBinary,
        env: sy.env,
        extraArgs: sy.extraArgs,
        configYaml: sy.useConfig ? switchyardConfigYaml({ port, balancer, backends, protocol: "http2" }) : undefined,
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
