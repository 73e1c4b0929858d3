/**
 * Starts nginx in the foreground (single process: `master_process off`,
 * one worker) with a generated configuration in a private temp prefix,
 * either as an h2c backend or as an HTTP/2 (grpc_pass) proxy.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
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

function commonMain(dir: string, maxConnections: number): string {
  return `daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile ${maxConnections * 2 + 256};
error_log stderr warn;
pid ${path.join(dir, "nginx.pid")};
events {
    worker_connections ${maxConnections};
    multi_accept on;
}
`;
}

function commonHttp(dir: string): string {
  return `    access_log off;
    client_body_temp_path ${path.join(dir, "client_body")};
    proxy_temp_path ${path.join(dir, "proxy")};
    fastcgi_temp_path ${path.join(dir, "fastcgi")};
    uwsgi_temp_path ${path.join(dir, "uwsgi")};
    scgi_temp_path ${path.join(dir, "scgi")};
    # nginx closes a connection after keepalive_requests requests (HTTP/2
    # included); keep long benchmark connections open.
    keepalive_requests 100000000;
    keepalive_timeout 3600s;
    http2_max_concurrent_streams 1000;
    server_tokens off;
`;
}

async function launch(name: string, dir: string, conf: string, host: string, ports: number[]): Promise<RunningServer> {
  const bin = nginxBinary();
  if (!bin) throw new Error("nginx not found (install nginx-light)");
  const confPath = path.join(dir, "nginx.conf");
  writeFileSync(confPath, conf);
  const proc = startProcess(name, bin, ["-e", "stderr", "-p", dir + "/", "-c", confPath]);
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
}

/**
 * nginx as an h2c (prior knowledge) backend: "ok" (200, 2 bytes) on every
 * path, and a static file of `bigResponseBytes` at /big.
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
  const listens = opts.ports.map((p) => `        listen ${host}:${p} http2;`).join("\n");
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
  return launch("nginx-backend", dir, conf, host, [...opts.ports]);
}

export interface NginxProxyOptions {
  host?: string;
  port: number;
  backends: ReadonlyArray<{ host: string; port: number }>;
  balance: "round-robin" | "least_conn";
  /** Idle upstream connections kept per worker. */
  keepalive?: number;
  maxConnections?: number;
}

/**
 * nginx as an HTTP/2 proxy: `grpc_pass` (HTTP/2 to the upstream, works for
 * plain h2 requests as well as gRPC) to an upstream group.
 */
export async function startNginxProxy(opts: NginxProxyOptions): Promise<RunningServer> {
  const host = opts.host ?? "127.0.0.1";
  const dir = makeTempDir("nginx-proxy");
  const servers = opts.backends.map((b) => `        server ${b.host}:${b.port} max_fails=0;`).join("\n");
  const conf = `${commonMain(dir, opts.maxConnections ?? 8192)}
http {
${commonHttp(dir)}
    upstream backends {
${opts.balance === "least_conn" ? "        least_conn;\n" : ""}${servers}
        keepalive ${opts.keepalive ?? 256};
        keepalive_requests 100000000;
        keepalive_timeout 3600s;
    }
    server {
        listen ${host}:${opts.port} http2;
        location / {
            grpc_pass grpc://backends;
            grpc_buffer_size 64k;
            grpc_read_timeout 60s;
            grpc_send_timeout 60s;
            grpc_next_upstream off;
        }
    }
}
`;
  return launch(`nginx-proxy(${opts.balance})`, dir, conf, host, [opts.port]);
}

/** `nginx -v` (printed on stderr). */
export async function nginxVersion(): Promise<string> {
  const bin = nginxBinary();
  if (!bin) return "not installed";
  const r = await runToCompletion("nginx", bin, ["-v"], 5000);
  return (r.stderr || r.stdout).trim().split("\n")[0] ?? "unknown";
}
