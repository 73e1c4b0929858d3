/**
 * The gRPC unary call of scenario 4: its request frame for h2load -d, and a
 * one-call check over node:http2 that a system answers it with grpc-status 0.
 */
import http2 from "node:http2";
import type { Endpoint } from "../lib/systems.js";

export const GRPC_PATH = "/switchyard.bench.Ping/Ping";

/** A gRPC message frame holding PingRequest{payload: `size` bytes}. */
export function grpcPingFrame(size: number): Buffer {
  const payload = Buffer.alloc(size, 0x62);
  // protobuf: field 1, wire type 2 (length-delimited), varint length (< 128 here)
  if (size >= 128) throw new Error("payload too large for this encoder");
  const msg = Buffer.concat([Buffer.from([0x0a, size]), payload]);
  const head = Buffer.alloc(5);
  head.writeUInt8(0, 0);
  head.writeUInt32BE(msg.length, 1);
  return Buffer.concat([head, msg]);
}

/** One unary call over node:http2; returns the grpc-status seen (or an error text). */
export function grpcCheck(target: Endpoint, frame: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const session = http2.connect(`http://${target.host}:${target.port}`);
    const timer = setTimeout(() => {
      session.destroy();
      resolve("timeout");
    }, 5000);
    const finish = (s: string) => {
      clearTimeout(timer);
      session.close();
      resolve(s);
    };
    session.on("error", (e) => finish(`error: ${e.message}`));
    const req = session.request({
      ":method": "POST",
      ":path": GRPC_PATH,
      "content-type": "application/grpc",
      te: "trailers",
    });
    let status: string | undefined;
    let bytes = 0;
    req.on("response", (h) => {
      if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
    });
    req.on("trailers", (t) => {
      if (t["grpc-status"] !== undefined) status = String(t["grpc-status"]);
    });
    req.on("data", (d: Buffer) => (bytes += d.length));
    req.on("end", () => finish(status === undefined ? "no grpc-status" : `grpc-status ${status}, ${bytes} bytes`));
    req.on("error", (e) => finish(`error: ${e.message}`));
    req.end(frame);
  });
}

