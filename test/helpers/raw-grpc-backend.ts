/**
 * A gRPC backend written directly on node:http2, for behaviour a gRPC library
 * will not produce on purpose: a response message followed by a failing
 * grpc-status in the trailers. `decide(n)` returns the status of call n.
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';

export interface RawGrpcBackend {
  port: number;
  calls: number;
  /** Values of grpc-previous-rpc-attempts seen. */
  previousAttempts: string[];
  close(): Promise<void>;
}

/** A gRPC message: 1-byte flag, 4-byte length, payload (an EchoMessage with `text` = field 1). */
export function grpcFrame(text: string): Buffer {
  const t = Buffer.from(text);
  const msg = Buffer.concat([Buffer.from([0x0a, t.length]), t]);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(msg.length, 1);
  return Buffer.concat([head, msg]);
}

export async function startRawGrpcBackend(decide: (call: number) => number, delayMs = 0): Promise<RawGrpcBackend> {
  const server = http2.createServer();
  const b: RawGrpcBackend = {
    port: 0,
    calls: 0,
    previousAttempts: [],
    close: () => new Promise<void>((r) => { server.close(() => r()); for (const s of sessions) s.destroy(); }),
  };
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => { sessions.add(s); s.on('close', () => sessions.delete(s)); });
  server.on('stream', (stream, headers) => {
    const n = b.calls++;
    const prev = headers['grpc-previous-rpc-attempts'];
    if (prev !== undefined) b.previousAttempts.push(String(prev));
    stream.on('error', () => {});
    stream.resume();
    stream.on('end', () => {
      const answer = (): void => {
        if (stream.destroyed) return;
        const status = decide(n);
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () =>
          stream.sendTrailers(status === 0 ? { 'grpc-status': '0' } : { 'grpc-status': String(status), 'grpc-message': 'failing on purpose' }),
        );
        // The body has started before the failing status arrives in the trailers.
        stream.end(grpcFrame(`reply-${n}`));
      };
      if (delayMs > 0) setTimeout(answer, delayMs);
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  b.port = (server.address() as AddressInfo).port;
  return b;
}
