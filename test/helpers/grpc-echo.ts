/** A real @grpc/grpc-js server and client of the test Echo service (test/fixtures/echo.proto). */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export interface EchoMessage {
  text?: string;
  payload?: Buffer;
  count?: number;
  failCode?: number;
  delayMs?: number;
  backend?: string;
}

const PROTO = path.resolve('test/fixtures/echo.proto');

function echoPackage(): grpc.GrpcObject {
  const def = protoLoader.loadSync(PROTO, { defaults: true, keepCase: false });
  return grpc.loadPackageDefinition(def).test as grpc.GrpcObject;
}

const LIMITS = { 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 };

export interface EchoServer {
  name: string;
  port: number;
  server: grpc.Server;
  calls: number;
  cancelled: number;
  /** Metadata of the last call. */
  lastMetadata: grpc.Metadata | undefined;
  close(): void;
}

/** Response metadata: echo every request key starting with x- in both headers and trailers. */
function echoMetadata(md: grpc.Metadata, name: string): { initial: grpc.Metadata; trailing: grpc.Metadata } {
  const initial = new grpc.Metadata();
  const trailing = new grpc.Metadata();
  initial.set('x-backend', name);
  for (const [k, v] of Object.entries(md.getMap())) {
    if (!k.startsWith('x-')) continue;
    initial.set(k, v as never);
    trailing.set(`${k}-trailer${k.endsWith('-bin') ? '-bin' : ''}`.replace('-bin-trailer-bin', '-trailer-bin'), v as never);
  }
  return { initial, trailing };
}

/** `credentials`: how it listens (default plaintext; ServerCredentials.createSsl for TLS). */
export async function startEchoServer(name: string, opts: { credentials?: grpc.ServerCredentials } = {}): Promise<EchoServer> {
  const pkg = echoPackage();
  const server = new grpc.Server(LIMITS);
  const s: EchoServer = { name, port: 0, server, calls: 0, cancelled: 0, lastMetadata: undefined, close: () => server.forceShutdown() };
  const fail = (m: EchoMessage): grpc.ServiceError | null =>
    m.failCode ? Object.assign(new Error(`failing as asked: ${m.text ?? ''}`), { code: m.failCode, details: `failing as asked: ${m.text ?? ''}`, metadata: new grpc.Metadata() }) as grpc.ServiceError : null;
  server.addService((pkg.Echo as grpc.ServiceClientConstructor).service, {
    Unary(call: grpc.ServerUnaryCall<EchoMessage, EchoMessage>, cb: grpc.sendUnaryData<EchoMessage>) {
      s.calls++;
      s.lastMetadata = call.metadata;
      call.on('cancelled', () => s.cancelled++);
      const m = call.request;
      const { initial, trailing } = echoMetadata(call.metadata, name);
      const answer = (): void => {
        if (call.cancelled) return;
        const e = fail(m);
        if (e) {
          cb(e);
          return;
        }
        call.sendMetadata(initial);
        cb(null, { text: m.text, payload: m.payload, backend: name, count: m.count }, trailing);
      };
      if (m.delayMs) setTimeout(answer, m.delayMs);
      else answer();
    },
    ServerStream(call: grpc.ServerWritableStream<EchoMessage, EchoMessage>) {
      s.calls++;
      s.lastMetadata = call.metadata;
      call.on('cancelled', () => s.cancelled++);
      const m = call.request;
      const { initial, trailing } = echoMetadata(call.metadata, name);
      call.sendMetadata(initial);
      let i = 0;
      const next = (): void => {
        if (call.cancelled) return;
        if (i >= (m.count ?? 0)) {
          const e = fail(m);
          if (e) call.emit('error', e);
          else call.end(trailing);
          return;
        }
        call.write({ text: `${m.text}-${i}`, payload: m.payload, backend: name, count: i });
        i++;
        if (m.delayMs) setTimeout(next, m.delayMs);
        else setImmediate(next);
      };
      next();
    },
    ClientStream(call: grpc.ServerReadableStream<EchoMessage, EchoMessage>, cb: grpc.sendUnaryData<EchoMessage>) {
      s.calls++;
      s.lastMetadata = call.metadata;
      call.on('cancelled', () => s.cancelled++);
      let count = 0;
      let bytes = 0;
      call.on('data', (m: EchoMessage) => {
        count++;
        bytes += m.payload?.length ?? 0;
      });
      call.on('end', () => cb(null, { count, text: String(bytes), backend: name }));
    },
    Bidi(call: grpc.ServerDuplexStream<EchoMessage, EchoMessage>) {
      s.calls++;
      s.lastMetadata = call.metadata;
      call.on('cancelled', () => s.cancelled++);
      call.on('data', (m: EchoMessage) => call.write({ text: m.text, payload: m.payload, backend: name, count: m.count }));
      call.on('end', () => call.end());
    },
  });
  s.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', opts.credentials ?? grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return s;
}

export type EchoClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

export function echoClient(port: number): EchoClient {
  const pkg = echoPackage();
  const Ctor = pkg.Echo as grpc.ServiceClientConstructor;
  return new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
    ...LIMITS,
    'grpc.use_local_subchannel_pool': 1,
  }) as unknown as EchoClient;
}

export function unary(
  client: EchoClient,
  req: EchoMessage,
  opts: { metadata?: grpc.Metadata; deadlineMs?: number } = {},
): Promise<{ reply: EchoMessage; initial: grpc.Metadata | undefined; trailing: grpc.Metadata | undefined }> {
  return new Promise((resolve, reject) => {
    let initial: grpc.Metadata | undefined;
    let trailing: grpc.Metadata | undefined;
    const call = client.Unary(
      req,
      opts.metadata ?? new grpc.Metadata(),
      { deadline: Date.now() + (opts.deadlineMs ?? 10_000) },
      (err: grpc.ServiceError | null, reply: EchoMessage) => {
        if (err) reject(err);
        else setImmediate(() => resolve({ reply, initial, trailing }));
      },
    ) as grpc.ClientUnaryCall;
    call.on('metadata', (m: grpc.Metadata) => (initial = m));
    call.on('status', (st: grpc.StatusObject) => (trailing = st.metadata));
  });
}
