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

export interface SquareReplicaOptions {
  /** Time each call takes before it is answered (ms; 0 = at once), as real work would. */
  serviceTimeMs?: number;
}

/**
 * One running replica, with the controls the demo acts on: make it slower
 * (a noisy neighbour, a GC-bound pod) and kill it (a crashed or evicted pod).
 */
export interface SquareReplica {
  readonly name: string;
  readonly server: grpc.Server;
  readonly port: number;
  /** Calls received and not answered yet. */
  readonly inFlight: number;
  /** Calls answered so far. */
  readonly answered: number;
  /** Every call takes `factor` times the service time from now on (1 = back to normal). */
  slowDown(factor: number): void;
  /** Closes every connection at once, calls in flight included, as a crashed process would. */
  kill(): void;
}

class Replica implements SquareReplica {
  inFlight = 0;
  answered = 0;
  delayMs: number;
  port = 0;
  readonly server = new grpc.Server();

  constructor(readonly name: string, private readonly serviceTimeMs: number) {
    this.delayMs = serviceTimeMs;
  }

  slowDown(factor: number): void {
    this.delayMs = this.serviceTimeMs * factor;
  }

  kill(): void {
    this.server.forceShutdown();
  }
}

function answer(replica: Replica, value: string, cb: grpc.sendUnaryData<SquareReply>): void {
  replica.inFlight--;
  replica.answered++;
  const v = BigInt(value);
  cb(null, { result: String(v * v), replica: replica.name });
}

/** Starts one replica on 127.0.0.1 (port 0 = any). */
export async function startSquareReplica(name: string, port = 0, options: SquareReplicaOptions = {}): Promise<SquareReplica> {
  const replica = new Replica(name, options.serviceTimeMs ?? 0);
  const service = (loadSquare().Square as grpc.ServiceClientConstructor).service;
  replica.server.addService(service, {
    Compute(call: grpc.ServerUnaryCall<{ value: string }, SquareReply>, cb: grpc.sendUnaryData<SquareReply>) {
      replica.inFlight++;
      if (replica.delayMs <= 0) answer(replica, call.request.value, cb);
      else setTimeout(answer, replica.delayMs, replica, call.request.value, cb);
    },
  });
  replica.port = await new Promise<number>((resolve, reject) =>
    replica.server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return replica;
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
