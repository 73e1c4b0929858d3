/**
 * HTTP/1.1 client CPU per request: Switchyard's own client codec
 * (src/http1/client-connection.ts) beside undici (Pool.dispatch, the API the
 * upstream pool used), both driving the same nginx HTTP/1.1 backend with
 * keep-alive connections, one request at a time per connection.
 *
 * Each run is a child process pinned to core 1 (`taskset -c 1`; nginx on
 * core 0) that measures its own CPU time (process.cpuUsage) over the load
 * only, not its start-up. Runs alternate (own, undici, own, …) so both see
 * the same machine; the report gives min/median/max µs per request and the
 * ratio of medians, and flags a spread above 20%.
 *
 *   node dist/bench/http1-client.js [--requests N] [--connections C] [--rounds R] [--no-pin]
 */
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import net from "node:net";
import { fileURLToPath } from "node:url";
import type { Dispatcher, Pool } from "undici";
import { ClientConnection, type ClientConnectionOwner, type ClientExchange } from "../src/http1/client-connection.js";
import { BodyFraming, encodeRequestHead } from "../src/http1/client-request-head.js";
import { parseBenchArgs } from "./lib/args.js";
import { runBenchMain } from "./lib/entry.js";
import { pinProcess } from "./lib/cores.js";
import { nginxBinary, startNginxBackend } from "./lib/nginx.js";
import { findExecutable, freePort } from "./lib/processes.js";
import { spreadOf, type Spread } from "./lib/stats.js";

const USAGE = `usage: node dist/bench/http1-client.js [--requests N] [--connections C] [--rounds R] [--no-pin]
`;

interface WorkerResult {
  cpuUs: number;
  requests: number;
}

/** The load of one run, inside the pinned child: `n` GETs over `c` connections, then its CPU time. */
async function worker(kind: string, port: number, n: number, c: number): Promise<WorkerResult> {
  const warm = Math.min(2000, n / 10);
  if (kind === "own") await ownLoad(port, warm, c);
  else await undiciLoad(port, warm, c);
  const before = process.cpuUsage();
  if (kind === "own") await ownLoad(port, n, c);
  else await undiciLoad(port, n, c);
  const used = process.cpuUsage(before);
  return { cpuUs: used.user + used.system, requests: n };
}

/** `c` connections, each sending the next GET when the previous response ends. */
function ownLoad(port: number, n: number, c: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const head = encodeRequestHead("GET", "/", ["host", `127.0.0.1:${port}`], BodyFraming.NONE);
    let started = 0;
    let done = 0;
    const owner: ClientConnectionOwner = {
      onConnectionIdle(conn) {
        if (started < n) send(conn);
        else conn.destroy();
      },
      onConnectionClose(_conn, err) {
        if (err !== undefined && done < n) reject(err);
      },
    };
    class Exchange implements ClientExchange {
      onResponseHead(): void {}
      onResponseData(): void {}
      onResponseEnd(): void {
        if (++done === n) resolve();
      }
      onRequestDrain(): void {}
      onConnectionError(err: Error): void {
        reject(err);
      }
    }
    const ex = new Exchange();
    function send(conn: ClientConnection): void {
      started++;
      conn.send(ex, head, BodyFraming.NONE, false);
    }
    for (let i = 0; i < c; i++) {
      const s = net.connect({ host: "127.0.0.1", port });
      s.setNoDelay(true);
      const conn = new ClientConnection(s, owner);
      s.once("connect", () => (started < n ? send(conn) : conn.destroy()));
    }
  });
}

/** undici's Pool with `c` connections, `c` requests outstanding at a time, dispatched as the upstream pool did. */
async function undiciLoad(port: number, n: number, c: number): Promise<void> {
  const { Pool: PoolCtor } = createRequire(import.meta.url)("undici") as { Pool: typeof Pool };
  const pool = new PoolCtor(`http://127.0.0.1:${port}`, { connections: c, pipelining: 1, headersTimeout: 0, bodyTimeout: 0 });
  await new Promise<void>((resolve, reject) => {
    let started = 0;
    let done = 0;
    const opts: Dispatcher.DispatchOptions = { method: "GET", path: "/", headers: [], blocking: true };
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart() {},
      onResponseStart() {},
      onResponseData() {},
      onResponseEnd() {
        if (++done === n) resolve();
        else if (started < n) next();
      },
      onResponseError(_c, err) {
        reject(err);
      },
    };
    function next(): void {
      started++;
      pool.dispatch(opts, handler);
    }
    for (let i = 0; i < c && started < n; i++) next();
  });
  await pool.destroy();
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === "--worker") {
    const r = await worker(argv[1]!, Number(argv[2]), Number(argv[3]), Number(argv[4]));
    process.stdout.write(JSON.stringify(r) + "\n");
    return;
  }
  let requests = 100_000;
  let connections = 10;
  let rounds = 5;
  let pin = true;
  parseBenchArgs(argv, USAGE, (flag, value) => {
    if (flag === "--requests") requests = Number(value());
    else if (flag === "--connections") connections = Number(value());
    else if (flag === "--rounds") rounds = Number(value());
    else if (flag === "--no-pin") pin = false;
    else return false;
    return true;
  });
  const nginx = nginxBinary();
  const taskset = findExecutable("taskset");
  if (nginx === undefined || (pin && taskset === undefined)) {
    process.stderr.write("needs nginx (nginx-light) and taskset (util-linux)\n");
    process.exit(2);
  }
  const port = await freePort();
  const backend = await startNginxBackend({ ports: [port], http1: true });
  if (pin) pinProcess(taskset!, backend.pid, "0");
  const self = fileURLToPath(import.meta.url);
  const per: Record<string, number[]> = { own: [], undici: [] };
  for (let r = 0; r < rounds; r++) {
    for (const kind of ["own", "undici"]) {
      const args = [self, "--worker", kind, String(port), String(requests), String(connections)];
      const out = pin
        ? execFileSync(taskset!, ["-c", "1", process.execPath, ...args], { encoding: "utf8" })
        : execFileSync(process.execPath, args, { encoding: "utf8" });
      const res = JSON.parse(out) as WorkerResult;
      per[kind]!.push(res.cpuUs / res.requests);
    }
  }
  await backend.stop();
  const own = spreadOf(per.own!);
  const und = spreadOf(per.undici!);
  const line = (name: string, s: Spread): string =>
    `${name.padEnd(8)} µs CPU/request  min ${s.min.toFixed(2)}  median ${s.median.toFixed(2)}  max ${s.max.toFixed(2)}${s.flagged ? `  (spread ${(s.spread * 100).toFixed(0)}% > 20%)` : ""}`;
  process.stdout.write(
    `HTTP/1.1 client → nginx, ${connections} connections, ${requests} requests × ${rounds} rounds, interleaved, node ${process.version}${pin ? ", client on core 1, nginx on core 0" : ""}\n` +
      line("own", own) + "\n" + line("undici", und) + "\n" +
      `undici / own (medians): ${(und.median / own.median).toFixed(2)}×\n`,
  );
}

runBenchMain(main);
