/**
 * The backends of the proxy benchmark, started on the bench's core: one
 * nginx process serving tiny responses (and a large static file) on N ports,
 * h2c or HTTP/1.1, or the grpc-js echo server.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startNginxBackend } from "../lib/nginx.js";
import { freePorts, startProcess, stopProcess, waitForPort, type RunningServer, type Tracked } from "../lib/processes.js";
import type { Endpoint } from "../lib/systems.js";
import type { ScenarioSetup } from "./run-systems.js";

/** The URL of `p` on `target` (h2load takes the protocol from its flags, not the scheme). */
export function h2(target: Endpoint, p = "/"): string {
  return `http://${target.host}:${target.port}${p}`;
}

export async function nginxBackends(count: number, bigResponseBytes?: number, http1 = false): Promise<ScenarioSetup> {
  const ports = await freePorts(count);
  const srv: RunningServer = await startNginxBackend({
    ports,
    bigResponseBytes,
    http1,
    maxConnections: count > 100 ? 16_384 : 8192,
  });
  return {
    backends: ports.map((port) => ({ host: "127.0.0.1", port })),
    backendPids: [srv.pid],
    stop: () => srv.stop(),
  };
}

/** dist/bench (this file compiles to dist/bench/proxies/backends.js). */
const benchDist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export async function grpcBackends(count: number): Promise<ScenarioSetup> {
  const ports = await freePorts(count);
  const proc: Tracked = startProcess("grpc-backend", process.execPath, [
    path.join(benchDist, "servers", "grpc-backend.js"),
    ports.join(","),
  ]);
  for (const p of ports) await waitForPort("127.0.0.1", p, 15_000, proc);
  return {
    backends: ports.map((port) => ({ host: "127.0.0.1", port })),
    backendPids: [proc.pid],
    stop: () => stopProcess(proc),
  };
}

