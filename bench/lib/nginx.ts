/**
 * Starts nginx in the foreground (single process: `master_process off`,
 * one worker) with a generated configuration in a private temp prefix,
 * either as a backend (h2c or HTTP/1.1) or as a proxy: HTTP/2 to the
 * upstreams with grpc_pass (nginx speaks h2c upstream only there), HTTP/1.1
 * with proxy_pass.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pinnedCommand, type CpuPin } from "./cores.js";
import {
  findExecutable,
  makeTempDir,
  readyServer,
  runToCompletion,
  startProcess,
  type RunningServer,
} from "./processes.js";


export function nginxBinary(): string | undefined {
  return findExecutable("nginx");
}

function commonMain(dir: string, maxConnections: number, tuned = true): string {
  return `daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile ${maxConnections * 2 + 256};
error_log stderr warn;
pid ${path.join(dir, "nginx.pid")};
events {
    worker_connections ${maxConnections};${tuned ? "\n    multi_accept on;" : ""}
}
`;
}

/** The http block's common lines; `tuned` keeps client connections open and raises the HTTP/2 stream limit. */
function commonHttp(dir: string, tuned = true): string {
  const paths = `    access_log off;
    client_body_temp_path ${path.join(dir, "client_body")};
    proxy_temp_path ${path.join(dir, "proxy")};
    fastcgi_temp_path ${path.join(dir, "fastcgi")};
    uwsgi_temp_path ${path.join(dir, "uwsgi")};
    scgi_temp_path ${path.join(dir, "scgi")};
    server_tokens off;
`;
  // h2load does not reconnect when nginx closes a client connection after keepalive_requests (1,000 by
  // default, HTTP/2 included): the default configuration raises it too, or a run would stop at 1,000 requests.
  const clientRequests = "    keepalive_requests 100000000;\n";
  if (!tuned) return paths + clientRequests;
  return `${paths}    # nginx closes a connection after keepalive_requests requests (HTTP/2
    # included); keep long benchmark connections open.
    keepalive_requests 100000000;
    keepalive_timeout 3600s;
    http2_max_concurrent_streams 1000;
`;
}

async function launch(name: string, dir: string, conf: string, host: string, ports: number[], pin?: CpuPin): Promise<RunningServer> {
  const bin = nginxBinary();
  if (!bin) throw new Error("nginx not found (install nginx-light)");
  const confPath = path.join(dir, "nginx.conf");
  writeFileSync(confPath, conf);
  const [cmd, args] = pinnedCommand(pin, bin, ["-e", "stderr", "-p", dir + "/", "-c", confPath]);
  const proc = startProcess(name, cmd, args);
  // With many ports, the first and last answering is enough: nginx binds them all before serving.
  const waitPorts = ports.length > 4 ? [ports[0]!, ports[ports.length - 1]!] : ports;
  return readyServer(proc, { host, ports, waitPorts, timeoutMs: 10_000, dir });
}

export interface NginxBackendOptions {
  host?: string;
  /** Ports to listen on (one `listen` per port, all in one process). */
  ports: readonly number[];
  /** Serve this many bytes at /big (a static file), e.g. 1 MiB. */
  bigResponseBytes?: number;
  maxConnections?: number;
  /** Serve HTTP/1.1 (keep-alive) instead of h2c. */
  http1?: boolean;
}

/**
 * nginx as an h2c (prior knowledge) or HTTP/1.1 backend: "ok" (200, 2
 * bytes) on every path, and a static file of `bigResponseBytes` at /big.
 */
export async function startNginxBackend(opts: NginxBackendOptions): Promise<RunningServer> {
  const host = opts.host ?? "127.0.0.1";
  const dir = makeTempDir("nginx-backend");
  const www = path.join(dir, "www");
  let big = "";
  if (opts.bigResponseBytes) {
    mkdirSync(www, { recursive: true });
    writeFileSync(path.join(www, "big"), Buffer.alloc(opts.bigResponseBytes, 0x61));
    big = `        location = /big {
            root ${www};
            default_type application/octet-stream;
        }
`;
  }
  const listens = opts.ports.map((p) => `        listen ${host}:${p}${opts.http1 ? "" : " http2"};`).join("\n");
  const conf = `${commonMain(dir, opts.maxConnections ?? 8192)}
http {
${commonHttp(dir)}
    server {
${listens}
        default_type text/plain;
${big}        location / {
            return 200 "ok";
        }
    }
}
`;
  return launch(opts.http1 ? "nginx-backend(http1)" : "nginx-backend", dir, conf, host, [...opts.ports]);
}

export interface NginxProxyOptions {
  host?: string;
  port: number;
  backends: ReadonlyArray<{ host: string; port: number }>;
  balance: "round-robin" | "least_conn";
  /** Idle upstream connections kept per worker (tuned; the default configuration keeps 32). */
  keepalive?: number;
  maxConnections?: number;
  /** The benchmark's tuning (default) or nginx's defaults plus the minimum to pool upstream connections (false). */
  tuned?: boolean;
  /** What clients speak: h2c (default) or HTTP/1.1. */
  frontend?: "h2" | "http1";
  /** What the upstreams speak: h2c through grpc_pass (default) or HTTP/1.1 through proxy_pass. */
  upstream?: "h2" | "http1";
  /** Run on these cores. */
  pin?: CpuPin;
}

/** Keep-alive pool of the default configuration: the figure nginx's documentation uses in its example. */
const DEFAULT_KEEPALIVE = 32;

/** The location block: grpc_pass for h2c upstreams, proxy_pass with HTTP/1.1 keep-alive otherwise. */
function proxyLocation(upstream: "h2" | "http1", tuned: boolean): string {
  if (upstream === "http1") {
    // Upstream keep-alive needs HTTP/1.1 and an empty Connection header (nginx sends "close" otherwise).
    const lines = ["proxy_pass http://backends;", "proxy_http_version 1.1;", 'proxy_set_header Connection "";'];
    if (tuned) lines.push("proxy_next_upstream off;");
    return lines.map((l) => `            ${l}`).join("\n");
  }
  const lines = ["grpc_pass grpc://backends;"];
  if (tuned) lines.push("grpc_buffer_size 64k;", "grpc_read_timeout 60s;", "grpc_send_timeout 60s;", "grpc_next_upstream off;");
  return lines.map((l) => `            ${l}`).join("\n");
}

/**
 * nginx as a proxy to an upstream group: `grpc_pass` (HTTP/2 to the
 * upstream, works for plain h2 requests as well as gRPC) or `proxy_pass`
 * over HTTP/1.1 keep-alive.
 */
export async function startNginxProxy(opts: NginxProxyOptions): Promise<RunningServer> {
  const host = opts.host ?? "127.0.0.1";
  const dir = makeTempDir("nginx-proxy");
  return launch(`nginx-proxy(${opts.balance})`, dir, nginxProxyConfig(opts, dir), host, [opts.port], opts.pin);
}

/** The configuration of `startNginxProxy`, its temp files under `dir`. */
export function nginxProxyConfig(opts: NginxProxyOptions, dir: string): string {
  const host = opts.host ?? "127.0.0.1";
  const tuned = opts.tuned !== false;
  const servers = opts.backends.map((b) => `        server ${b.host}:${b.port}${tuned ? " max_fails=0" : ""};`).join("\n");
  const pool = tuned
    ? `        keepalive ${opts.keepalive ?? 256};
        keepalive_requests 100000000;
        keepalive_timeout 3600s;`
    : `        keepalive ${DEFAULT_KEEPALIVE};`;
  return `${commonMain(dir, opts.maxConnections ?? 8192, tuned)}
http {
${commonHttp(dir, tuned)}
    upstream backends {
${opts.balance === "least_conn" ? "        least_conn;\n" : ""}${servers}
${pool}
    }
    server {
        listen ${host}:${opts.port}${opts.frontend === "http1" ? "" : " http2"};
        location / {
${proxyLocation(opts.upstream ?? "h2", tuned)}
        }
    }
}
`;
}

/** `nginx -v` (printed on stderr). */
export async function nginxVersion(): Promise<string> {
  const bin = nginxBinary();
  if (!bin) return "not installed";
  const r = await runToCompletion("nginx", bin, ["-v"], 5000);
  return (r.stderr || r.stdout).trim().split("\n")[0] ?? "unknown";
}
