/**
 * gRPC backend (@grpc/grpc-js) serving switchyard.bench.Ping/Ping (echo) on
 * one or more ports of one process.
 * Usage: node dist/bench/servers/grpc-backend.js PORT[,PORT...] [HOST]
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
// dist/bench/servers -> repository root
export const PING_PROTO = path.resolve(here, "..", "..", "..", "bench", "protos", "ping.proto");

const ports = (process.argv[2] ?? "").split(",").filter(Boolean).map(Number);
const host = process.argv[3] ?? "127.0.0.1";
if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p <= 0)) {
  process.stderr.write("usage: grpc-backend PORT[,PORT...] [HOST]\n");
  process.exit(64);
}

const def = protoLoader.loadSync(PING_PROTO, { keepCase: true, longs: String, defaults: true });
const loaded = grpc.loadPackageDefinition(def) as unknown as {
  switchyard: { bench: { Ping: grpc.ServiceClientConstructor } };
};
const service = loaded.switchyard.bench.Ping.service;

const server = new grpc.Server({ "grpc.max_concurrent_streams": 1000 });
server.addService(service, {
  Ping: (call: grpc.ServerUnaryCall<{ payload: Buffer }, { payload: Buffer }>, cb: grpc.sendUnaryData<{ payload: Buffer }>) => {
    cb(null, { payload: call.request.payload });
  },
});

let bound = 0;
for (const port of ports) {
  server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
    if (err) {
      process.stderr.write(`grpc-backend: bind ${host}:${port} failed: ${err.message}\n`);
      process.exit(1);
    }
    bound++;
    if (bound === ports.length) process.stdout.write(`listening ${ports.join(",")}\n`);
  });
}
const stop = () => server.tryShutdown(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
