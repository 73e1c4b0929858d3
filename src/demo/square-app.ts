import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** The demo's gRPC service: Square.Compute answers value² and the replica's name. */
export const SQUARE_PROTO = fileURLToPath(new URL('../../../protos/square.proto', import.meta.url));

export interface SquareReply {
  result: string;
  replica: string;
}

export type SquareClient = grpc.Client & {
  Compute(req: { value: number }, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, r?: SquareReply) => void): grpc.ClientUnaryCall;
};

function loadSquare(): grpc.GrpcObject {
  const def = protoLoader.loadSync(SQUARE_PROTO, { longs: String, defaults: true });
  return grpc.loadPackageDefinition(def).square as grpc.GrpcObject;
}

/** Starts one replica on 127.0.0.1 (port 0 = any). */
export async function startSquareReplica(name: string, port = 0): Promise<{ server: grpc.Server; port: number }> {
  const pkg = loadSquare();
  const server = new grpc.Server();
  const service = (pkg.Square as grpc.ServiceClientConstructor).service;
  server.addService(service, {
    Compute(call: grpc.ServerUnaryCall<{ value: string }, SquareReply>, cb: grpc.sendUnaryData<SquareReply>) {
      const v = BigInt(call.request.value);
      cb(null, { result: String(v * v), replica: name });
    },
  });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { server, port: bound };
}

/** A client with exactly one HTTP/2 connection to `target` (as most gRPC clients use). */
export function squareClient(target: string): SquareClient {
  const pkg = loadSquare();
  const Ctor = pkg.Square as grpc.ServiceClientConstructor;
  return new Ctor(target, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }) as unknown as SquareClient;
}

export function compute(client: SquareClient, value: number, deadlineMs = 5000): Promise<SquareReply> {
  return new Promise((resolve, reject) => {
    client.Compute({ value }, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, r) => (err ? reject(err) : resolve(r!)));
  });
}
