/**
 * h2c backend for the load-balancing bench (node:http2).
 *
 *   node dist/bench/servers/delay-backend.js --port P --stats-port S \
 *        [--delay MS] [--mode ok|fail] [--host 127.0.0.1]
 *
 * mode ok:   answers after --delay ms; HTTP: 200 "ok"; gRPC (content-type
 *            application/grpc*): an empty message and grpc-status 0 trailers.
 * mode fail: answers at once; HTTP: 503; gRPC: trailers-only response with
 *            grpc-status 14 (UNAVAILABLE).
 *
 * Counters are served as JSON by a plain HTTP/1.1 endpoint on --stats-port:
 * GET /stats -> {"served":N,"ok":N,"failed":N}; POST /mode?mode=fail&delay=MS
 * switches behaviour; POST /reset zeroes the counters.
 */
import http from "node:http";
import http2 from "node:http2";

function arg(name: string, def?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

const host = arg("host", "127.0.0.1")!;
const port = Number(arg("port"));
const statsPort = Number(arg("stats-port"));
let delayMs = Number(arg("delay", "0"));
let mode: "ok" | "fail" = arg("mode", "ok") === "fail" ? "fail" : "ok";
if (!Number.isInteger(port) || !Number.isInteger(statsPort)) {
  process.stderr.write("usage: delay-backend --port P --stats-port S [--delay MS] [--mode ok|fail]\n");
  process.exit(64);
}

const counters = { served: 0, ok: 0, failed: 0 };
const okBody = Buffer.from("ok");
// gRPC message frame: uncompressed, zero-length protobuf message.
const emptyGrpcMessage = Buffer.from([0, 0, 0, 0, 0]);

function answer(stream: http2.ServerHttp2Stream, grpc: boolean): void {
  if (stream.destroyed || stream.closed) return;
  if (mode === "fail") {
    counters.failed++;
    if (grpc) {
      stream.respond(
        { ":status": 200, "content-type": "application/grpc", "grpc-status": "14", "grpc-message": "unavailable" },
        { endStream: true },
      );
    } else {
      stream.respond({ ":status": 503, "content-type": "text/plain", "content-length": 0 }, { endStream: true });
    }
    return;
  }
  counters.ok++;
  if (grpc) {
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
    stream.end(emptyGrpcMessage);
  } else {
    stream.respond({ ":status": 200, "content-type": "text/plain", "content-length": okBody.length });
    stream.end(okBody);
  }
}

const server = http2.createServer({ settings: { maxConcurrentStreams: 1000 } });
server.on("stream", (stream, headers) => {
  counters.served++;
  const ct = String(headers["content-type"] ?? "");
  const grpc = ct.startsWith("application/grpc");
  stream.on("error", () => {});
  // Drain any request body.
  stream.resume();
  if (mode === "fail" || delayMs <= 0) answer(stream, grpc);
  else setTimeout(() => answer(stream, grpc), delayMs);
});
server.on("sessionError", () => {});
server.listen(port, host);

const stats = http.createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://x");
  if (url.pathname === "/stats") {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ ...counters, mode, delayMs }));
  } else if (url.pathname === "/reset" && req.method === "POST") {
    counters.served = counters.ok = counters.failed = 0;
    res.end("{}");
  } else if (url.pathname === "/mode" && req.method === "POST") {
    const m = url.searchParams.get("mode");
    if (m === "ok" || m === "fail") mode = m;
    const d = url.searchParams.get("delay");
    if (d !== null && Number.isFinite(Number(d))) delayMs = Number(d);
    res.end(JSON.stringify({ mode, delayMs }));
  } else {
    res.statusCode = 404;
    res.end();
  }
});
stats.listen(statsPort, host);

const stop = () => {
  process.stdout.write(JSON.stringify(counters) + "\n");
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
