/**
 * Starts HAProxy in the foreground (-db) with a generated configuration:
 * one thread, HTTP mode, an h2c (or HTTP/1.1) frontend and h2c (or
 * HTTP/1.1) servers; optionally more frontends (TLS) on the same backend and
 * a runtime API socket. "Tuned" adds the settings a benchmark tunes (larger
 * HTTP/2 windows and stream limit, bigger buffers, `http-reuse always`);
 * without it the configuration is the plain one the documentation leads to.
 */
import { writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { pinnedCommand, type CpuPin } from "./cores.js";
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
  /** More frontends in front of the same backend (each its own counters in `show stat`). */
  frontends?: readonly HaproxyFrontend[];
  /** Unix socket of the runtime API (`show stat`, `show info`). */
  statsSocket?: string;
  /** The benchmark's tuning (default) or HAProxy's defaults (false). */
  tuned?: boolean;
  /** What the main frontend speaks: h2c (default) or HTTP/1.1. */
  frontend?: "h2" | "http1";
  /** What the servers speak: h2c (default) or HTTP/1.1. */
  servers?: "h2" | "http1";
  /** Run on these cores. */
  pin?: CpuPin;
}

export interface HaproxyFrontend {
  name: string;
  port: number;
  /** HTTP/1.1 clients (TLS with ALPN http/1.1) instead of HTTP/2 only. */
  http1?: boolean;
  /** TLS on this port; without it, h2c like the main frontend. */
  tls?: {
    /** PEM file holding the certificate chain and its key. */
    pem: string;
    alpn?: readonly string[];
    minVersion?: "TLSv1.2" | "TLSv1.3";
    /** TLS 1.3 cipher suites (OpenSSL syntax). */
    ciphersuites?: string;
    /** Require client certificates signed by this CA (mTLS). */
    clientCa?: string;
  };
}

function frontendSection(f: HaproxyFrontend, host: string, maxconn: number): string {
  const t = f.tls;
  // proto h2 also on TLS ports: a client without ALPN is served HTTP/2, as on the h2c port.
  const bind = t
    ? [
        `bind ${host}:${f.port} ssl crt ${t.pem}`,
        t.alpn ? `alpn ${t.alpn.join(",")}` : "",
        t.minVersion ? `ssl-min-ver ${t.minVersion}` : "",
        t.ciphersuites ? `ciphersuites ${t.ciphersuites}` : "",
        t.clientCa ? `ca-file ${t.clientCa} verify required` : "",
        f.http1 ? "" : "proto h2",
      ]
        .filter(Boolean)
        .join(" ")
    : `bind ${host}:${f.port} proto h2`;
  return `
frontend ${f.name}
    ${bind}
    maxconn ${maxconn}
    default_backend be
`;
}

export function haproxyConfig(opts: HaproxyOptions): string {
  const host = opts.host ?? "127.0.0.1";
  // HAProxy needs about two descriptors per connection and refuses to start
  // when maxconn does not fit in the file limit.
  const fit = Math.floor((openFileLimit() - 256) / 2);
  const maxconn = Math.max(256, Math.min(opts.maxConnections ?? 20_000, fit));
  const proto = opts.servers === "http1" ? "" : " proto h2";
  const servers = opts.backends.map((b, i) => `    server s${i + 1} ${b.host}:${b.port}${proto}`).join("\n");
  const tuned = opts.tuned !== false;
  const tune = tuned
    ? `
    tune.h2.max-concurrent-streams 1000
    # Larger HTTP/2 stream window (the default 65535 throttles large bodies).
    tune.h2.initial-window-size 1048576
    tune.bufsize 65536`
    : "";
  const stats = opts.statsSocket ? `\n    stats socket ${opts.statsSocket} mode 600 level admin` : "";
  return `global
    nbthread 1${stats}
    maxconn ${maxconn}${tune}

defaults
    mode http
    option http-keep-alive${tuned ? "\n    http-reuse always" : ""}
    timeout connect 5s
    timeout client 3600s
    timeout server 60s
    timeout http-keep-alive 3600s
    timeout client-fin 5s

frontend fe
    bind ${host}:${opts.port}${opts.frontend === "http1" ? "" : " proto h2"}
    maxconn ${maxconn}
    default_backend be
${(opts.frontends ?? []).map((f) => frontendSection(f, host, maxconn)).join("")}
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
  const [cmd, args] = pinnedCommand(opts.pin, bin, ["-db", "-f", cfg]);
  const proc = startProcess(name, cmd, args, { cwd: dir });
  const ports = [opts.port, ...(opts.frontends ?? []).map((f) => f.port)];
  return readyServer(proc, { host, ports, timeoutMs: 15_000, dir });
}

/** Sends one command to HAProxy's runtime API socket and returns the answer. */
export function haproxyCommand(socketPath: string, command: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socketPath);
    let out = "";
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`HAProxy runtime API: no answer to "${command}" within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.setEncoding("utf8");
    sock.on("connect", () => sock.write(`${command}\n`));
    sock.on("data", (c: string) => (out += c));
    sock.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on("close", () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

/**
 * Counters of each frontend by name, from `show stat typed`
 * (`F.<iid>.<sid>.<n>.<field>.<process>:<tags>:<type>:<value>`), e.g.
 * `ssl_sess` (TLS sessions established) and `ssl_reused_sess` (resumed).
 */
export async function haproxyFrontendStats(socketPath: string): Promise<Map<string, Record<string, string>>> {
  const byId = new Map<string, Record<string, string>>();
  for (const line of (await haproxyCommand(socketPath, "show stat typed")).split("\n")) {
    const m = /^F\.(\d+)\.\d+\.\d+\.([a-z0-9_]+)\.\d+:[^:]*:[^:]*:(.*)$/.exec(line);
    if (!m) continue;
    const fields = byId.get(m[1]!) ?? {};
    fields[m[2]!] = m[3]!;
    byId.set(m[1]!, fields);
  }
  const out = new Map<string, Record<string, string>>();
  for (const fields of byId.values()) if (fields.pxname !== undefined) out.set(fields.pxname, fields);
  return out;
}

/** First line of `haproxy -v`. */
export async function haproxyVersion(): Promise<string> {
  const bin = haproxyBinary();
  if (!bin) return "not installed";
  const r = await runToCompletion("haproxy", bin, ["-v"], 5000);
  return r.stdout.trim().split("\n")[0] ?? "unknown";
}
