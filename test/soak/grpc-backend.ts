/**
 * The soak's @grpc/grpc-js backend of the test Echo service
 * (test/fixtures/echo.proto). What a call does is a JSON command in the
 * request's `text` field:
 *
 *   Unary        {op:"echo"}       the payload back; its sha256 in the trailer
 *                                  x-request-sha256
 *                {op:"hold",delay} answers after `delay` ms (a deadline is
 *                                  meant to expire first)
 *                {op:"fail-once"}  UNAVAILABLE unless the call carries
 *                                  grpc-previous-rpc-attempts (a retry, gRFC A6)
 *   ServerStream {seed,count,max}  `count` messages; message i carries the
 *                                  body (seed + i, streamSizes(...)[i])
 *   ClientStream {op:"digest"}     one reply: count, bytes and sha256 of all
 *                                  payloads, in `text`
 *                {op:"early"}      RESOURCE_EXHAUSTED after the first message,
 *                                  while the client is still sending
 *   Bidi                           every message echoed as it comes
 */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { EchoMessage } from '../helpers/grpc-echo.js';
import { mulberry32 } from '../helpers/engine-frames.js';
import { bodyBytes, Digest, sha256Hex } from './payload.js';

const PROTO = path.resolve('test/fixtures/echo.proto');
export const GRPC_LIMITS = { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 };
const MAX_HOLD_MS = 20_000;

export function echoService(): grpc.ServiceClientConstructor {
  const def = protoLoader.loadSync(PROTO, { defaults: true, keepCase: false });
  return (grpc.loadPackageDefinition(def).test as grpc.GrpcObject).Echo as grpc.ServiceClientConstructor;
}

/** Sizes of a server stream's messages: 0..max, biased to small ones. */
export function streamSizes(seed: number, count: number, max: number): number[] {
  const rng = mulberry32(seed ^ 0x51ce);
  return Array.from({ length: count }, () => Math.floor(max * rng() ** 3));
}

interface Command {
  op?: string;
  delay?: number;
  seed?: number;
  count?: number;
  max?: number;
}

function command(m: EchoMessage): Command {
  try {
    return JSON.parse(m.text || '{}') as Command;
  } catch {
    return {};
  }
}

function status(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() }) as grpc.ServiceError;
}

export interface SoakGrpcBackend {
  readonly name: string;
  readonly port: number;
  /** Calls started and not finished (ended, failed or cancelled) yet. */
  open(): number;
  calls(): number;
  close(): void;
}

export async function startSoakGrpcBackend(name: string): Promise<SoakGrpcBackend> {
  const server = new grpc.Server(GRPC_LIMITS);
  let open = 0;
  let calls = 0;
  /** Counts a call as open until it ends one way or the other, exactly once. */
  const track = (call: { on(event: 'cancelled', fn: () => void): unknown }): (() => void) => {
    open++;
    calls++;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      open--;
    };
    call.on('cancelled', finish);
    return finish;
  };
  server.addService(echoService().service, {
    Unary(call: grpc.ServerUnaryCall<EchoMessage, EchoMessage>, cb: grpc.sendUnaryData<EchoMessage>) {
      const finish = track(call);
      const c = command(call.request);
      const payload = call.request.payload ?? Buffer.alloc(0);
      const reply = (): void => {
        finish();
        const trailer = new grpc.Metadata();
        trailer.set('x-request-sha256', sha256Hex(payload));
        cb(null, { payload, backend: name }, trailer);
      };
      if (c.op === 'hold') {
        const t = setTimeout(() => {
          if (!call.cancelled) reply();
        }, Math.min(c.delay ?? 0, MAX_HOLD_MS));
        call.on('cancelled', () => clearTimeout(t));
        return;
      }
      if (c.op === 'fail-once' && call.metadata.get('grpc-previous-rpc-attempts').length === 0) {
        finish();
        cb(status(grpc.status.UNAVAILABLE, 'failing once'));
        return;
      }
      reply();
    },
    ServerStream(call: grpc.ServerWritableStream<EchoMessage, EchoMessage>) {
      const finish = track(call);
      const c = command(call.request);
      const seed = c.seed ?? 0;
      const sizes = streamSizes(seed, c.count ?? 0, c.max ?? 0);
      let i = 0;
      // Writes while grpc-js accepts, then waits for 'drain': a slow client
      // holds the backend back instead of piling messages up in memory.
      const next = (): void => {
        while (!call.cancelled && i < sizes.length) {
          const ok = call.write({ payload: bodyBytes(seed + i, sizes[i]!), count: i, backend: name });
          i++;
          if (!ok) {
            call.once('drain', next);
            return;
          }
        }
        finish();
        if (!call.cancelled) call.end();
      };
      next();
    },
    ClientStream(call: grpc.ServerReadableStream<EchoMessage, EchoMessage>, cb: grpc.sendUnaryData<EchoMessage>) {
      const finish = track(call);
      const d = new Digest();
      let count = 0;
      let answered = false;
      call.on('data', (m: EchoMessage) => {
        if (answered) return;
        if (count === 0 && command(m).op === 'early') {
          answered = true;
          finish();
          cb(status(grpc.status.RESOURCE_EXHAUSTED, 'answering early'));
          return;
        }
        count++;
        d.update(m.payload ?? Buffer.alloc(0));
      });
      call.on('end', () => {
        if (answered) return;
        answered = true;
        finish();
        cb(null, { count, text: JSON.stringify({ bytes: d.bytes, sha256: d.hex() }), backend: name });
      });
      call.on('error', () => finish());
    },
    Bidi(call: grpc.ServerDuplexStream<EchoMessage, EchoMessage>) {
      const finish = track(call);
      call.on('data', (m: EchoMessage) => {
        if (!call.write({ payload: m.payload, count: m.count, backend: name })) {
          call.pause();
          call.once('drain', () => call.resume());
        }
      });
      call.on('end', () => {
        finish();
        call.end();
      });
      call.on('error', () => finish());
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { name, port, open: () => open, calls: () => calls, close: () => server.forceShutdown() };
}
