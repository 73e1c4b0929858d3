/**
 * Bare node:http2 h2c server: answers every stream with 200 "ok".
 * Usage: node dist/bench/servers/node-http2-server.js PORT [HOST]
 */
import http2 from "node:http2";

const port = Number(process.argv[2]);
const host = process.argv[3] ?? "127.0.0.1";
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write("usage: node-http2-server PORT [HOST]\n");
  process.exit(64);
}

const body = Buffer.from("ok");
const server = http2.createServer({ settings: { maxConcurrentStreams: 1000 } });
server.on("stream", (stream) => {
  stream.respond({ ":status": 200, "content-type": "text/plain", "content-length": body.length });
  stream.end(body);
});
server.on("sessionError", () => {});
server.listen(port, host);
const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
