/**
 * Starts HAProxy in the foreground (-db) with a generated configuration:
 * one thread, HTTP mode, an h2c frontend and h2c servers.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import {
  findExecutable,
  makeTempDir,
  openFileLimit,
  readyServer,
  runToCompletion,
  startProcess,
  type RunningServer,
} from "./processes.js";

export function haproxyBinary(): string | undefined {
  return findExecutable("haproxy");
}

export interface HaproxyOptions {
  host?: string;
  port: number;
  backends: ReadonlyArray<{ host: string; port: number }>;
  balance: "roundrobin" | "leastconn";
  maxConnections?: number;
  /** Extra lines appended to the backend section. */
  backendExtra?: readonly string[];
}

export function haproxyConfig(opts: HaproxyOptions): string {
  const host = opts.host ?? "127.0.0.1";
  // HAProxy needs about two descriptors per connection and refuses to start
  // when maxconn does not fit in the file limit.
  const fit = Math.floor((openFileLimit() - 256) / 2);
  const maxconn = Math.max(256, Math.min(opts.maxConnections ?? 20_000, fit));
  const servers = opts.backends
    .map((b, i) => `    server s${i + 1} ${b.host}:${b.port} proto h2`)
    .join("\n");
  return `global
    nbthread 1
    maxconn ${maxconn}
    tune.h2.max-concurrent-streams 1000
    # Larger HTTP/2 stream window (the default 65535 throttles large bodies).
    tune.h2.initial-window-size 1048576
    tune.bufsize 65536

defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 5s
    timeout client 3600s
    timeout server 60s
    timeout http-keep-alive 3600s
    timeout client-fin 5s

frontend fe
    bind ${host}:${opts.port} proto h2
    maxconn ${maxconn}
    default_backend be

backend be
    balance ${opts.balance}
${(opts.backendExtra ?? []).map((l) => `    ${l}`).join("\n")}
${servers}
`;
}

export async function startHaproxy(opts: HaproxyOptions): Promise<RunningServer> {
  const bin = haproxyBinary();
  if (!bin) throw new Error("haproxy not found (install haproxy)");
  const host = opts.host ?? "127.0.0.1";
  const dir = makeTempDir("haproxy");
  const cfg = path.join(dir, "haproxy.cfg");
  writeFileSync(cfg, haproxyConfig(opts));
  const name = `haproxy(${opts.balance})`;
  const proc = startProcess(name, bin, ["-db", "-f", cfg], { cwd: dir });
  return readyServer(proc, { host, ports: [opts.port], timeoutMs: 15_000, dir });
}

/** First line of `haproxy -v`. */
export async function haproxyVersion(): Promise<string> {
  const bin = haproxyBinary();
  if (!bin) return "not installed";
  const r = await runToCompletion("haproxy", bin, ["-v"], 5000);
  return r.stdout.trim().split("\n")[0] ?? "unknown";
}
